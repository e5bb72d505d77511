//! Property tests of the parsers that read untrusted text: whatever arrives, they answer
//! with a value or an `InputError`, never a panic; and where a value is written back out
//! (Display, `source`, `to_rfc3339`...) reading that text again gives the same value.

use proptest::prelude::*;
use roster_domain::{
    ContactId, Date, DateRange, Email, Page, Phone, PhoneRegion, Timestamp,
    attributes::{AttributeType, check_custom},
    contact::parse_tags,
    dates::CreatedDate,
    engagement::{
        campaign::CampaignStatus,
        form::FieldType,
        schedule::{QuietHours, time_zone},
    },
    event::{EventTime, check_event_data},
    messaging::{
        Channel, MessageStatus, Purpose, Template,
        keyword::Keyword,
        message::ProviderStatus,
        retry::{RetrySchedule, parse_duration},
        settings::parse_sender_numbers,
    },
    studio::Timezone,
};
use serde_json::Value;

/// Arbitrary text, biased towards the characters the parsers care about.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9:\\-+ .TZapmAPM]{0,24}",
        "[{}a-z_ \\-]{0,24}",
        "[0-9a-fA-F]{20,28}",
        "[a-z0-9.@+\" ]{0,40}",
        "[0-9,msh ]{0,30}",
    ]
}

