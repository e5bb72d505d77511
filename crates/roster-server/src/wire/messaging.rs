//! Bodies of sendSmsNotification, sendEmailNotification, optin, getMessages and
//! getConsentHistory.

use roster_domain::{
    ContactId, ContactIdentity, Date, DateRange, Email, InputError, Page, Phone, PhoneRegion,
    messaging::{
        Channel, Message, MessageFilter, MessageStatus, MessagingSettings, Outgoing, Purpose,
        Template,
    },
};
use roster_store::{ConsentRecord, OptinRequest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{app_scoped, lenient, required};

/// Twilio's limit for one message's body.
const MAX_SMS_LEN: usize = 1600;

/// sendSmsNotification/{app_id}.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SendSmsBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub app_id: Option<String>,
    /// With country code, e.g. `+15551234567`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub to_number: Option<String>,
    /// The text; may use `{{first_name}}`, `{{last_name}}` and custom attributes with `_id`.
    #[serde(default, deserialize_with = "lenient::opt_body")]
    pub message: Option<String>,
    /// The contact the message is for (personalisation).
    #[serde(default, rename = "_id", deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub id: Option<String>,
    /// One of the app's sender numbers; the first when absent.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub from_number: Option<String>,
}

impl SendSmsBody {
    pub fn parse(
        self,
        region: PhoneRegion,
        settings: &MessagingSettings,
    ) -> Result<Outgoing, InputError> {
        let to = Phone::parse("to_number", &required("to_number", self.to_number)?, region)?;
        let message = required("message", self.message)?;
        if message.chars().count() > MAX_SMS_LEN {
            return Err(InputError::new(
                "message",
                format!("message is longer than {MAX_SMS_LEN} characters"),
            ));
        }
        Ok(Outgoing {
            channel: Channel::Sms,
            purpose: Purpose::Api,
            contact: contact_id(self.id.as_deref())?,
            to: to.as_str().to_string(),
            from: settings.sms_sender(self.from_number.as_deref())?,
            from_name: None,
            reply_to: None,
            subject: None,
            text: Some(Template::parse("message", &message)?),
            html: None,
        })
    }
}

/// sendEmailNotification/{app_id}.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SendEmailBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub app_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub to_email: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub subject: Option<String>,
    /// HTML body; `html` or `text` (or both) is required.
    #[serde(default, deserialize_with = "lenient::opt_body")]
    pub html: Option<String>,
    /// Plain-text body.
    #[serde(default, deserialize_with = "lenient::opt_body")]
    pub text: Option<String>,
    #[serde(default, rename = "_id", deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub from_email: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub from_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub reply_to: Option<String>,
}

impl SendEmailBody {
    pub fn parse(self, settings: &MessagingSettings) -> Result<Outgoing, InputError> {
        let to = Email::parse("to_email", &required("to_email", self.to_email)?)?;
        let subject = required("subject", self.subject)?;
        if self.html.is_none() && self.text.is_none() {
            return Err(InputError::new("html", "html or text is required"));
        }
        let from = self
            .from_email
            .as_deref()
            .map(|e| Email::parse("from_email", e))
            .transpose()?;
        let reply_to = self
            .reply_to
            .as_deref()
            .map(|e| Email::parse("reply_to", e))
            .transpose()?;
        let template = |field: &str, text: Option<String>| {
            text.map(|t| Template::parse(field, &t)).transpose()
        };
        Ok(Outgoing {
            channel: Channel::Email,
            purpose: Purpose::Api,
            contact: contact_id(self.id.as_deref())?,
            to: to.as_str().to_string(),
            from: settings.email_sender(from.as_ref())?,
            from_name: self.from_name.or_else(|| settings.email_from_name.clone()),
            reply_to: reply_to.map(|e| e.as_str().to_string()),
            subject: Some(Template::parse("subject", &subject)?),
            text: template("text", self.text)?,
            html: template("html", self.html)?,
        })
    }
}

fn contact_id(raw: Option<&str>) -> Result<Option<ContactId>, InputError> {
    raw.map(|id| ContactId::parse("_id", id)).transpose()
}

/// `{"status":true,...}` of sendSmsNotification.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmsSent {
    pub status: bool,
    #[schema(example = "Message sent")]
    pub message: String,
    pub phone: String,
    pub from: String,
    /// The provider: `twilio`, or `log` on a server without one.
    #[schema(example = "twilio")]
    pub service_type: &'static str,
    /// The provider's message id, or Roster's when the message is still queued.
    pub service_message_id: String,
    /// Roster's message id (getMessages). Roster extension.
    #[serde(rename = "_id")]
    pub id: String,
    /// `sent`, or `queued` when the provider did not answer in time. Roster extension.
    pub delivery_status: &'static str,
}

/// `{"status":true,...}` of sendEmailNotification.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailSent {
    pub status: bool,
    #[schema(example = "Email sent")]
    pub message: String,
    pub email: String,
    /// The provider: `smtp`, or `log` on a server without one.
    #[schema(example = "smtp")]
    pub service_type: &'static str,
    pub service_message_id: String,
    #[serde(rename = "_id")]
    pub id: String,
    pub delivery_status: &'static str,
}

