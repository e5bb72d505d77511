//! Contact endpoints (contract Part A: getCustomers, getOptinCustomers, getOptoutCustomers,
//! newContact, removeContact, mergeContacts; Part B: getAttributes).

use axum::{Json, extract::State};
use roster_domain::attributes::BUILT_IN;
use roster_store::Include;

use super::ErrorResponses;
use crate::{
    error::ApiError,
    extract::AppRequest,
    state::AppState,
    wire::{
        Members, ResultSuccess, StatusMessage, SuccessWithId,
        contacts::{
            AppOnlyBody, GetCustomersBody, ListBody, MergeContactsBody, NewContactBody,
            OptoutListBody, RemoveContactBody,
        },
        members::{AttributeMember, CustomerMember, OptinMember, OptoutMember},
    },
};

/// Create or update a contact by the identity rule.
#[utoipa::path(post, path = "/v2/ExternalApi/newContact", tag = "contacts",
    request_body = NewContactBody,
    responses((status = 200, body = SuccessWithId), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn new_contact(
    State(state): State<AppState>,
    req: AppRequest<NewContactBody>,
) -> Result<Json<SuccessWithId>, ApiError> {
    let request = req.body.parse(state.settings.default_region)?;
    let id = state.store.upsert_contact(&req.app, &request).await?;
    Ok(Json(SuccessWithId {
        status: "success",
        id: id.to_string(),
    }))
}

/// List contacts, filtered; filters combine with AND.
#[utoipa::path(post, path = "/v2/ExternalApi/getCustomers", tag = "contacts",
    request_body = GetCustomersBody,
    responses((status = 200, body = Members<CustomerMember>), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn get_customers(
    State(state): State<AppState>,
    req: AppRequest<GetCustomersBody>,
) -> Result<Json<Members<CustomerMember>>, ApiError> {
    let query = req.body.parse(state.settings.default_region)?;
    let Some(filter) = query.filter else {
        return Ok(Json(Members {
            members: Vec::new(),
        }));
    };
    let include = Include {
        fulldata: query.fulldata,
        events: query.events,
    };
    let customers = state
        .store
        .find_customers(&req.app, &filter, query.page, include)
        .await?;
    let members = customers
        .into_iter()
        .map(|(contact, related)| {
            CustomerMember::new(contact, related, query.fulldata, query.events)
        })
        .collect();
    Ok(Json(Members { members }))
}

/// Contacts currently opted in to SMS.
#[utoipa::path(post, path = "/v2/ExternalApi/getOptinCustomers", tag = "contacts",
    request_body = ListBody,
    responses((status = 200, body = Members<OptinMember>), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn get_optin_customers(
    State(state): State<AppState>,
    req: AppRequest<ListBody>,
) -> Result<Json<Members<OptinMember>>, ApiError> {
    let contacts = state.store.sms_optins(&req.app, req.body.page()?).await?;
    Ok(Json(Members {
        members: contacts.into_iter().map(OptinMember::from).collect(),
    }))
}

/// Contacts opted out of email, SMS, or either.
#[utoipa::path(post, path = "/v2/ExternalApi/getOptoutCustomers", tag = "contacts",
    request_body = OptoutListBody,
    responses((status = 200, body = Members<OptoutMember>), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn get_optout_customers(
    State(state): State<AppState>,
    req: AppRequest<OptoutListBody>,
) -> Result<Json<Members<OptoutMember>>, ApiError> {
    let (channel, page) = req.body.parse()?;
    let contacts = state.store.optouts(&req.app, channel, page).await?;
    Ok(Json(Members {
        members: contacts
            .into_iter()
            .map(|c| OptoutMember::new(c, channel))
            .collect(),
    }))
}

/// Delete a contact and what hangs off it.
#[utoipa::path(post, path = "/v2/ExternalApi/removeContact", tag = "contacts",
    request_body = RemoveContactBody,
    responses((status = 200, body = ResultSuccess), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn remove_contact(
    State(state): State<AppState>,
    req: AppRequest<RemoveContactBody>,
) -> Result<Json<ResultSuccess>, ApiError> {
    state
        .store
        .remove_contact(&req.app, &req.body.contact_id()?)
        .await?;
    Ok(Json(ResultSuccess::new()))
}

/// Merge `to_contact` into `from_contact`, which survives.
#[utoipa::path(post, path = "/v2/ExternalApi/mergeContacts", tag = "contacts",
    request_body = MergeContactsBody,
    responses((status = 200, body = StatusMessage), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn merge_contacts(
    State(state): State<AppState>,
    req: AppRequest<MergeContactsBody>,
) -> Result<Json<StatusMessage>, ApiError> {
    let (survivor, retired) = req.body.parse()?;
    state
        .store
        .merge_contacts(&req.app, &survivor, &retired)
        .await?;
    Ok(Json(StatusMessage {
        status: true,
        message: "Contacts merged successfully".into(),
    }))
}

/// Every contact attribute, built-in and custom.
#[utoipa::path(post, path = "/v2/ExternalApi/getAttributes", tag = "contacts",
    request_body = AppOnlyBody,
    responses((status = 200, body = Members<AttributeMember>), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn get_attributes(
    State(state): State<AppState>,
    req: AppRequest<AppOnlyBody>,
) -> Result<Json<Members<AttributeMember>>, ApiError> {
    let custom = state.store.custom_attributes(&req.app).await?;
    let system = BUILT_IN.iter().map(|(name, label, kind)| AttributeMember {
        name: (*name).into(),
        label: (*label).into(),
        kind: kind.as_str(),
        source: "system",
    });
    let custom = custom.into_iter().map(|a| AttributeMember {
        label: a.name.clone(),
        name: a.name,
        kind: a.kind.as_str(),
        source: "custom",
    });
    Ok(Json(Members {
        members: system.chain(custom).collect(),
    }))
}
