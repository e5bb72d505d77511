use std::{fmt, str::FromStr};

use phonenumber::{Mode, country};

use crate::InputError;

/// The region used for numbers written without a country code (`--default-region`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhoneRegion(country::Id);

impl PhoneRegion {
    pub fn parse(raw: &str) -> Result<Self, String> {
        country::Id::from_str(&raw.trim().to_ascii_uppercase())
            .map(Self)
            .map_err(|_| format!("unknown phone region {raw:?}: use an ISO 3166 code such as US"))
    }
}

impl Default for PhoneRegion {
    fn default() -> Self {
        Self(country::Id::US)
    }
}

impl fmt::Display for PhoneRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// A phone number in E.164 (`+14155550123`): the form stored and compared.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    pub fn parse(field: &str, raw: &str, region: PhoneRegion) -> Result<Self, InputError> {
        let invalid = || InputError::new(field, format!("{field} must be a valid phone number"));
        let raw = raw.trim();
        if raw.len() > 32 {
            return Err(invalid());
        }
        // A number with its country code needs no default region, and must not get one:
        // the parser read "+4312000" (Vienna) as "+432000" with region US, so the stored
        // E.164 form did not parse back to itself (found by the parser property test).
        let default_region = (!raw.starts_with('+')).then_some(region.0);
        let number = phonenumber::parse(default_region, raw).map_err(|_| invalid())?;
        // "12345" parses; only a number valid for its region is one we can text.
        if !number.is_valid() {
            return Err(invalid());
        }
        Ok(Self(number.format().mode(Mode::E164).to_string()))
    }

    pub fn from_trusted(e164: String) -> Self {
        Self(e164)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn us(raw: &str) -> Result<Phone, InputError> {
        Phone::parse("phone", raw, PhoneRegion::default())
    }

    #[test]
    fn a_number_with_its_country_code_ignores_the_default_region() {
        for region in ["US", "GB", "AT"] {
            let region = PhoneRegion::parse(region).unwrap();
            let vienna = Phone::parse("phone", "+4312000", region).unwrap();
            assert_eq!(vienna.as_str(), "+4312000", "{region}");
        }
    }

    #[test]
    fn national_and_international_forms_agree() {
        for raw in [
            "(415) 555-2671",
            "415-555-2671",
            "+1 415 555 2671",
            "14155552671",
            "+14155552671",
        ] {
            assert_eq!(us(raw).unwrap().as_str(), "+14155552671", "{raw}");
        }
    }

    #[test]
    fn the_default_region_applies_to_national_numbers() {
        let gb = PhoneRegion::parse("gb").unwrap();
        assert_eq!(
            Phone::parse("phone", "020 7946 0018", gb).unwrap().as_str(),
            "+442079460018"
        );
    }

    #[test]
    fn short_or_impossible_numbers_are_rejected() {
        for bad in ["12345", "", "abc", "+1 000 000 0000", "555-2671"] {
            assert_eq!(us(bad).unwrap_err().field, "phone", "{bad}");
        }
    }

    #[test]
    fn unknown_regions_are_a_configuration_error() {
        assert!(PhoneRegion::parse("XX").is_err());
    }

    proptest! {
        #[test]
        fn valid_us_numbers_normalise_to_e164(area in 201u32..989, exchange in 200u32..999, line in 0u32..9999) {
            let raw = format!("({area}) {exchange}-{line:04}");
            if let Ok(phone) = us(&raw) {
                prop_assert_eq!(phone.as_str(), format!("+1{area}{exchange}{line:04}"));
                prop_assert_eq!(us(phone.as_str()).unwrap(), phone);
            }
        }

        #[test]
        fn parsing_never_panics(raw in "\\PC{0,40}") {
            let _ = us(&raw);
        }
    }
}
