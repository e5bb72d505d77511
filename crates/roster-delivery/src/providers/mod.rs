//! Providers: who actually carries a message. Each answers with the provider's message id
//! or a [`SendError`] that says whether trying again can help.

use std::time::Duration;

pub mod log;
pub mod smtp;
pub mod twilio;

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq)]
pub enum SendError {
    /// Connection trouble, timeouts, 429, 5xx: worth another attempt, not before
    /// `retry_after` when the provider said so.
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// The provider refused this message (invalid number, bad address, unsubscribed).
    Permanent { reason: String, unsubscribed: bool },
}

impl SendError {
    pub fn transient(reason: impl Into<String>) -> Self {
        SendError::Transient {
            reason: reason.into(),
            retry_after: None,
        }
    }

    pub fn permanent(reason: impl Into<String>) -> Self {
        SendError::Permanent {
            reason: reason.into(),
            unsubscribed: false,
        }
    }
}
