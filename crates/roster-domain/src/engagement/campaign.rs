//! Campaigns: one message to an audience, fanned out through the outbox.

use serde::{Deserialize, Serialize};

use crate::{
    Contact, Date, InputError, Timestamp,
    messaging::{Channel, Template},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignStatus {
    Draft,
    Scheduled,
    Sending,
    Sent,
    Cancelled,
}

impl CampaignStatus {
    const ALL: [CampaignStatus; 5] = [
        CampaignStatus::Draft,
        CampaignStatus::Scheduled,
        CampaignStatus::Sending,
        CampaignStatus::Sent,
        CampaignStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CampaignStatus::Draft => "draft",
            CampaignStatus::Scheduled => "scheduled",
            CampaignStatus::Sending => "sending",
            CampaignStatus::Sent => "sent",
            CampaignStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<CampaignStatus, InputError> {
        let raw = raw.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| {
                InputError::new(
                    field,
                    format!("{field} must be one of draft, scheduled, sending, sent, cancelled"),
                )
            })
    }
}

/// Who a campaign goes to. Every filter given must hold (AND); `tags_any` needs one of its
/// tags, `tags_all` all of them (tags compare case-insensitively).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Audience {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags_any: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags_all: Vec<String>,
    /// Contact `type` (member, prospect...).
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "type")]
    pub contact_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The contact's `location` (a location id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// A workroom id: contacts whose location is one of its locations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workroom: Option<String>,
    /// Contacts with an event of this type...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// ...on or after this date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_since: Option<Date>,
    /// Contacts with a membership in this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership_status: Option<String>,
}

impl Audience {
    /// The tag filters (the others are applied by the database).
    pub fn matches_tags(&self, contact: &Contact) -> bool {
        let has = |tag: &String| {
            contact
                .tags
                .iter()
                .any(|t| t.to_lowercase() == tag.to_lowercase())
        };
        (self.tags_any.is_empty() || self.tags_any.iter().any(has)) && self.tags_all.iter().all(has)
    }
}

/// newCampaign: upsert by the caller's `id` while the campaign is a draft.
#[derive(Debug, Clone)]
pub struct NewCampaign {
    pub id: String,
    pub name: String,
    pub channel: Channel,
    pub subject: Option<Template>,
    /// The SMS text, or the email's HTML.
    pub body: Template,
    pub from: String,
    pub from_name: Option<String>,
    pub audience: Audience,
    pub scheduled_date: Option<Timestamp>,
}

/// A stored campaign with its counts, which come from the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    pub public_id: String,
    pub id: String,
    pub name: String,
    pub channel: Channel,
    pub status: CampaignStatus,
    pub subject: Option<String>,
    pub scheduled_date: Option<Timestamp>,
    pub sent_date: Option<Timestamp>,
    pub recipients: u64,
    pub sent: u64,
    pub delivered: u64,
    pub failed: u64,
    pub skipped: u64,
    /// Skips by reason: no address, not opted in, opted out.
    pub skipped_no_address: u64,
    pub skipped_not_opted_in: u64,
    pub skipped_opted_out: u64,
    pub skipped_duplicate_address: u64,
    pub created_date: Timestamp,
}

/// Why a contact of the audience got no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    NoAddress,
    NotOptedIn,
    OptedOut,
    /// Another contact with the same address already has the campaign.
    DuplicateAddress,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::NoAddress => "no_address",
            SkipReason::NotOptedIn => "not_opted_in",
            SkipReason::OptedOut => "opted_out",
            SkipReason::DuplicateAddress => "duplicate_address",
        }
    }
}
