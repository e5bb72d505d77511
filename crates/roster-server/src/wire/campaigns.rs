//! Bodies of newCampaign, sendCampaign, cancelCampaign and getCampaigns.

use roster_domain::{
    CreatedDate, Date, Email, InputError, Page,
    contact::parse_tags,
    engagement::{Audience, Campaign, CampaignStatus, NewCampaign},
    messaging::{Channel, MessagingSettings, Template},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{app_scoped, lenient, required};

/// Who a campaign goes to; every filter given must hold.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AudienceBody {
    /// Contacts with any of these tags (a list, or comma-separated).
    #[serde(default, deserialize_with = "lenient::tags")]
    #[schema(value_type = Option<lenient::schema::Tags>)]
    pub tags_any: Option<String>,
    /// Contacts with all of these tags.
    #[serde(default, deserialize_with = "lenient::tags")]
    #[schema(value_type = Option<lenient::schema::Tags>)]
    pub tags_all: Option<String>,
    /// Contact `type` (member, prospect...).
    #[serde(default, rename = "type", deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub contact_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub status: Option<String>,
    /// A location id: contacts whose `location` it is.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub location: Option<String>,
    /// A workroom id: contacts at any of its locations.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub workroom: Option<String>,
    /// Contacts with an event of this type...
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub event_type: Option<String>,
    /// ...on or after this date (`YYYY-MM-DD`).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub event_since: Option<String>,
    /// Contacts with a membership in this status.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub membership_status: Option<String>,
}

impl AudienceBody {
    fn parse(self) -> Result<Audience, InputError> {
        Ok(Audience {
            tags_any: self
                .tags_any
                .map(|t| parse_tags("audience.tags_any", &t))
                .transpose()?
                .unwrap_or_default(),
            tags_all: self
                .tags_all
                .map(|t| parse_tags("audience.tags_all", &t))
                .transpose()?
                .unwrap_or_default(),
            contact_type: self.contact_type,
            status: self.status,
            location: self.location,
            workroom: self.workroom,
            event_type: self.event_type,
            event_since: self
                .event_since
                .map(|d| Date::parse("audience.event_since", &d))
                .transpose()?,
            membership_status: self.membership_status,
        })
    }
}

/// newCampaign (Roster extension): a draft, upserted by your `id` until it starts.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewCampaignBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub app_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub name: Option<String>,
    /// `sms` or `email`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub channel: Option<String>,
    /// Email only, required there; placeholders as in the body.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub subject: Option<String>,
    /// The SMS text or the email's HTML, with `{{first_name}}` etc.
    #[serde(default, deserialize_with = "lenient::opt_body")]
    pub body: Option<String>,
    #[serde(default)]
    pub audience: Option<AudienceBody>,
    /// `YYYY-MM-DD HH:MM:SS` (UTC): sendCampaign waits until then.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub scheduled_date: Option<String>,
    /// One of the app's sender numbers (SMS).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub from_number: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub from_email: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub from_name: Option<String>,
}

impl NewCampaignBody {
    pub fn parse(self, settings: &MessagingSettings) -> Result<NewCampaign, InputError> {
        let channel = Channel::parse("channel", &required("channel", self.channel)?)?;
        let body = Template::parse("body", &required("body", self.body)?)?;
        let (subject, from, from_name) = match channel {
            Channel::Sms => (
                None,
                settings.sms_sender(self.from_number.as_deref())?,
                None,
            ),
            Channel::Email => {
                let subject = Template::parse("subject", &required("subject", self.subject)?)?;
                let from_email = self
                    .from_email
                    .as_deref()
                    .map(|e| Email::parse("from_email", e))
                    .transpose()?;
                (
                    Some(subject),
                    settings.email_sender(from_email.as_ref())?,
                    self.from_name.or_else(|| settings.email_from_name.clone()),
                )
            }
        };
        Ok(NewCampaign {
            id: required("id", self.id)?,
            name: required("name", self.name)?,
            channel,
            subject,
            body,
            from,
            from_name,
            audience: self.audience.unwrap_or_default().parse()?,
            scheduled_date: self
                .scheduled_date
                .map(|d| CreatedDate::parse("scheduled_date", &d))
                .transpose()?,
        })
    }
}

/// sendCampaign and cancelCampaign.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CampaignIdBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub app_id: Option<String>,
    /// The campaign's `_id` or your id.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub id: Option<String>,
}

/// getCampaigns.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CampaignsBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub app_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub channel: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    #[schema(value_type = Option<lenient::schema::IntegerOrText>)]
    pub limit: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    #[schema(value_type = Option<lenient::schema::IntegerOrText>)]
    pub offset: Option<i64>,
}

impl CampaignsBody {
    pub fn parse(&self) -> Result<(Option<CampaignStatus>, Option<Channel>, Page), InputError> {
        Ok((
            self.status
                .as_deref()
                .map(|s| CampaignStatus::parse("status", s))
                .transpose()?,
            self.channel
                .as_deref()
                .map(|c| Channel::parse("channel", c))
                .transpose()?,
            Page::parse(self.limit, self.offset)?,
        ))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignMember {
    #[serde(rename = "_id")]
    pub public_id: String,
    /// Your id (Roster extension).
    pub id: String,
    pub name: String,
    pub channel: &'static str,
    pub status: &'static str,
    pub subject: Option<String>,
    pub scheduled_date: Option<String>,
    pub sent_date: Option<String>,
    /// Messages queued for the audience.
    pub recipients: u64,
    /// Of those, accepted by the provider (Roster extension).
    pub sent: u64,
    pub delivered: u64,
    pub failed: u64,
    /// Audience members given no message (no address, no consent; Roster extension).
    pub skipped: u64,
    /// `skipped` by reason: `no_address`, `not_opted_in`, `opted_out`,
    /// `duplicate_address` (Roster extension).
    #[schema(value_type = Object)]
    pub skipped_reasons: serde_json::Value,
    pub created_date: String,
}

impl From<Campaign> for CampaignMember {
    fn from(c: Campaign) -> Self {
        Self {
            public_id: c.public_id,
            id: c.id,
            name: c.name,
            channel: c.channel.as_str(),
            status: c.status.as_str(),
            subject: c.subject,
            scheduled_date: c.scheduled_date.map(|t| t.to_rfc3339()),
            sent_date: c.sent_date.map(|t| t.to_rfc3339()),
            recipients: c.recipients,
            sent: c.sent,
            delivered: c.delivered,
            failed: c.failed,
            skipped: c.skipped,
            skipped_reasons: serde_json::json!({
                "no_address": c.skipped_no_address,
                "not_opted_in": c.skipped_not_opted_in,
                "opted_out": c.skipped_opted_out,
                "duplicate_address": c.skipped_duplicate_address,
            }),
            created_date: c.created_date.to_rfc3339(),
        }
    }
}

app_scoped!(NewCampaignBody, CampaignIdBody, CampaignsBody);