/// optin: starts a double opt-in.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OptinBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub app_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub user_id: Option<String>,
    /// `YYYY-MM-DD`; under the app's minimum age (default 13) is refused.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub dob: Option<String>,
}

impl OptinBody {
    pub fn parse(
        self,
        region: PhoneRegion,
        settings: &MessagingSettings,
    ) -> Result<OptinRequest, InputError> {
        let phone = Phone::parse("phone", &required("phone", self.phone)?, region)?;
        let email = Email::parse("email", &required("email", self.email)?)?;
        let user_id = required("user_id", self.user_id)?;
        let dob = self.dob.map(|d| Date::parse("dob", &d)).transpose()?;
        Ok(OptinRequest {
            identity: ContactIdentity {
                id: None,
                user_id: Some(user_id),
                first_name: None,
                email: Some(email),
                phone: Some(phone.clone()),
            },
            dob,
            min_age: settings.min_age(),
            message: settings.optin_message(&phone)?,
            phone,
        })
    }
}

/// getMessages (Roster extension): the outbox and inbound messages, oldest first.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MessagesBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub app_id: Option<String>,
    /// Only this contact's messages.
    #[serde(default, rename = "_id", deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub id: Option<String>,
    /// `sms` or `email`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub channel: Option<String>,
    /// queued, sending, sent, delivered, failed or received.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub status: Option<String>,
    /// Created on or after, `YYYY-MM-DD`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub start_date: Option<String>,
    /// Created on or before, `YYYY-MM-DD`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub end_date: Option<String>,
    /// Only messages of contacts at this workroom's locations (its `id`).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub workroom: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    #[schema(value_type = Option<lenient::schema::IntegerOrText>)]
    pub limit: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    #[schema(value_type = Option<lenient::schema::IntegerOrText>)]
    pub offset: Option<i64>,
}

impl MessagesBody {
    /// `None` when `_id` cannot name a contact (an empty list, as for other reads).
    pub fn parse(&self) -> Result<(Option<MessageFilter>, Page), InputError> {
        let page = Page::parse(self.limit, self.offset)?;
        let filter = MessageFilter {
            contact: None,
            channel: self
                .channel
                .as_deref()
                .map(|c| Channel::parse("channel", c))
                .transpose()?,
            status: self
                .status
                .as_deref()
                .map(|s| MessageStatus::parse("status", s))
                .transpose()?,
            dates: DateRange::parse(self.start_date.as_deref(), self.end_date.as_deref())?,
            workroom: self.workroom.clone(),
        };
        match self.id.as_deref() {
            None => Ok((Some(filter), page)),
            Some(raw) => match ContactId::parse("_id", raw) {
                Ok(id) => Ok((
                    Some(MessageFilter {
                        contact: Some(id),
                        ..filter
                    }),
                    page,
                )),
                Err(_) => Ok((None, page)),
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageMember {
    #[serde(rename = "_id")]
    pub id: String,
    pub contact_id: Option<String>,
    /// `sms` or `email`.
    pub channel: &'static str,
    /// `outbound` or `inbound`.
    pub direction: &'static str,
    pub to: String,
    pub from: String,
    pub subject: Option<String>,
    /// The text as sent (after personalisation).
    pub body: Option<String>,
    pub html: Option<String>,
    /// queued, sending, sent, delivered, failed or received.
    pub status: &'static str,
    pub attempts: u32,
    pub service_message_id: Option<String>,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// When a queued message is tried next.
    pub next_attempt_date: Option<String>,
    pub created_date: String,
    pub updated_date: String,
    pub sent_date: Option<String>,
}

impl From<Message> for MessageMember {
    fn from(m: Message) -> Self {
        MessageMember {
            id: m.id,
            contact_id: m.contact_id.map(|c| c.as_str().to_string()),
            channel: m.channel.as_str(),
            direction: m.direction.as_str(),
            to: m.to,
            from: m.from,
            subject: m.subject,
            body: m.text,
            html: m.html,
            status: m.status.as_str(),
            attempts: m.attempts,
            service_message_id: m.provider_id,
            error: m.error,
            next_attempt_date: m.next_attempt.map(|t| t.to_rfc3339()),
            created_date: m.created_date.to_rfc3339(),
            updated_date: m.updated_date.to_rfc3339(),
            sent_date: m.sent_date.map(|t| t.to_rfc3339()),
        }
    }
}

/// getConsentHistory (Roster extension).
#[derive(Debug, Deserialize, ToSchema)]
pub struct ConsentHistoryBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub app_id: Option<String>,
    #[serde(default, rename = "_id", deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentMember {
    /// sms_optin, sms_optout, sms_optin_pending, email_optout or email_optout_cleared.
    pub change: String,
    /// api, keyword, provider_error or merge.
    pub source: String,
    pub created_date: String,
}

impl From<ConsentRecord> for ConsentMember {
    fn from(r: ConsentRecord) -> Self {
        ConsentMember {
            change: r.change,
            source: r.source,
            created_date: r.created_date,
        }
    }
}

app_scoped!(
    SendSmsBody,
    SendEmailBody,
    OptinBody,
    MessagesBody,
    ConsentHistoryBody
);
