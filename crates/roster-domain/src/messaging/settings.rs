//! Messaging settings: the server's defaults (configuration) overlaid by an app's own
//! (`roster apps configure`). Every field is optional so that an app stores only what it
//! overrides; the getters supply the built-in defaults.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Channel, Outgoing, Purpose, Template};
use crate::{
    Email, InputError, Phone,
    engagement::schedule::{QuietHours, interval, time_zone},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsProvider {
    Twilio,
    Log,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailProvider {
    Smtp,
    Log,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

/// Parses a setting that names one of an enum's lower-case values (`twilio`, `starttls`...),
/// in any case; the error lists what is allowed.
pub fn parse_choice<T: serde::de::DeserializeOwned>(raw: &str, allowed: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(raw.trim().to_lowercase()))
        .map_err(|_| format!("{raw:?} is not one of {allowed}"))
}

/// A comma-separated list of sender numbers, as configuration and the CLI take it.
pub fn parse_sender_numbers(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect()
}

pub const SMS_PROVIDERS: &str = "twilio, log";
pub const EMAIL_PROVIDERS: &str = "smtp, log";
pub const SMTP_TLS_MODES: &str = "none, starttls, tls";

pub const TWILIO_API: &str = "https://api.twilio.com";
const DEFAULT_MIN_AGE: u32 = 13;

#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagingSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_provider: Option<SmsProvider>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub twilio_base_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub twilio_account_sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub twilio_auth_token: Option<String>,
    /// The app's sender numbers; the first is the default `from`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_from: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_provider: Option<EmailProvider>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_tls: Option<SmtpTls>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_from_name: Option<String>,
    /// The double opt-in request `optin` sends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optin_text: Option<String>,
    /// The answer to HELP / INFO.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help_text: Option<String>,
    /// The one confirmation a STOP gets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optout_text: Option<String>,
    /// The confirmation of START / YES.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optin_confirmation_text: Option<String>,
    /// Minimum age for `optin`, by `dob`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_age: Option<u32>,
    /// The app's IANA time zone (quiet hours of contacts whose location has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Campaign SMS wait out this daily window (`HH:MM-HH:MM` or `none`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quiet_hours_sms: Option<String>,
    /// Campaign email waits out this daily window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quiet_hours_email: Option<String>,
    /// Campaign SMS per second for the app (0: no limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_per_second: Option<u32>,
    /// Campaign emails per second for the app (0: no limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_per_second: Option<u32>,
}

impl MessagingSettings {
    /// `over`'s values where it has them, else ours.
    pub fn overlay(&self, over: &MessagingSettings) -> MessagingSettings {
        macro_rules! pick {
            ($($field:ident),*) => {
                MessagingSettings { $($field: over.$field.clone().or_else(|| self.$field.clone())),* }
            };
        }
        pick!(
            sms_provider,
            twilio_base_url,
            twilio_account_sid,
            twilio_auth_token,
            sms_from,
            email_provider,
            smtp_host,
            smtp_port,
            smtp_tls,
            smtp_username,
            smtp_password,
            email_from,
            email_from_name,
            optin_text,
            help_text,
            optout_text,
            optin_confirmation_text,
            min_age,
            timezone,
            quiet_hours_sms,
            quiet_hours_email,
            sms_per_second,
            email_per_second
        )
    }

    pub fn sms_provider(&self) -> SmsProvider {
        self.sms_provider.unwrap_or(SmsProvider::Log)
    }

    pub fn email_provider(&self) -> EmailProvider {
        self.email_provider.unwrap_or(EmailProvider::Log)
    }

    pub fn twilio_base_url(&self) -> &str {
        self.twilio_base_url
            .as_deref()
            .unwrap_or(TWILIO_API)
            .trim_end_matches('/')
    }

    pub fn smtp_port(&self) -> u16 {
        self.smtp_port.unwrap_or(match self.smtp_tls() {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        })
    }

    pub fn smtp_tls(&self) -> SmtpTls {
        self.smtp_tls.unwrap_or(SmtpTls::Starttls)
    }

    pub fn sender_numbers(&self) -> &[String] {
        self.sms_from.as_deref().unwrap_or_default()
    }

    pub fn min_age(&self) -> u32 {
        self.min_age.unwrap_or(DEFAULT_MIN_AGE)
    }

    pub fn optin_text(&self) -> &str {
        self.optin_text.as_deref().unwrap_or(
            "Reply YES to receive text messages from us. Msg & data rates may apply. Reply STOP to opt out.",
        )
    }

    /// The double opt-in request this app texts to `phone` (its opt-in text, from its
    /// default sender).
    pub fn optin_message(&self, phone: &Phone) -> Result<Outgoing, InputError> {
        Ok(Outgoing {
            channel: Channel::Sms,
            purpose: Purpose::OptinRequest,
            contact: None,
            to: phone.as_str().to_string(),
            from: self.sms_sender(None)?,
            from_name: None,
            reply_to: None,
            subject: None,
            text: Some(Template::parse("optin_text", self.optin_text())?),
            html: None,
        })
    }

    pub fn help_text(&self) -> &str {
        self.help_text.as_deref().unwrap_or(
            "You are subscribed to our text messages. Reply STOP to unsubscribe. Msg & data rates may apply.",
        )
    }

    pub fn optout_text(&self) -> &str {
        self.optout_text.as_deref().unwrap_or(
            "You have been unsubscribed and will receive no more messages. Reply START to resubscribe.",
        )
    }

    pub fn optin_confirmation_text(&self) -> &str {
        self.optin_confirmation_text.as_deref().unwrap_or(
            "You are now subscribed to our text messages. Reply HELP for help, STOP to unsubscribe.",
        )
    }

    /// The SMS sender for a request: `requested` must be one of the app's sender numbers;
    /// without one, the first. The log provider needs no configured number.
    pub fn sms_sender(&self, requested: Option<&str>) -> Result<String, InputError> {
        let numbers = self.sender_numbers();
        match requested {
            Some(number) if numbers.iter().any(|n| n == number) => Ok(number.to_string()),
            Some(number) if numbers.is_empty() && self.sms_provider() == SmsProvider::Log => {
                Ok(number.to_string())
            }
            Some(_) => Err(InputError::new(
                "from_number",
                "from_number is not one of this app's sender numbers",
            )),
            None => match numbers.first() {
                Some(first) => Ok(first.clone()),
                None if self.sms_provider() == SmsProvider::Log => Ok("roster".to_string()),
                None => Err(InputError::new(
                    "from_number",
                    "this app has no SMS sender number: set one with `roster apps configure APP_ID --sms-from NUMBER`",
                )),
            },
        }
    }

    /// The email sender: the request's address, else the app's; the log provider needs
    /// neither.
    pub fn email_sender(&self, requested: Option<&Email>) -> Result<String, InputError> {
        match (requested, &self.email_from) {
            (Some(address), _) => Ok(address.as_str().to_string()),
            (None, Some(address)) => Ok(address.clone()),
            (None, None) if self.email_provider() == EmailProvider::Log => {
                Ok("roster@localhost".to_string())
            }
            (None, None) => Err(InputError::new(
                "from_email",
                "this app has no sender address: give from_email or set one with `roster apps configure APP_ID --email-from ADDRESS`",
            )),
        }
    }

    /// The time zone of quiet hours for contacts whose location names none (default UTC).
    pub fn time_zone(&self) -> jiff::tz::TimeZone {
        self.timezone
            .as_deref()
            .and_then(|name| time_zone("timezone", name).ok())
            .unwrap_or(jiff::tz::TimeZone::UTC)
    }

    /// The channel's quiet hours: by default SMS not 19:30-09:00, email not 00:00-04:00.
    pub fn quiet_hours(&self, channel: Channel) -> Option<QuietHours> {
        let (configured, default) = match channel {
            Channel::Sms => (&self.quiet_hours_sms, "19:30-09:00"),
            Channel::Email => (&self.quiet_hours_email, "00:00-04:00"),
        };
        QuietHours::parse("quiet_hours", configured.as_deref().unwrap_or(default))
            .ok()
            .flatten()
    }

    /// The gap between two campaign messages of the channel (`None`: no limit).
    pub fn send_interval(&self, channel: Channel) -> Option<std::time::Duration> {
        let rate = match channel {
            Channel::Sms => self.sms_per_second,
            Channel::Email => self.email_per_second,
        };
        interval(rate.unwrap_or(0))
    }

    /// Checks the values that are text in the settings (time zone, quiet hours).
    pub fn check(&self) -> Result<(), InputError> {
        if let Some(name) = &self.timezone {
            time_zone("timezone", name)?;
        }
        for (field, value) in [
            ("quiet_hours_sms", &self.quiet_hours_sms),
            ("quiet_hours_email", &self.quiet_hours_email),
        ] {
            if let Some(value) = value {
                QuietHours::parse(field, value)?;
            }
        }
        Ok(())
    }

    /// The same settings with secrets replaced, for display.
    pub fn redacted(&self) -> MessagingSettings {
        let hide = |secret: &Option<String>| secret.as_ref().map(|_| "<redacted>".to_string());
        MessagingSettings {
            twilio_auth_token: hide(&self.twilio_auth_token),
            smtp_password: hide(&self.smtp_password),
            ..self.clone()
        }
    }
}

/// Secrets never reach a log through `{:?}`.
impl fmt::Debug for MessagingSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = serde_json::to_string(&self.redacted()).map_err(|_| fmt::Error)?;
        write!(f, "MessagingSettings{shown}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_prefers_the_app_and_keeps_the_rest() {
        let server = MessagingSettings {
            sms_provider: Some(SmsProvider::Twilio),
            twilio_auth_token: Some("server-token".into()),
            sms_from: Some(vec!["+15550000000".into()]),
            ..Default::default()
        };
        let app = MessagingSettings {
            sms_from: Some(vec!["+15551111111".into()]),
            min_age: Some(18),
            ..Default::default()
        };
        let effective = server.overlay(&app);
        assert_eq!(effective.sms_provider(), SmsProvider::Twilio);
        assert_eq!(effective.twilio_auth_token.as_deref(), Some("server-token"));
        assert_eq!(effective.sender_numbers(), ["+15551111111".to_string()]);
        assert_eq!(effective.min_age(), 18);
        assert_eq!(MessagingSettings::default().min_age(), 13);
    }

    #[test]
    fn debug_hides_secrets() {
        let settings = MessagingSettings {
            twilio_auth_token: Some("s3cret-token".into()),
            smtp_password: Some("s3cret-pass".into()),
            ..Default::default()
        };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}
