//! Who may be sent what. Consent belongs to an address: every contact of the app that has
//! the number (or email) counts, so a second record for the same member can neither
//! bypass an opt-out nor stand in for a missing opt-in.

use super::Channel;
use crate::{Date, InputError};

/// One contact's consent, as far as sending decides.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConsentState {
    pub sms_optin: bool,
    pub sms_optout: bool,
    pub email_optout: bool,
}

/// The consent of every contact that has the recipient's address.
#[derive(Debug, Clone, Default)]
pub struct Recipients(pub Vec<ConsentState>);

/// Why an address may not be sent a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    OptedOut,
    NotOptedIn,
}

impl Recipients {
    /// The one consent rule of sending: SMS needs an opt-in and no opt-out; email needs
    /// no opt-in, only the absence of an opt-out.
    pub fn refusal(&self, channel: Channel) -> Option<Refusal> {
        match channel {
            Channel::Sms if self.0.iter().any(|c| c.sms_optout) => Some(Refusal::OptedOut),
            Channel::Sms if !self.0.iter().any(|c| c.sms_optin) => Some(Refusal::NotOptedIn),
            Channel::Email if self.0.iter().any(|c| c.email_optout) => Some(Refusal::OptedOut),
            _ => None,
        }
    }

    /// SMS needs an opt-in and no opt-out.
    pub fn may_text(&self) -> Result<(), InputError> {
        match self.refusal(Channel::Sms) {
            Some(Refusal::OptedOut) => Err(InputError::new(
                "to_number",
                "to_number has opted out of SMS (they can reply START to opt in again)",
            )),
            Some(Refusal::NotOptedIn) => Err(InputError::new(
                "to_number",
                "to_number has not opted in to SMS: no contact with this number has SMS consent",
            )),
            None => Ok(()),
        }
    }

    /// Whether the double opt-in request may be sent: not to a number that said STOP.
    pub fn may_ask_for_optin(&self) -> Result<(), InputError> {
        if self.0.iter().any(|c| c.sms_optout) {
            return Err(InputError::new(
                "phone",
                "phone has opted out of SMS: the member must text START to opt in again",
            ));
        }
        Ok(())
    }

    /// Email needs no opt-in, only the absence of an opt-out.
    pub fn may_email(&self) -> Result<(), InputError> {
        if self.refusal(Channel::Email).is_some() {
            return Err(InputError::new(
                "to_email",
                "to_email has opted out of email",
            ));
        }
        Ok(())
    }
}

/// A change of consent, recorded with its source and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentChange {
    SmsOptin,
    SmsOptout,
    /// Double opt-in started: the request was sent, the reply is awaited.
    SmsPending,
    EmailOptout,
    EmailOptoutCleared,
}

impl ConsentChange {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentChange::SmsOptin => "sms_optin",
            ConsentChange::SmsOptout => "sms_optout",
            ConsentChange::SmsPending => "sms_optin_pending",
            ConsentChange::EmailOptout => "email_optout",
            ConsentChange::EmailOptoutCleared => "email_optout_cleared",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentSource {
    /// newContact's `optin_sms` / `optout_email`, or the `optin` endpoint.
    Api,
    /// An inbound SMS keyword (STOP, START, YES).
    Keyword,
    /// The provider said the recipient unsubscribed (Twilio error 21610).
    ProviderError,
    /// mergeContacts combined two contacts' consent.
    Merge,
    /// A form's consent checkbox.
    Form,
}

impl ConsentSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentSource::Api => "api",
            ConsentSource::Keyword => "keyword",
            ConsentSource::ProviderError => "provider_error",
            ConsentSource::Merge => "merge",
            ConsentSource::Form => "form",
        }
    }
}

/// The contract's `optin`: "400 when the contact is under the app's minimum age".
pub fn check_minimum_age(dob: Date, today: Date, minimum: u32) -> Result<(), InputError> {
    let age = dob.years_until(today.inner());
    if age < 0 || (age as u32) < minimum {
        return Err(InputError::new(
            "dob",
            format!("the contact must be at least {minimum} years old to opt in to SMS"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const IN: ConsentState = ConsentState {
        sms_optin: true,
        sms_optout: false,
        email_optout: false,
    };
    const OUT: ConsentState = ConsentState {
        sms_optin: false,
        sms_optout: true,
        email_optout: true,
    };

    #[test]
    fn sms_needs_an_optin_and_no_optout() {
        assert!(Recipients(vec![IN]).may_text().is_ok());
        assert!(Recipients(vec![]).may_text().is_err());
        assert!(
            Recipients(vec![ConsentState::default()])
                .may_text()
                .is_err()
        );
        let err = Recipients(vec![IN, OUT]).may_text().unwrap_err();
        assert!(err.message.contains("opted out"));
    }

    #[test]
    fn email_needs_only_no_optout() {
        assert!(Recipients(vec![]).may_email().is_ok());
        assert!(
            Recipients(vec![ConsentState::default()])
                .may_email()
                .is_ok()
        );
        assert!(Recipients(vec![IN, OUT]).may_email().is_err());
    }

    #[test]
    fn minimum_age_counts_whole_years() {
        let today = Date::parse("d", "2026-11-28").unwrap();
        let thirteen_today = Date::parse("dob", "2013-11-28").unwrap();
        let thirteen_tomorrow = Date::parse("dob", "2013-11-29").unwrap();
        assert!(check_minimum_age(thirteen_today, today, 13).is_ok());
        assert_eq!(
            check_minimum_age(thirteen_tomorrow, today, 13)
                .unwrap_err()
                .field,
            "dob"
        );
        assert!(check_minimum_age(thirteen_tomorrow, today, 0).is_ok());
    }
}
