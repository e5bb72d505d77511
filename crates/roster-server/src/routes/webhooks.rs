//! Twilio's callbacks: inbound SMS and delivery status. They carry no API keys; each is
//! verified by `X-Twilio-Signature` against the app's auth token, and refused (403) when
//! it does not match.

use axum::{
    body::Bytes,
    extract::{OriginalUri, Path, State},
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use roster_delivery::signature;
use roster_domain::{AppId, Phone, messaging::ProviderStatus};
use roster_store::{Inbound, MessageRef};

use crate::{error::ApiError, state::AppState};

type Params = Vec<(String, String)>;

/// An empty TwiML answer: replies go through the outbox, where they are recorded.
fn empty_twiml() -> Response {
    (
        [(header::CONTENT_TYPE, "text/xml")],
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>",
    )
        .into_response()
}

/// An inbound SMS: keywords change consent and are answered; any other text is stored
/// as a message on the contact.
#[utoipa::path(post, path = "/webhooks/twilio/{app_id}/inbound", tag = "webhooks",
    params(("app_id" = String, Path, description = "Your app id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "Twilio's inbound message parameters (From, To, Body, MessageSid)"),
    responses((status = 200, description = "Empty TwiML", content_type = "text/xml"),
        (status = 400, body = crate::error::ErrorBody),
        (status = 403, description = "Signature missing or wrong", body = crate::error::ErrorBody)))]
pub async fn twilio_inbound(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (app, params) = verified(&state, &app_id, &uri, &headers, &body).await?;
    let from = param(&params, "From")?;
    let from = Phone::parse("From", &from, state.settings.default_region)?;
    let inbound = Inbound {
        from: from.as_str().to_string(),
        to: param(&params, "To").unwrap_or_default(),
        body: param(&params, "Body").unwrap_or_default(),
        provider_id: param(&params, "MessageSid").ok(),
    };
    state.outbox.receive_sms(&app, &inbound).await?;
    Ok(empty_twiml())
}

/// A delivery status callback: moves the message to delivered or failed.
#[utoipa::path(post, path = "/webhooks/twilio/{app_id}/status", tag = "webhooks",
    params(("app_id" = String, Path, description = "Your app id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "Twilio's status parameters (MessageSid, MessageStatus, ErrorCode)"),
    responses((status = 200, description = "Empty TwiML", content_type = "text/xml"),
        (status = 400, body = crate::error::ErrorBody),
        (status = 403, description = "Signature missing or wrong", body = crate::error::ErrorBody)))]
pub async fn twilio_status(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (app, params) = verified(&state, &app_id, &uri, &headers, &body).await?;
    let sid = param(&params, "MessageSid")?;
    let status = param(&params, "MessageStatus")?;
    let error_code = param(&params, "ErrorCode").ok();
    // Roster asks for callbacks at `...?message_id=ID` (signed with the rest of the URL),
    // so a callback that beats the provider's own answer still finds its message.
    let roster_id = uri.query().and_then(|query| {
        serde_urlencoded::from_str::<Params>(query)
            .ok()?
            .into_iter()
            .find(|(key, _)| key == "message_id")
            .map(|(_, value)| value)
    });
    let message = match &roster_id {
        Some(id) => MessageRef::Roster(id),
        None => MessageRef::Provider(&sid),
    };
    if let Some(status) = ProviderStatus::of_twilio(&status, error_code.as_deref()) {
        state.store.provider_status(&app, &message, &status).await?;
    }
    Ok(empty_twiml())
}

/// The app and the form parameters, if the signature is Twilio's for this app.
async fn verified(
    state: &AppState,
    app_id: &str,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(AppId, Params), ApiError> {
    let refuse = |why: &str| ApiError::Forbidden(why.to_string());
    let app = AppId::new(app_id);
    if !state.store.app_exists(&app).await? {
        return Err(refuse("the webhook signature does not match"));
    }
    let settings = state.outbox.app_settings(&app).await?;
    let token = settings.twilio_auth_token.as_deref().ok_or_else(|| {
        refuse("no Twilio auth token is configured for this app, so webhooks cannot be verified")
    })?;
    let signature_header = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| refuse("X-Twilio-Signature is missing"))?;
    let params: Params = crate::protection::form::parse(body)?;
    let url = format!(
        "{}{}",
        public_base(state, headers),
        uri.path_and_query().map_or("", |p| p.as_str())
    );
    if !signature::verify(token, &url, &params, signature_header) {
        return Err(refuse("the webhook signature does not match"));
    }
    Ok((app, params))
}

/// The URL Twilio called, as it signed it: the configured public URL, else this request's
/// host over plain HTTP.
fn public_base(state: &AppState, headers: &HeaderMap) -> String {
    match &state.outbox.settings().public_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}")
        }
    }
}

fn param(params: &Params, name: &str) -> Result<String, ApiError> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
        .ok_or_else(|| ApiError::bad_request(name, format!("{name} is required")))
}
