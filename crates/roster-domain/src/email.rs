use std::{fmt, str::FromStr};

use email_address::EmailAddress;

use crate::InputError;

/// An email address as given (trimmed) plus its lower-cased form, which is what identity
/// matching compares (contract: email matches are case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    address: String,
    normalized: String,
}

impl Email {
    pub fn parse(field: &str, raw: &str) -> Result<Self, InputError> {
        let address = raw.trim();
        let invalid = || InputError::new(field, format!("{field} must be a valid email address"));
        let parsed = EmailAddress::from_str(address).map_err(|_| invalid())?;
        // RFC 5321 allows `user@localhost` and quoted local parts; a studio member's inbox
        // is always on a dotted domain, and a typo caught here is a bounce avoided later.
        let domain_ok = parsed.domain().contains('.')
            && !parsed.domain().starts_with('.')
            && !parsed.domain().ends_with('.');
        if !domain_ok || address.len() > 254 || address.contains(['"', ' ']) {
            return Err(invalid());
        }
        Ok(Self {
            address: address.to_string(),
            normalized: address.to_lowercase(),
        })
    }

    /// For addresses read back from storage, which only holds addresses this type parsed.
    pub fn from_trusted(address: String) -> Self {
        let normalized = address.to_lowercase();
        Self {
            address,
            normalized,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.address
    }

    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn addresses_keep_their_case_and_match_lower_cased() {
        let email = Email::parse("email", "  Ana.Lopez@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Ana.Lopez@Example.COM");
        assert_eq!(email.normalized(), "ana.lopez@example.com");
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@localhost",
            "ana@@example.com",
            "ana example@x.com",
            "ana@example.",
        ] {
            assert_eq!(
                Email::parse("email", bad).unwrap_err().field,
                "email",
                "{bad}"
            );
        }
    }

    proptest! {
        #[test]
        fn simple_addresses_parse(local in "[a-z0-9._%+-]{1,20}", domain in "[a-z0-9-]{1,20}", tld in "[a-z]{2,6}") {
            prop_assume!(!local.starts_with('.') && !local.ends_with('.') && !local.contains(".."));
            prop_assume!(!domain.starts_with('-') && !domain.ends_with('-'));
            let raw = format!("{local}@{domain}.{tld}");
            let email = Email::parse("email", &raw).unwrap();
            prop_assert_eq!(email.normalized(), raw.to_lowercase());
        }

        #[test]
        fn parsing_never_panics(raw in "\\PC{0,40}") {
            let _ = Email::parse("email", &raw);
        }
    }
}
