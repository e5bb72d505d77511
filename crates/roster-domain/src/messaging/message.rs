//! Messages: what a sender asks for ([`Outgoing`]), what the outbox keeps ([`Message`]),
//! and how an attempt ends ([`Delivery`]).

use std::time::Duration;

use crate::{AppId, ContactId, DateRange, InputError, Timestamp};

use super::Template;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Sms,
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<Channel, InputError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "sms" => Ok(Channel::Sms),
            "email" => Ok(Channel::Email),
            _ => Err(InputError::new(
                field,
                format!("{field} must be sms or email"),
            )),
        }
    }
}

/// A message's life: queued -> sending -> sent -> delivered, or failed (with the reason).
/// Inbound messages are `received`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageStatus {
    Queued,
    Sending,
    Sent,
    Delivered,
    Failed,
    Received,
}

impl MessageStatus {
    pub const ALL: [MessageStatus; 6] = [
        MessageStatus::Queued,
        MessageStatus::Sending,
        MessageStatus::Sent,
        MessageStatus::Delivered,
        MessageStatus::Failed,
        MessageStatus::Received,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Queued => "queued",
            MessageStatus::Sending => "sending",
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Failed => "failed",
            MessageStatus::Received => "received",
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<MessageStatus, InputError> {
        let raw = raw.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == raw)
            .ok_or_else(|| {
                InputError::new(
                    field,
                    format!(
                        "{field} must be one of queued, sending, sent, delivered, failed, received"
                    ),
                )
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Outbound,
    Inbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Outbound => "outbound",
            Direction::Inbound => "inbound",
        }
    }
}

/// Why a message goes out; decides which consent rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// sendSmsNotification / sendEmailNotification: full consent rules.
    Api,
    /// The double opt-in request: allowed before the opt-in, never after a STOP.
    OptinRequest,
    /// The answer to a keyword (STOP confirmation, HELP): carriers require it, so it goes
    /// out even to a number that just opted out.
    KeywordReply,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Api => "api",
            Purpose::OptinRequest => "optin_request",
            Purpose::KeywordReply => "keyword_reply",
        }
    }

    pub fn parse(raw: &str) -> Option<Purpose> {
        [Purpose::Api, Purpose::OptinRequest, Purpose::KeywordReply]
            .into_iter()
            .find(|p| p.as_str() == raw)
    }
}

/// A message a caller wants sent. Bodies are templates, rendered against the contact when
/// the message is queued.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub channel: Channel,
    pub purpose: Purpose,
    /// `_id`: the contact the message is for (personalisation, and the message's owner).
    pub contact: Option<ContactId>,
    /// E.164 number or email address.
    pub to: String,
    pub from: String,
    pub from_name: Option<String>,
    pub reply_to: Option<String>,
    pub subject: Option<Template>,
    pub text: Option<Template>,
    pub html: Option<Template>,
}

/// A worker's claim on a message: until `until`, no other worker takes it; `token` fences
/// the outcome so that a worker whose lease ran out cannot overwrite a newer attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub token: String,
    pub until: Timestamp,
}

/// A message in the outbox (or an inbound one).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: String,
    pub app_id: AppId,
    pub channel: Channel,
    pub direction: Direction,
    pub purpose: Purpose,
    pub contact_id: Option<ContactId>,
    pub to: String,
    pub from: String,
    pub from_name: Option<String>,
    pub reply_to: Option<String>,
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub status: MessageStatus,
    pub attempts: u32,
    pub next_attempt: Option<Timestamp>,
    pub provider_id: Option<String>,
    pub error: Option<String>,
    pub created_date: Timestamp,
    pub updated_date: Timestamp,
    pub sent_date: Option<Timestamp>,
}

/// A message a worker holds a lease on.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub message: Message,
    pub lease: Lease,
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    Sent {
        provider_id: String,
    },
    /// A transient failure: try again at `retry_at`.
    Retry {
        error: String,
        retry_at: Timestamp,
    },
    /// A permanent failure, or the retries ran out.
    Failed {
        error: String,
        /// The provider says the recipient unsubscribed (Twilio 21610): opt them out.
        unsubscribed: bool,
    },
}

impl Delivery {
    pub fn retry_in(error: String, wait: Duration, now: Timestamp) -> Delivery {
        // A wait past the calendar's end (a hostile Retry-After) is clamped, never a panic.
        let wait = time::Duration::try_from(wait).unwrap_or(time::Duration::days(365));
        let at = now
            .datetime()
            .checked_add(wait)
            .unwrap_or(time::OffsetDateTime::now_utc() + time::Duration::days(365));
        Delivery::Retry {
            error,
            retry_at: Timestamp::from_datetime(at),
        }
    }
}

/// A delivery status callback's verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum ProviderStatus {
    Sent,
    Delivered,
    Failed { error: String, unsubscribed: bool },
}

impl ProviderStatus {
    /// Twilio's `MessageStatus` with its `ErrorCode`; `None` for in-between states
    /// (queued, sending, accepted) that change nothing here.
    pub fn of_twilio(status: &str, error_code: Option<&str>) -> Option<ProviderStatus> {
        match status {
            "sent" => Some(ProviderStatus::Sent),
            "delivered" | "read" => Some(ProviderStatus::Delivered),
            "failed" | "undelivered" => {
                let code = error_code.filter(|code| !code.is_empty());
                Some(ProviderStatus::Failed {
                    error: match code {
                        Some(code) => format!("provider reported {status} (error {code})"),
                        None => format!("provider reported {status}"),
                    },
                    unsubscribed: code == Some("21610"),
                })
            }
            _ => None,
        }
    }
}

/// getMessages filters; several combine with AND.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub contact: Option<ContactId>,
    pub channel: Option<Channel>,
    pub status: Option<MessageStatus>,
    /// By the day the message was created (inclusive).
    pub dates: DateRange,
    /// Messages of contacts at one of this workroom's locations (the workroom's `id`).
    pub workroom: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_statuses_map_to_ours() {
        assert_eq!(
            ProviderStatus::of_twilio("delivered", None),
            Some(ProviderStatus::Delivered)
        );
        assert_eq!(ProviderStatus::of_twilio("queued", None), None);
        assert_eq!(
            ProviderStatus::of_twilio("undelivered", Some("30003")),
            Some(ProviderStatus::Failed {
                error: "provider reported undelivered (error 30003)".into(),
                unsubscribed: false,
            })
        );
    }

    #[test]
    fn statuses_and_channels_parse() {
        for status in MessageStatus::ALL {
            assert_eq!(
                MessageStatus::parse("status", status.as_str()).unwrap(),
                status
            );
        }
        assert!(MessageStatus::parse("status", "lost").is_err());
        assert_eq!(Channel::parse("channel", "SMS").unwrap(), Channel::Sms);
        assert!(Channel::parse("channel", "fax").is_err());
    }
}