/// Arbitrary JSON values, a few levels deep.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(text(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn dates_never_panic_and_round_trip(raw in text()) {
        if let Ok(date) = Date::parse("date", &raw) {
            prop_assert_eq!(Date::parse("date", &date.to_string()).unwrap(), date);
        }
        let _ = DateRange::parse(Some(&raw), Some(&raw));
        let _ = DateRange::parse(None, Some(&raw));
        if let Ok(at) = CreatedDate::parse("created_date", &raw) {
            prop_assert_eq!(Timestamp::parse_rfc3339(&at.to_rfc3339()), Some(at));
        }
        if let Some(at) = Timestamp::parse_rfc3339(&raw) {
            prop_assert_eq!(Timestamp::parse_rfc3339(&at.to_rfc3339()), Some(at));
        }
    }

    #[test]
    fn calendar_dates_round_trip(year in 1i32..=9999, month in 1u8..=12, day in 1u8..=31) {
        let raw = format!("{year:04}-{month:02}-{day:02}");
        match Date::parse("date", &raw) {
            Ok(date) => prop_assert_eq!(date.to_string(), raw),
            // Only days a month does not have are refused.
            Err(_) => prop_assert!(day > 28),
        }
    }

    #[test]
    fn timestamps_round_trip(seconds in 0i64..253_402_300_799, millis in 0u32..1000) {
        let at = time::OffsetDateTime::from_unix_timestamp(seconds).unwrap()
            + time::Duration::milliseconds(i64::from(millis));
        let stamp = Timestamp::from_datetime(at);
        let text = stamp.to_rfc3339();
        prop_assert_eq!(text.len(), 24);
        prop_assert_eq!(Timestamp::parse_rfc3339(&text), Some(stamp));
    }

    #[test]
    fn event_times_never_panic_and_keep_their_clock(raw in text()) {
        if let Ok(time) = EventTime::parse("event_time", &raw) {
            let again = EventTime::from_stored(time.as_sent().to_string(), &time.hhmmss());
            prop_assert_eq!(again, Some(time.clone()));
            prop_assert_eq!(EventTime::parse("event_time", time.as_sent()).unwrap(), time);
        }
    }

    #[test]
    fn twelve_hour_times_parse(hour in 1u8..=12, minute in 0u8..60, pm in any::<bool>()) {
        let raw = format!("{hour:02}:{minute:02} {}", if pm { "PM" } else { "AM" });
        let time = EventTime::parse("event_time", &raw).unwrap();
        let expected = (hour % 12) + if pm { 12 } else { 0 };
        prop_assert_eq!(time.clock().hour(), expected);
        prop_assert_eq!(time.clock().minute(), minute);
    }

    #[test]
    fn phones_never_panic_and_are_stable(raw in prop_oneof![
        text(),
        "\\+?[0-9 ()\\-.]{0,40}",
        "\\+1(415|212)555[0-9]{4}",
    ], region in prop::sample::select(vec!["US", "GB", "DE", "IN", "AU"])) {
        let region = PhoneRegion::parse(region).unwrap();
        if let Ok(phone) = Phone::parse("phone", &raw, region) {
            prop_assert!(phone.as_str().starts_with('+'));
            // E.164 is a fixed point, whatever the default region.
            prop_assert_eq!(Phone::parse("phone", phone.as_str(), PhoneRegion::default()).unwrap(), phone.clone());
            prop_assert_eq!(Phone::parse("phone", &phone.to_string(), region).unwrap(), phone);
        }
    }

    #[test]
    fn phone_regions_never_panic(raw in text()) {
        if let Ok(region) = PhoneRegion::parse(&raw) {
            prop_assert_eq!(PhoneRegion::parse(&region.to_string()).unwrap(), region);
        }
    }

    #[test]
    fn emails_never_panic_and_round_trip(raw in text()) {
        if let Ok(email) = Email::parse("email", &raw) {
            let again = Email::parse("email", &email.to_string()).unwrap();
            prop_assert_eq!(again.normalized(), email.normalized());
            prop_assert_eq!(again, email);
        }
    }

    #[test]
    fn contact_ids_never_panic_and_round_trip(raw in text()) {
        if let Ok(id) = ContactId::parse("_id", &raw) {
            prop_assert_eq!(id.as_str().len(), 24);
            prop_assert_eq!(ContactId::parse("_id", &id.to_string()).unwrap(), id);
        }
    }

    #[test]
    fn generated_ids_parse(seconds in 0i64..4_000_000_000) {
        let now = time::OffsetDateTime::from_unix_timestamp(seconds).unwrap();
        let id = ContactId::generate(now);
        prop_assert_eq!(ContactId::parse("_id", id.as_str()).unwrap(), id);
    }

    #[test]
    fn templates_never_panic_and_round_trip(raw in text()) {
        if let Ok(template) = Template::parse("message", &raw) {
            let again = Template::parse("message", &template.source()).unwrap();
            prop_assert_eq!(&again, &template);
            // Without a contact a template renders only when it has no placeholders.
            let rendered = template.render(None, |_| true);
            prop_assert_eq!(rendered.is_ok(), template.placeholders().next().is_none());
            if let Some(literal) = template.literal() {
                prop_assert_eq!(literal, raw);
            }
            let _ = template.render_html(None, |_| false);
            let _ = template.check_names(|name| name.len() % 2 == 0);
        }
    }

    #[test]
    fn attribute_values_never_panic(name in text(), value in json()) {
        let _ = check_custom(&name, &value);
        let _ = AttributeType::of(&value);
        if let Some(kind) = AttributeType::parse(&name) {
            prop_assert_eq!(kind.as_str(), name.as_str());
        }
        match check_event_data("event_data", value.clone()) {
            Ok(Some(kept)) => prop_assert_eq!(kept, value),
            Ok(None) => prop_assert!(value.is_null()),
            Err(_) => {}
        }
    }

    #[test]
    fn keywords_and_choices_never_panic(raw in text()) {
        let _ = Keyword::of(&raw);
        let _ = parse_tags("tags", &raw);
        let _ = parse_sender_numbers(&raw);
        let _ = ProviderStatus::of_twilio(&raw, Some(&raw));
        if let Ok(tz) = Timezone::parse("timezone", &raw) {
            prop_assert_eq!(Timezone::parse("timezone", tz.as_str()).unwrap(), tz);
        }
        let _ = time_zone("timezone", &raw);
        if let Ok(channel) = Channel::parse("channel", &raw) {
            prop_assert_eq!(Channel::parse("channel", channel.as_str()).unwrap(), channel);
        }
        if let Ok(status) = MessageStatus::parse("status", &raw) {
            prop_assert_eq!(MessageStatus::parse("status", status.as_str()).unwrap(), status);
        }
        if let Ok(status) = CampaignStatus::parse("status", &raw) {
            prop_assert_eq!(CampaignStatus::parse("status", status.as_str()).unwrap(), status);
        }
        if let Ok(kind) = FieldType::parse("type", &raw) {
            prop_assert_eq!(FieldType::parse("type", kind.as_str()).unwrap(), kind);
        }
        if let Some(purpose) = Purpose::parse(&raw) {
            prop_assert_eq!(Purpose::parse(purpose.as_str()), Some(purpose));
        }
    }

    #[test]
    fn tags_are_trimmed_and_bounded(raw in text()) {
        if let Ok(tags) = parse_tags("tags", &raw) {
            prop_assert!(tags.len() <= 100);
            for tag in &tags {
                prop_assert!(!tag.is_empty());
                prop_assert_eq!(tag.trim(), tag.as_str());
                prop_assert!(!tag.contains(','));
            }
        }
    }

    #[test]
    fn pages_never_panic(limit in any::<Option<i64>>(), offset in any::<Option<i64>>()) {
        if let Ok(page) = Page::parse(limit, offset) {
            prop_assert!((1..=Page::MAX_LIMIT).contains(&page.limit));
        }
    }

    #[test]
    fn quiet_hours_never_panic(raw in text()) {
        let _ = QuietHours::parse("quiet_hours_sms", &raw);
    }

    #[test]
    fn retry_schedules_never_panic_and_round_trip(raw in prop_oneof![
        text(),
        "[0-9]{1,22}(ms|s|m|h)(,[0-9]{1,22}(ms|s|m|h)){0,4}",
    ]) {
        let _ = parse_duration(&raw);
        if let Ok(schedule) = RetrySchedule::parse(&raw) {
            prop_assert_eq!(RetrySchedule::parse(&schedule.to_string()).unwrap(), schedule);
        }
    }
}
