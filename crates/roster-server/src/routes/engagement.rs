//! Workrooms and forms through the API (Roster extensions, and the contract's getWorkrooms,
//! getForms and getFormSubmissions).

use axum::{Json, extract::State};
use roster_store::Trust;

use super::ErrorResponses;
use crate::{
    error::ApiError,
    extract::AppRequest,
    state::AppState,
    wire::{
        Members, SuccessWithId,
        campaigns::{CampaignIdBody, CampaignMember, CampaignsBody, NewCampaignBody},
        contacts::ListBody,
        engagement::{
            FormMember, NewFormBody, NewWorkroomBody, SubmissionMember, SubmissionsBody,
            SubmitFormBody, WorkroomMember,
        },
    },
};

/// Create or update a workroom by your `id` (Roster extension).
#[utoipa::path(post, path = "/v2/ExternalApi/newWorkroom", tag = "engagement",
    request_body = NewWorkroomBody,
    responses((status = 200, body = SuccessWithId), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn new_workroom(
    State(state): State<AppState>,
    req: AppRequest<NewWorkroomBody>,
) -> Result<Json<SuccessWithId>, ApiError> {
    let id = state
        .store
        .upsert_workroom(&req.app, &req.body.parse()?)
        .await?;
    Ok(Json(SuccessWithId {
        status: "success",
        id,
    }))
}

/// The app's workrooms, oldest first.
#[utoipa::path(post, path = "/v2/ExternalApi/getWorkrooms", tag = "engagement",
    request_body = ListBody,
    responses((status = 200, body = Members<WorkroomMember>), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn get_workrooms(
    State(state): State<AppState>,
    req: AppRequest<ListBody>,
) -> Result<Json<Members<WorkroomMember>>, ApiError> {
    let workrooms = state.store.workrooms(&req.app, req.body.page()?).await?;
    Ok(Json(Members {
        members: workrooms.into_iter().map(WorkroomMember::from).collect(),
    }))
}

/// Create or update a form by your `id` (Roster extension). Its page is `/forms/{_id}`.
#[utoipa::path(post, path = "/v2/ExternalApi/newForm", tag = "engagement",
    request_body = NewFormBody,
    responses((status = 200, body = SuccessWithId), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn new_form(
    State(state): State<AppState>,
    req: AppRequest<NewFormBody>,
) -> Result<Json<SuccessWithId>, ApiError> {
    let id = state
        .store
        .upsert_form(&req.app, &req.body.parse()?)
        .await?;
    Ok(Json(SuccessWithId {
        status: "success",
        id,
    }))
}

/// The app's forms with their submission counts, oldest first.
#[utoipa::path(post, path = "/v2/ExternalApi/getForms", tag = "engagement",
    request_body = ListBody,
    responses((status = 200, body = Members<FormMember>), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn get_forms(
    State(state): State<AppState>,
    req: AppRequest<ListBody>,
) -> Result<Json<Members<FormMember>>, ApiError> {
    let forms = state.store.forms(&req.app, req.body.page()?).await?;
    let base = state
        .outbox
        .settings()
        .public_url
        .clone()
        .unwrap_or_default();
    let base = base.trim_end_matches('/');
    Ok(Json(Members {
        members: forms
            .into_iter()
            .map(|f| FormMember::new(f, base))
            .collect(),
    }))
}

/// A form's submissions, oldest first.
#[utoipa::path(post, path = "/v2/ExternalApi/getFormSubmissions", tag = "engagement",
    request_body = SubmissionsBody,
    responses((status = 200, body = Members<SubmissionMember>), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn get_form_submissions(
    State(state): State<AppState>,
    req: AppRequest<SubmissionsBody>,
) -> Result<Json<Members<SubmissionMember>>, ApiError> {
    let (form_id, since, page) = req.body.parse()?;
    let submissions = state
        .store
        .form_submissions(&req.app, &form_id, since, page)
        .await?;
    Ok(Json(Members {
        members: submissions
            .into_iter()
            .map(SubmissionMember::from)
            .collect(),
    }))
}

/// `{"status":"success","_id":..,"contact_id":..}` of submitForm.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Submitted {
    #[schema(example = "success")]
    pub status: &'static str,
    #[serde(rename = "_id")]
    pub id: String,
}

/// Submit a form for a member (Roster extension): validated like the hosted page, but an
/// unknown field is an error.
#[utoipa::path(post, path = "/v2/ExternalApi/submitForm", tag = "engagement",
    request_body = SubmitFormBody,
    responses((status = 200, body = Submitted), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn submit_form(
    State(state): State<AppState>,
    req: AppRequest<SubmitFormBody>,
) -> Result<Json<Submitted>, ApiError> {
    let values = req.body.values()?;
    let form_id = crate::wire::required("form_id", req.body.form_id.clone())?;
    let form = match state.store.form_by_public_id(&form_id).await? {
        Some((app, form)) if app == req.app => form,
        _ => return Err(ApiError::bad_request("form_id", "no form has this form_id")),
    };
    let submission = form
        .validate(&values, state.settings.default_region, true)
        .map_err(|errors| {
            let first = errors[0].field.clone();
            let message = errors
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join("; ");
            ApiError::bad_request(first, message)
        })?;
    let (id, _) = state
        .store
        .submit_form(&req.app, &form, &submission, Trust::App)
        .await?;
    Ok(Json(Submitted {
        status: "success",
        id,
    }))
}

/// `{"status":"success","campaign_status":..}` of sendCampaign.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CampaignStarted {
    #[schema(example = "success")]
    pub status: &'static str,
    /// `sending`, or `scheduled` until its `scheduled_date`.
    pub campaign_status: &'static str,
}

/// Create or update a draft campaign by your `id` (Roster extension).
#[utoipa::path(post, path = "/v2/ExternalApi/newCampaign", tag = "engagement",
    request_body = NewCampaignBody,
    responses((status = 200, body = SuccessWithId), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn new_campaign(
    State(state): State<AppState>,
    req: AppRequest<NewCampaignBody>,
) -> Result<Json<SuccessWithId>, ApiError> {
    let settings = state.outbox.app_settings(&req.app).await?;
    let campaign = req.body.parse(&settings)?;
    let id = state.store.upsert_campaign(&req.app, &campaign).await?;
    Ok(Json(SuccessWithId {
        status: "success",
        id,
    }))
}

/// Start a draft campaign: now, or at its `scheduled_date` (Roster extension).
#[utoipa::path(post, path = "/v2/ExternalApi/sendCampaign", tag = "engagement",
    request_body = CampaignIdBody,
    responses((status = 200, body = CampaignStarted), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn send_campaign(
    State(state): State<AppState>,
    req: AppRequest<CampaignIdBody>,
) -> Result<Json<CampaignStarted>, ApiError> {
    let id = crate::wire::required("id", req.body.id)?;
    let status = state.store.start_campaign(&req.app, &id).await?;
    state.outbox.wake_fan_out();
    Ok(Json(CampaignStarted {
        status: "success",
        campaign_status: status.as_str(),
    }))
}

/// Stop a campaign: no more messages are queued, and queued ones fail as cancelled
/// (Roster extension).
#[utoipa::path(post, path = "/v2/ExternalApi/cancelCampaign", tag = "engagement",
    request_body = CampaignIdBody,
    responses((status = 200, body = crate::wire::ResultSuccess), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn cancel_campaign(
    State(state): State<AppState>,
    req: AppRequest<CampaignIdBody>,
) -> Result<Json<crate::wire::ResultSuccess>, ApiError> {
    let id = crate::wire::required("id", req.body.id)?;
    state.store.cancel_campaign(&req.app, &id).await?;
    Ok(Json(crate::wire::ResultSuccess::new()))
}

/// The app's campaigns with counts from the outbox, oldest first.
#[utoipa::path(post, path = "/v2/ExternalApi/getCampaigns", tag = "engagement",
    request_body = CampaignsBody,
    responses((status = 200, body = Members<CampaignMember>), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn get_campaigns(
    State(state): State<AppState>,
    req: AppRequest<CampaignsBody>,
) -> Result<Json<Members<CampaignMember>>, ApiError> {
    let (status, channel, page) = req.body.parse()?;
    let campaigns = state
        .store
        .campaigns(&req.app, status, channel, page)
        .await?;
    Ok(Json(Members {
        members: campaigns.into_iter().map(CampaignMember::from).collect(),
    }))
}
