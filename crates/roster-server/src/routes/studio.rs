//! Locations, classes and memberships (contract Part B).

use axum::{Json, extract::State};

use super::ErrorResponses;
use crate::{
    error::ApiError,
    extract::AppRequest,
    state::AppState,
    wire::{
        Members, ResultSuccess, SuccessWithId,
        activity_members::{ClassMember, LocationMember},
        contacts::ListBody,
        studio::{
            AddMembershipsBody, NewClassBody, NewLocationBody, RemoveClassBody, ScheduleBody,
        },
    },
};

/// `{"status":"success","count":N}` of addMemberships.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MembershipsAdded {
    #[schema(example = "success")]
    pub status: &'static str,
    pub count: usize,
}

/// Create or update a location by your `id`.
#[utoipa::path(post, path = "/v2/ExternalApi/newLocation", tag = "studio",
    request_body = NewLocationBody,
    responses((status = 200, body = SuccessWithId), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn new_location(
    State(state): State<AppState>,
    req: AppRequest<NewLocationBody>,
) -> Result<Json<SuccessWithId>, ApiError> {
    let id = state
        .store
        .upsert_location(&req.app, &req.body.parse()?)
        .await?;
    Ok(Json(SuccessWithId {
        status: "success",
        id,
    }))
}

/// The app's locations, oldest first.
#[utoipa::path(post, path = "/v2/ExternalApi/getLocations", tag = "studio",
    request_body = ListBody,
    responses((status = 200, body = Members<LocationMember>), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn get_locations(
    State(state): State<AppState>,
    req: AppRequest<ListBody>,
) -> Result<Json<Members<LocationMember>>, ApiError> {
    let locations = state.store.locations(&req.app, req.body.page()?).await?;
    Ok(Json(Members {
        members: locations.into_iter().map(LocationMember::from).collect(),
    }))
}

/// Create or update a class by your `id`.
#[utoipa::path(post, path = "/v2/ExternalApi/newClass", tag = "studio",
    request_body = NewClassBody,
    responses((status = 200, body = SuccessWithId), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn new_class(
    State(state): State<AppState>,
    req: AppRequest<NewClassBody>,
) -> Result<Json<SuccessWithId>, ApiError> {
    let id = state
        .store
        .upsert_class(&req.app, &req.body.parse()?)
        .await?;
    Ok(Json(SuccessWithId {
        status: "success",
        id,
    }))
}

/// Delete a class by your `id`.
#[utoipa::path(post, path = "/v2/ExternalApi/removeClass", tag = "studio",
    request_body = RemoveClassBody,
    responses((status = 200, body = ResultSuccess), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn remove_class(
    State(state): State<AppState>,
    req: AppRequest<RemoveClassBody>,
) -> Result<Json<ResultSuccess>, ApiError> {
    state
        .store
        .remove_class(&req.app, &req.body.class_id()?)
        .await?;
    Ok(Json(ResultSuccess::new()))
}

/// Classes by start, filtered by location and start date range.
#[utoipa::path(post, path = "/v2/ExternalApi/getClassSchedule", tag = "studio",
    request_body = ScheduleBody,
    responses((status = 200, body = Members<ClassMember>), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn get_class_schedule(
    State(state): State<AppState>,
    req: AppRequest<ScheduleBody>,
) -> Result<Json<Members<ClassMember>>, ApiError> {
    let (query, page) = req.body.parse()?;
    let classes = state.store.class_schedule(&req.app, &query, page).await?;
    Ok(Json(Members {
        members: classes.into_iter().map(ClassMember::from).collect(),
    }))
}

/// Upsert a contact's memberships by membership `id`.
#[utoipa::path(post, path = "/v2/ExternalApi/addMemberships", tag = "studio",
    request_body = AddMembershipsBody,
    responses((status = 200, body = MembershipsAdded), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn add_memberships(
    State(state): State<AppState>,
    req: AppRequest<AddMembershipsBody>,
) -> Result<Json<MembershipsAdded>, ApiError> {
    let (identity, memberships) = req.body.parse(state.settings.default_region)?;
    let count = state
        .store
        .add_memberships(&req.app, &identity, &memberships)
        .await?;
    Ok(Json(MembershipsAdded {
        status: "success",
        count,
    }))
}
