//! The router: every path of the contract, plus operations endpoints, behind the shared
//! layers (request id, tracing, metrics, body limit, panic guard); the API paths also
//! behind the concurrency bound and the request timeout (`protection`).

use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{get, post},
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
};
use utoipa::IntoResponses;

use crate::{
    error::{ApiError, ErrorBody},
    protection,
    state::AppState,
    telemetry,
};

pub mod contacts;
pub mod engagement;
pub mod events;
pub mod form_page;
pub mod legacy;
pub mod messaging;
pub mod ops;
pub mod studio;
pub mod webhooks;

/// The error responses every authenticated endpoint may give.
#[derive(IntoResponses)]
#[allow(dead_code)] // documents responses for the OpenAPI document only
pub enum ErrorResponses {
    /// Bad input: the body names the field.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// Missing or wrong keys.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// Valid keys used with another app's `app_id`.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// Body too large, or one field of it (a string, array or object): `field` names it.
    #[response(status = 413)]
    PayloadTooLarge(ErrorBody),
    /// Body not JSON.
    #[response(status = 415)]
    UnsupportedMediaType(ErrorBody),
    /// The app's rate limit is spent: wait `Retry-After` seconds (also in `RateLimit-Reset`;
    /// `RateLimit-Limit` is the burst, `RateLimit-Remaining` 0).
    #[response(status = 429, headers(
        ("Retry-After" = u64, description = "Seconds to wait, at least 1"),
        ("RateLimit-Limit" = u32, description = "Requests allowed back to back"),
        ("RateLimit-Remaining" = u32, description = "Always 0 on a 429"),
        ("RateLimit-Reset" = u64, description = "Seconds until a request is allowed again")))]
    TooManyRequests(ErrorBody),
    /// Overloaded (every request slot taken), timed out, the database busy, or shutting
    /// down: retry after `Retry-After` seconds.
    #[response(status = 503, headers(("Retry-After" = u64, description = "Seconds to wait")))]
    Unavailable(ErrorBody),
}

const V2: &str = "/v2/ExternalApi";

pub fn router(state: AppState) -> Router {
    let max_body = state.settings.max_body_bytes;
    let v2 = Router::new()
        .route("/newContact", post(contacts::new_contact))
        .route("/getCustomers", post(contacts::get_customers))
        .route("/getOptinCustomers", post(contacts::get_optin_customers))
        .route("/getOptoutCustomers", post(contacts::get_optout_customers))
        .route("/removeContact", post(contacts::remove_contact))
        .route("/mergeContacts", post(contacts::merge_contacts))
        .route("/getAttributes", post(contacts::get_attributes))
        .route("/newEvent", post(events::new_event))
        .route("/getCustomerEvents", post(events::get_customer_events))
        .route("/getAttributeEvents", post(events::get_attribute_events))
        .route("/addMemberships", post(studio::add_memberships))
        .route("/newLocation", post(studio::new_location))
        .route("/getLocations", post(studio::get_locations))
        .route("/newClass", post(studio::new_class))
        .route("/removeClass", post(studio::remove_class))
        .route("/getClassSchedule", post(studio::get_class_schedule))
        .route("/sendSmsNotification/{app_id}", post(messaging::send_sms))
        .route(
            "/sendEmailNotification/{app_id}",
            post(messaging::send_email),
        )
        .route("/optin", post(messaging::optin))
        .route("/getMessages", post(messaging::get_messages))
        .route("/getConsentHistory", post(messaging::get_consent_history))
        .route("/newWorkroom", post(engagement::new_workroom))
        .route("/getWorkrooms", post(engagement::get_workrooms))
        .route("/newForm", post(engagement::new_form))
        .route("/getForms", post(engagement::get_forms))
        .route(
            "/getFormSubmissions",
            post(engagement::get_form_submissions),
        )
        .route("/submitForm", post(engagement::submit_form))
        .route("/newCampaign", post(engagement::new_campaign))
        .route("/sendCampaign", post(engagement::send_campaign))
        .route("/cancelCampaign", post(engagement::cancel_campaign))
        .route("/getCampaigns", post(engagement::get_campaigns));
    let v1 = Router::new()
        .route("/getOptinCustomers", post(legacy::get_optin_customers))
        .route("/getOptoutCustomers", post(legacy::get_optout_customers));
    // The concurrency bound and the timeout cover what clients send; the operations
    // endpoints stay outside so probes and scrapes answer while the API is saturated.
    // Keyed API calls, Twilio's webhooks and the public form pages each get their own
    // slots: anyone can post slow bodies to a form page or a webhook URL, and that must
    // neither turn integrators away nor make Twilio drop an inbound STOP.
    let guarded = |router: Router<AppState>| {
        router.route_layer(axum::middleware::from_fn_with_state(
            protection::Guard::new(&state.settings.protection, state.rate_limiter.is_on()),
            protection::guard,
        ))
    };
    let keyed = guarded(Router::new().nest(V2, v2).nest("/v1/ExternalApi", v1));
    let webhooks = guarded(
        Router::new()
            .route(
                "/webhooks/twilio/{app_id}/inbound",
                post(webhooks::twilio_inbound),
            )
            .route(
                "/webhooks/twilio/{app_id}/status",
                post(webhooks::twilio_status),
            ),
    );
    let forms = guarded(Router::new().route(
        "/forms/{form_id}",
        get(form_page::show).post(form_page::submit),
    ));
    let api = keyed.merge(webhooks).merge(forms);
    api.route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi_json))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn(telemetry::track_request))
        .layer(CatchPanicLayer::custom(telemetry::panic_response))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(telemetry::trace_layer())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
