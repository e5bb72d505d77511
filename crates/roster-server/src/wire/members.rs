//! Response members of the contact lists, built from domain contacts.

use std::collections::BTreeMap;

use roster_domain::{Contact, OptoutChannel, Timestamp};
use roster_store::Related;

use super::activity_members::{EventMember, MembershipMember};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A getCustomers member. Absent values are `null`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerMember {
    /// Roster's contact id.
    pub id: String,
    pub user_id: Option<String>,
    pub firstname: String,
    pub lastname: String,
    pub email: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    pub last_location: Option<String>,
    /// 0 or 1.
    pub email_optout: u8,
    /// 0 or 1.
    pub sms_optout: u8,
    pub tags: Vec<String>,
    pub created_date: String,
    pub updated_date: String,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub full: Option<FullData>,
    /// With `events: true`: the contact's events, newest first (at most 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventMember>>,
}

/// The extra fields of a getCustomers member with `fulldata: true`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FullData {
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub dob: Option<String>,
    pub gender: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub status: Option<String>,
    pub source: Option<String>,
    pub location: Option<String>,
    #[schema(value_type = Object)]
    pub custom: BTreeMap<String, Value>,
    pub last_visit_date: Option<String>,
    /// Events with `is_visit`, newest first (at most 100).
    pub visits: Vec<EventMember>,
    /// Events with `is_purchase`, newest first (at most 100).
    pub purchases: Vec<EventMember>,
    pub memberships: Vec<MembershipMember>,
}

impl CustomerMember {
    pub fn new(contact: Contact, related: Related, fulldata: bool, events: bool) -> Self {
        let Related {
            visits,
            purchases,
            events: all_events,
            memberships,
        } = related;
        let full = fulldata.then(|| FullData {
            last_visit_date: contact.last_visit.map(Timestamp::to_rfc3339),
            visits: visits.into_iter().map(EventMember::from).collect(),
            purchases: purchases.into_iter().map(EventMember::from).collect(),
            memberships: memberships
                .into_iter()
                .map(MembershipMember::from)
                .collect(),
            ..FullData::profile(&contact)
        });
        Self {
            id: contact.id.to_string(),
            firstname: contact.first_name,
            lastname: contact.last_name,
            email: contact.email.map(|e| e.to_string()),
            phone: contact.phone.map(|p| p.to_string()),
            last_location: contact.last_location,
            email_optout: contact.consent.email_optout.into(),
            sms_optout: contact.consent.sms_optout.into(),
            tags: contact.tags,
            created_date: contact.created_date.to_rfc3339(),
            updated_date: contact.updated_date.to_rfc3339(),
            user_id: contact.user_id,
            full,
            events: events.then(|| all_events.into_iter().map(EventMember::from).collect()),
        }
    }
}

impl FullData {
    /// The stored fields; the related lists start empty.
    fn profile(contact: &Contact) -> Self {
        let p = contact.profile.clone();
        Self {
            address: p.address,
            city: p.city,
            state: p.state,
            zip: p.zip,
            dob: p.dob.map(|d| d.to_string()),
            gender: p.gender,
            kind: p.kind,
            status: p.status,
            source: p.source,
            location: p.location,
            custom: contact.custom.clone(),
            last_visit_date: None,
            visits: Vec::new(),
            purchases: Vec::new(),
            memberships: Vec::new(),
        }
    }
}

/// A getOptinCustomers member.
#[derive(Debug, Serialize, ToSchema)]
pub struct OptinMember {
    pub id: String,
    pub firstname: String,
    pub lastname: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// When the contact opted in to SMS.
    pub add_date: Option<String>,
}

impl From<Contact> for OptinMember {
    fn from(c: Contact) -> Self {
        Self {
            id: c.id.to_string(),
            add_date: c.consent.sms_optin_date.map(Timestamp::to_rfc3339),
            firstname: c.first_name,
            lastname: c.last_name,
            email: c.email.map(|e| e.to_string()),
            phone: c.phone.map(|p| p.to_string()),
        }
    }
}

/// A getOptoutCustomers member.
#[derive(Debug, Serialize, ToSchema)]
pub struct OptoutMember {
    pub id: String,
    pub firstname: String,
    pub lastname: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub email_optout: u8,
    pub sms_optout: u8,
    /// When the contact opted out (of the asked channel; the later of the two when both).
    pub optout_date: Option<String>,
}

impl OptoutMember {
    pub fn new(c: Contact, channel: Option<OptoutChannel>) -> Self {
        let consent = &c.consent;
        let sms = consent
            .sms_optout
            .then_some(consent.sms_optout_date)
            .flatten();
        let email = consent
            .email_optout
            .then_some(consent.email_optout_date)
            .flatten();
        let optout_date = match channel {
            Some(OptoutChannel::Sms) => sms,
            Some(OptoutChannel::Email) => email,
            None => sms.max(email),
        };
        Self {
            id: c.id.to_string(),
            email_optout: consent.email_optout.into(),
            sms_optout: consent.sms_optout.into(),
            optout_date: optout_date.map(Timestamp::to_rfc3339),
            firstname: c.first_name,
            lastname: c.last_name,
            email: c.email.map(|e| e.to_string()),
            phone: c.phone.map(|p| p.to_string()),
        }
    }
}

/// A getAttributes member.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttributeMember {
    pub name: String,
    pub label: String,
    /// string, number, boolean, date or datetime.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// system or custom.
    pub source: &'static str,
}
