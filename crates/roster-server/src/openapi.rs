//! `/openapi.json`, generated from the handlers' and wire types' annotations.

use std::sync::OnceLock;

use utoipa::{
    Modify, OpenApi,
    openapi::security::{ApiKey, ApiKeyValue, SecurityScheme},
};

use crate::routes::{contacts, engagement, events, legacy, messaging, studio, webhooks};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Roster: Gleantap External API v2",
        description = "Roster serves the Gleantap External API v2 wire-for-wire. Every endpoint is POST with a JSON body; authenticate with X-API-KEY and X-SECRET-KEY. While an app's rate is limited, every answer to a request that passed the rate check carries RateLimit-Limit (the burst), RateLimit-Remaining (requests left back to back) and RateLimit-Reset (whole seconds until the bucket is full again; on a 429, until a request is allowed again)."
    ),
    paths(
        contacts::new_contact,
        contacts::get_customers,
        contacts::get_optin_customers,
        contacts::get_optout_customers,
        contacts::remove_contact,
        contacts::merge_contacts,
        contacts::get_attributes,
        events::new_event,
        events::get_customer_events,
        events::get_attribute_events,
        studio::add_memberships,
        studio::new_location,
        studio::get_locations,
        studio::new_class,
        studio::remove_class,
        studio::get_class_schedule,
        messaging::send_sms,
        messaging::send_email,
        messaging::optin,
        messaging::get_messages,
        messaging::get_consent_history,
        engagement::new_workroom,
        engagement::get_workrooms,
        engagement::new_form,
        engagement::get_forms,
        engagement::get_form_submissions,
        engagement::submit_form,
        engagement::new_campaign,
        engagement::send_campaign,
        engagement::cancel_campaign,
        engagement::get_campaigns,
        webhooks::twilio_inbound,
        webhooks::twilio_status,
        legacy::get_optin_customers,
        legacy::get_optout_customers,
    ),
    modifiers(&KeyHeaders)
)]
pub struct ApiDoc;

struct KeyHeaders;

impl Modify for KeyHeaders {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, header) in [("api_key", "X-API-KEY"), ("secret_key", "X-SECRET-KEY")] {
            components.add_security_scheme(
                name,
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new(header))),
            );
        }
    }
}

/// The document, rendered once.
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        ApiDoc::openapi()
            .to_json()
            .unwrap_or_else(|err| format!("{{\"error\":\"{err}\"}}"))
    })
}
