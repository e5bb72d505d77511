//! Property test of the JSON extractor: whatever body arrives (any JSON value, or bytes that
//! are not JSON at all), parsing it into any request body gives the body or an error that
//! answers 4xx in the API's error style, never a panic and never a 5xx.

use axum::response::IntoResponse;
use proptest::prelude::*;
use roster_server::{
    JsonLimits,
    extract::parse_json,
    wire::{campaigns, contacts, engagement, events, messaging, studio},
};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Field names the bodies use, so that generated objects reach the field deserializers.
const NAMES: &[&str] = &[
    "app_id",
    "_id",
    "id",
    "user_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "dob",
    "created_date",
    "tags",
    "tag_action",
    "optin_sms",
    "optout_email",
    "limit",
    "offset",
    "fulldata",
    "events",
    "type",
    "event_type",
    "event_date",
    "event_time",
    "event_data",
    "is_visit",
    "is_purchase",
    "memberships",
    "price",
    "capacity",
    "start_date",
    "end_date",
    "start_time",
    "location_id",
    "location_ids",
    "fields",
    "required",
    "options",
    "form_id",
    "data",
    "to_number",
    "message",
    "to_email",
    "subject",
    "html",
    "text",
    "channel",
    "status",
    "audience",
    "tags_any",
    "tags_all",
    "scheduled_date",
    "from_contact",
    "to_contact",
    "name",
    "timezone",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(NAMES).prop_map(str::to_string),
        1 => any::<String>(),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        "[0-9 :\\-.,a-zA-Z+@]{0,24}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..12)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn check<T: DeserializeOwned>(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Err(err) = parse_json::<T>(bytes, &JsonLimits::default()) {
        let status = err.into_response().status();
        prop_assert!(
            status.is_client_error(),
            "{status} for {:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    Ok(())
}

fn every_body(bytes: &[u8]) -> Result<(), TestCaseError> {
    check::<contacts::NewContactBody>(bytes)?;
    check::<contacts::GetCustomersBody>(bytes)?;
    check::<contacts::ListBody>(bytes)?;
    check::<contacts::OptoutListBody>(bytes)?;
    check::<contacts::RemoveContactBody>(bytes)?;
    check::<contacts::MergeContactsBody>(bytes)?;
    check::<contacts::AppOnlyBody>(bytes)?;
    check::<events::NewEventBody>(bytes)?;
    check::<events::CustomerEventsBody>(bytes)?;
    check::<studio::NewLocationBody>(bytes)?;
    check::<studio::NewClassBody>(bytes)?;
    check::<studio::RemoveClassBody>(bytes)?;
    check::<studio::ScheduleBody>(bytes)?;
    check::<studio::AddMembershipsBody>(bytes)?;
    check::<messaging::SendSmsBody>(bytes)?;
    check::<messaging::SendEmailBody>(bytes)?;
    check::<messaging::OptinBody>(bytes)?;
    check::<messaging::MessagesBody>(bytes)?;
    check::<messaging::ConsentHistoryBody>(bytes)?;
    check::<engagement::NewWorkroomBody>(bytes)?;
    check::<engagement::NewFormBody>(bytes)?;
    check::<engagement::SubmissionsBody>(bytes)?;
    check::<engagement::SubmitFormBody>(bytes)?;
    check::<campaigns::NewCampaignBody>(bytes)?;
    check::<campaigns::CampaignIdBody>(bytes)?;
    check::<campaigns::CampaignsBody>(bytes)?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_json_body_parses_or_is_a_client_error(value in json()) {
        every_body(&serde_json::to_vec(&value).unwrap())?;
    }

    #[test]
    fn any_bytes_parse_or_are_a_client_error(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        every_body(&bytes)?;
    }

    #[test]
    fn truncated_json_is_a_client_error(value in json(), cut in any::<prop::sample::Index>()) {
        let text = serde_json::to_vec(&value).unwrap();
        every_body(&text[..cut.index(text.len() + 1)])?;
    }
}
