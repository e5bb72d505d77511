//! Event endpoints: newEvent (contract Part A), getCustomerEvents and getAttributeEvents
//! (Part B).

use axum::{Json, extract::State};

use super::ErrorResponses;
use crate::{
    error::ApiError,
    extract::AppRequest,
    state::AppState,
    wire::{
        Members,
        activity_members::{EventMember, EventTypeMember},
        contacts::ListBody,
        events::{CustomerEventsBody, NewEventBody},
    },
};

/// `{"result":"success"}` of newEvent.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct EventRecorded {
    #[schema(example = "success")]
    pub result: &'static str,
}

/// Record a visit, booking, purchase or any event; re-sending an `id` updates that event.
#[utoipa::path(post, path = "/v2/ExternalApi/newEvent", tag = "events",
    request_body = NewEventBody,
    responses((status = 200, body = EventRecorded), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn new_event(
    State(state): State<AppState>,
    req: AppRequest<NewEventBody>,
) -> Result<Json<EventRecorded>, ApiError> {
    let event = req.body.parse(state.settings.default_region)?;
    state.store.record_event(&req.app, &event).await?;
    Ok(Json(EventRecorded { result: "success" }))
}

/// A contact's events, newest first.
#[utoipa::path(post, path = "/v2/ExternalApi/getCustomerEvents", tag = "events",
    request_body = CustomerEventsBody,
    responses((status = 200, body = Members<EventMember>), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn get_customer_events(
    State(state): State<AppState>,
    req: AppRequest<CustomerEventsBody>,
) -> Result<Json<Members<EventMember>>, ApiError> {
    let (identity, query, page) = req.body.parse(state.settings.default_region)?;
    let Some(identity) = identity else {
        return Ok(Json(Members {
            members: Vec::new(),
        }));
    };
    let events = state
        .store
        .customer_events(&req.app, &identity, &query, page)
        .await?;
    Ok(Json(Members {
        members: events.into_iter().map(EventMember::from).collect(),
    }))
}

/// The catalogue of event types: names, `event_data` fields, counts and dates.
#[utoipa::path(post, path = "/v2/ExternalApi/getAttributeEvents", tag = "events",
    request_body = ListBody,
    responses((status = 200, body = Members<EventTypeMember>), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn get_attribute_events(
    State(state): State<AppState>,
    req: AppRequest<ListBody>,
) -> Result<Json<Members<EventTypeMember>>, ApiError> {
    let types = state
        .store
        .event_catalogue(&req.app, req.body.page()?)
        .await?;
    Ok(Json(Members {
        members: types.into_iter().map(EventTypeMember::from).collect(),
    }))
}
