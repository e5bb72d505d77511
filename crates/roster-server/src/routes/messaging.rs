//! Sending (sendSmsNotification, sendEmailNotification, optin) and the message and consent
//! records (getMessages, getConsentHistory: Roster extensions).

use axum::{
    Json,
    extract::{Path, State},
};
use roster_delivery::Submitted;
use roster_domain::{
    AppId,
    messaging::settings::{EmailProvider, SmsProvider},
};

use super::ErrorResponses;
use crate::{
    error::ApiError,
    extract::{ApiJson, AppRequest, Authenticated, require_own_app},
    state::AppState,
    wire::{
        Members,
        messaging::{
            ConsentHistoryBody, ConsentMember, EmailSent, MessageMember, MessagesBody, OptinBody,
            SendEmailBody, SendSmsBody, SmsSent,
        },
    },
};

/// `{"status":"success"}` of optin.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct OptinStarted {
    #[schema(example = "success")]
    pub status: &'static str,
}

/// The app of a `/{app_id}` path, checked against the keys; a body `app_id`, when given,
/// must name the same app.
fn path_app(auth: &Authenticated, path: &str, body: Option<&str>) -> Result<AppId, ApiError> {
    let app = require_own_app(auth, Some(path))?;
    if let Some(body) = body {
        require_own_app(auth, Some(body))?;
    }
    Ok(app)
}

/// What the response reports: the provider's id when it answered in time, else Roster's.
fn delivery(submitted: &Submitted) -> (String, &'static str) {
    match submitted {
        Submitted::Sent { provider_id, .. } => (provider_id.clone(), "sent"),
        Submitted::Queued { message } => (message.id.clone(), "queued"),
    }
}

/// Send an SMS to a number that has opted in.
#[utoipa::path(post, path = "/v2/ExternalApi/sendSmsNotification/{app_id}", tag = "messaging",
    params(("app_id" = String, Path, description = "Your app id")),
    request_body = SendSmsBody,
    responses((status = 200, body = SmsSent),
        (status = 500, description = "The provider refused the message permanently", body = crate::error::ErrorBody),
        ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn send_sms(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(app_id): Path<String>,
    ApiJson(body): ApiJson<SendSmsBody>,
) -> Result<Json<SmsSent>, ApiError> {
    let app = path_app(&auth, &app_id, body.app_id.as_deref())?;
    let settings = state.outbox.app_settings(&app).await?;
    let outgoing = body.parse(state.settings.default_region, &settings)?;
    let submitted = state.outbox.send(&app, &outgoing).await?;
    let (service_message_id, delivery_status) = delivery(&submitted);
    let message = submitted.message();
    Ok(Json(SmsSent {
        status: true,
        message: match delivery_status {
            "sent" => "Message sent".into(),
            _ => "Message accepted; it will be delivered shortly".into(),
        },
        phone: message.to.clone(),
        from: message.from.clone(),
        service_type: match settings.sms_provider() {
            SmsProvider::Twilio => "twilio",
            SmsProvider::Log => "log",
        },
        service_message_id,
        id: message.id.clone(),
        delivery_status,
    }))
}

/// Send an email (to any address that has not opted out).
#[utoipa::path(post, path = "/v2/ExternalApi/sendEmailNotification/{app_id}", tag = "messaging",
    params(("app_id" = String, Path, description = "Your app id")),
    request_body = SendEmailBody,
    responses((status = 200, body = EmailSent),
        (status = 500, description = "The provider refused the message permanently", body = crate::error::ErrorBody),
        ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn send_email(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(app_id): Path<String>,
    ApiJson(body): ApiJson<SendEmailBody>,
) -> Result<Json<EmailSent>, ApiError> {
    let app = path_app(&auth, &app_id, body.app_id.as_deref())?;
    let settings = state.outbox.app_settings(&app).await?;
    let outgoing = body.parse(&settings)?;
    let submitted = state.outbox.send(&app, &outgoing).await?;
    let (service_message_id, delivery_status) = delivery(&submitted);
    Ok(Json(EmailSent {
        status: true,
        message: match delivery_status {
            "sent" => "Email sent".into(),
            _ => "Email accepted; it will be delivered shortly".into(),
        },
        email: submitted.message().to.clone(),
        service_type: match settings.email_provider() {
            EmailProvider::Smtp => "smtp",
            EmailProvider::Log => "log",
        },
        service_message_id,
        id: submitted.message().id.clone(),
        delivery_status,
    }))
}

/// Start a double opt-in: the contact is sent the app's opt-in request and is opted in
/// when they reply YES.
#[utoipa::path(post, path = "/v2/ExternalApi/optin", tag = "messaging",
    request_body = OptinBody,
    responses((status = 200, body = OptinStarted), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn optin(
    State(state): State<AppState>,
    req: AppRequest<OptinBody>,
) -> Result<Json<OptinStarted>, ApiError> {
    let settings = state.outbox.app_settings(&req.app).await?;
    let request = req.body.parse(state.settings.default_region, &settings)?;
    state.outbox.start_optin(&req.app, &request).await?;
    Ok(Json(OptinStarted { status: "success" }))
}

/// Messages sent and received, oldest first (Roster extension).
#[utoipa::path(post, path = "/v2/ExternalApi/getMessages", tag = "messaging",
    request_body = MessagesBody,
    responses((status = 200, body = Members<MessageMember>), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn get_messages(
    State(state): State<AppState>,
    req: AppRequest<MessagesBody>,
) -> Result<Json<Members<MessageMember>>, ApiError> {
    let (filter, page) = req.body.parse()?;
    let messages = match filter {
        Some(filter) => state.store.messages(&req.app, &filter, page).await?,
        None => Vec::new(),
    };
    Ok(Json(Members {
        members: messages.into_iter().map(MessageMember::from).collect(),
    }))
}

/// A contact's consent changes with their source, oldest first (Roster extension).
#[utoipa::path(post, path = "/v2/ExternalApi/getConsentHistory", tag = "messaging",
    request_body = ConsentHistoryBody,
    responses((status = 200, body = Members<ConsentMember>), ErrorResponses),
    security(("api_key" = [], "secret_key" = [])))]
pub async fn get_consent_history(
    State(state): State<AppState>,
    req: AppRequest<ConsentHistoryBody>,
) -> Result<Json<Members<ConsentMember>>, ApiError> {
    let raw = crate::wire::required("_id", req.body.id)?;
    let history = match roster_domain::ContactId::parse("_id", &raw) {
        Ok(id) => state
            .store
            .consent_history(&req.app, &id)
            .await?
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    Ok(Json(Members {
        members: history.into_iter().map(ConsentMember::from).collect(),
    }))
}
