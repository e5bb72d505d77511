//! Mapping between a `contacts` row and the domain's [`Contact`].

use std::collections::BTreeMap;

use roster_domain::{
    Consent, Contact, ContactId, Date, Email, EventTime, Phone, Profile, Timestamp,
    event::event_instant,
};
use serde_json::Value;

use crate::{
    StoreError, StoreResult,
    conn::{Arg, args},
};

/// The columns every contact query selects, in [`ContactRow`]'s order. The last location
/// and the last visit come from the contact's newest visit events: each subquery walks
/// `events_by_contact` backwards and stops at the first match, so its cost does not grow
/// with the contact's history.
macro_rules! contact_columns {
    () => {
        "c.pk, c.id, c.user_id, c.first_name, c.last_name, c.email, c.phone, c.address, c.city, \
         c.state, c.zip, c.source, c.dob, c.gender, c.type, c.status, c.location, \
         (SELECT e.location FROM events e WHERE e.contact_pk = c.pk AND e.is_visit \
            AND e.location IS NOT NULL ORDER BY e.event_date DESC, e.event_clock DESC LIMIT 1) \
            AS last_location, \
         c.custom, c.tags, c.sms_optin, c.sms_optin_date, c.sms_optout, c.sms_optout_date, \
         c.email_optout, c.email_optout_date, c.created_date, c.updated_date, \
         (SELECT e.event_date || ' ' || e.event_clock FROM events e \
            WHERE e.contact_pk = c.pk AND e.is_visit \
            ORDER BY e.event_date DESC, e.event_clock DESC LIMIT 1) AS last_visit"
    };
}
pub(crate) use contact_columns;

#[derive(sqlx::FromRow)]
pub struct ContactRow {
    pub pk: i64,
    id: String,
    user_id: Option<String>,
    first_name: String,
    last_name: String,
    email: Option<String>,
    phone: Option<String>,
    address: Option<String>,
    city: Option<String>,
    state: Option<String>,
    zip: Option<String>,
    source: Option<String>,
    dob: Option<String>,
    gender: Option<String>,
    #[sqlx(rename = "type")]
    kind: Option<String>,
    status: Option<String>,
    location: Option<String>,
    last_location: Option<String>,
    custom: String,
    tags: String,
    sms_optin: bool,
    sms_optin_date: Option<String>,
    sms_optout: bool,
    sms_optout_date: Option<String>,
    email_optout: bool,
    email_optout_date: Option<String>,
    created_date: String,
    updated_date: String,
    /// `event_date event_clock` of the newest visit.
    last_visit: Option<String>,
}

impl ContactRow {
    pub fn into_contact(self) -> StoreResult<Contact> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("contacts.{what} of {}", self.id));
        let timestamp =
            |raw: &str, what: &str| Timestamp::parse_rfc3339(raw).ok_or_else(|| corrupt(what));
        let optional_timestamp = |raw: &Option<String>, what: &str| {
            raw.as_deref().map(|r| timestamp(r, what)).transpose()
        };
        let custom: BTreeMap<String, Value> =
            serde_json::from_str(&self.custom).map_err(|_| corrupt("custom"))?;
        let tags: Vec<String> = serde_json::from_str(&self.tags).map_err(|_| corrupt("tags"))?;
        let dob = self
            .dob
            .as_deref()
            .map(|d| Date::parse("dob", d).map_err(|_| corrupt("dob")))
            .transpose()?;
        Ok(Contact {
            consent: Consent {
                sms_optin: self.sms_optin,
                sms_optin_date: optional_timestamp(&self.sms_optin_date, "sms_optin_date")?,
                sms_optout: self.sms_optout,
                sms_optout_date: optional_timestamp(&self.sms_optout_date, "sms_optout_date")?,
                email_optout: self.email_optout,
                email_optout_date: optional_timestamp(
                    &self.email_optout_date,
                    "email_optout_date",
                )?,
            },
            last_visit: self
                .last_visit
                .as_deref()
                .map(|v| visit_instant(v).ok_or_else(|| corrupt("latest visit")))
                .transpose()?,
            created_date: timestamp(&self.created_date, "created_date")?,
            updated_date: timestamp(&self.updated_date, "updated_date")?,
            id: ContactId::from_trusted(self.id),
            user_id: self.user_id,
            first_name: self.first_name,
            last_name: self.last_name,
            email: self.email.map(Email::from_trusted),
            phone: self.phone.map(Phone::from_trusted),
            profile: Profile {
                address: self.address,
                city: self.city,
                state: self.state,
                zip: self.zip,
                source: self.source,
                dob,
                gender: self.gender,
                kind: self.kind,
                status: self.status,
                location: self.location,
            },
            last_location: self.last_location,
            custom,
            tags,
        })
    }
}

/// A contact with its internal id, as the write paths need it.
pub struct StoredContact {
    pub pk: i64,
    pub contact: Contact,
}

impl TryFrom<ContactRow> for StoredContact {
    type Error = StoreError;
    fn try_from(row: ContactRow) -> StoreResult<Self> {
        Ok(Self {
            pk: row.pk,
            contact: row.into_contact()?,
        })
    }
}

/// The values of a contact's columns, in the order of the INSERT and UPDATE statements
/// (`user_id` through `updated_date`).
pub fn contact_values(c: &Contact) -> Vec<Arg> {
    let p = &c.profile;
    let ts = |t: Option<Timestamp>| t.map(Timestamp::to_rfc3339);
    args![
        c.user_id.clone(),
        c.first_name.clone(),
        c.last_name.clone(),
        c.email.as_ref().map(|e| e.as_str().to_string()),
        c.email.as_ref().map(|e| e.normalized().to_string()),
        c.phone.as_ref().map(|p| p.as_str().to_string()),
        p.address.clone(),
        p.city.clone(),
        p.state.clone(),
        p.zip.clone(),
        p.source.clone(),
        p.dob.map(|d| d.to_string()),
        p.gender.clone(),
        p.kind.clone(),
        p.status.clone(),
        p.location.clone(),
        Value::Object(c.custom.clone().into_iter().collect()).to_string(),
        Value::from(c.tags.clone()).to_string(),
        c.consent.sms_optin,
        ts(c.consent.sms_optin_date),
        c.consent.sms_optout,
        ts(c.consent.sms_optout_date),
        c.consent.email_optout,
        ts(c.consent.email_optout_date),
        c.created_date.to_rfc3339(),
        c.updated_date.to_rfc3339(),
    ]
}

/// The instant of a visit from its stored `event_date` and `event_clock` (`2025-03-05
/// 18:30:00`), as newEvent reads them (UTC).
fn visit_instant(stored: &str) -> Option<Timestamp> {
    let (date, clock) = stored.split_once(' ')?;
    let date = Date::parse("", date).ok()?;
    let clock = EventTime::parse("", clock).ok()?;
    Some(event_instant(date, Some(&clock)))
}
