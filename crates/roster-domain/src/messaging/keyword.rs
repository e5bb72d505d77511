//! Inbound SMS keywords (the carrier conventions, as Twilio applies them): matched against
//! the whole trimmed message, case-insensitively, so "Stop" opts out but "stop by later"
//! is just a message.

use super::{Channel, Outgoing, Purpose, Template};
use crate::InputError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    OptOut,
    /// START, UNSTOP; also YES, which in addition completes a pending double opt-in.
    OptIn {
        yes: bool,
    },
    Help,
}

const OPT_OUT: &[&str] = &[
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
];
const OPT_IN: &[&str] = &["START", "UNSTOP"];
const HELP: &[&str] = &["HELP", "INFO"];

impl Keyword {
    pub fn of(text: &str) -> Option<Keyword> {
        let word = text.trim().to_ascii_uppercase();
        if OPT_OUT.contains(&word.as_str()) {
            Some(Keyword::OptOut)
        } else if OPT_IN.contains(&word.as_str()) {
            Some(Keyword::OptIn { yes: false })
        } else if word == "YES" {
            Some(Keyword::OptIn { yes: true })
        } else if HELP.contains(&word.as_str()) {
            Some(Keyword::Help)
        } else {
            None
        }
    }
}

/// The texts an app answers keywords with.
#[derive(Debug, Clone)]
pub struct KeywordReplies {
    pub optout: String,
    pub optin: String,
    pub help: String,
}

impl KeywordReplies {
    /// The answer to `keyword` from `member` to the app's number `app_number`. A STOP gets
    /// its one confirmation; a START only when some contact has the number (otherwise
    /// there is nothing they were subscribed to).
    pub fn reply(
        &self,
        keyword: Keyword,
        member: &str,
        app_number: &str,
        known_number: bool,
    ) -> Result<Option<Outgoing>, InputError> {
        let text = match keyword {
            Keyword::OptOut => &self.optout,
            Keyword::OptIn { .. } if known_number => &self.optin,
            Keyword::OptIn { .. } => return Ok(None),
            Keyword::Help => &self.help,
        };
        Ok(Some(Outgoing {
            channel: Channel::Sms,
            purpose: Purpose::KeywordReply,
            contact: None,
            to: member.to_string(),
            from: app_number.to_string(),
            from_name: None,
            reply_to: None,
            subject: None,
            text: Some(Template::parse("reply", text)?),
            html: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_message_case_insensitive() {
        for word in OPT_OUT {
            assert_eq!(
                Keyword::of(&format!("  {} \n", word.to_lowercase())),
                Some(Keyword::OptOut)
            );
        }
        assert_eq!(Keyword::of("Start"), Some(Keyword::OptIn { yes: false }));
        assert_eq!(Keyword::of("unstop"), Some(Keyword::OptIn { yes: false }));
        assert_eq!(Keyword::of("yes"), Some(Keyword::OptIn { yes: true }));
        assert_eq!(Keyword::of("info"), Some(Keyword::Help));
        assert_eq!(Keyword::of("stop it please"), None);
        assert_eq!(Keyword::of("see you at yoga"), None);
    }
}
