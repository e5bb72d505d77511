//! Limits on form-encoded bodies (Twilio's callbacks, the hosted form page), checked
//! before they are decoded: Twilio sends a few dozen short parameters and a form at most
//! 50 fields, so anything far beyond is refused with a 413 rather than decoded.

use crate::error::ApiError;

/// Parameters in one body.
pub const MAX_PARAMS: usize = 256;
/// Bytes of a decoded name or value: Twilio's and a form's fields are short. (JSON bodies
/// have limits of their own, which an operator can raise: `JsonLimits`.)
pub const MAX_STRING_BYTES: usize = 16 * 1024;

/// The `name=value` pairs of a form-encoded body, in order.
pub fn parse(body: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let mut params = 0;
    for pair in body.split(|b| *b == b'&').filter(|pair| !pair.is_empty()) {
        params += 1;
        if params > MAX_PARAMS {
            return Err(ApiError::PayloadTooLarge(format!(
                "the body has more than {MAX_PARAMS} parameters"
            )));
        }
        // Percent-encoding at most triples a byte; the decoded value is checked below.
        if pair.len() > 3 * MAX_STRING_BYTES {
            return Err(too_long(pair));
        }
    }
    let decoded: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| ApiError::bad_request("body", "the body must be form-encoded parameters"))?;
    match decoded
        .iter()
        .find(|(name, value)| name.len() > MAX_STRING_BYTES || value.len() > MAX_STRING_BYTES)
    {
        Some((name, _)) => Err(ApiError::FieldTooLarge {
            message: format!("{name} is longer than {MAX_STRING_BYTES} bytes"),
            field: name.chars().take(64).collect(),
        }),
        None => Ok(decoded),
    }
}

fn too_long(pair: &[u8]) -> ApiError {
    let raw = pair.split(|b| *b == b'=').next().unwrap_or_default();
    let name: String = serde_urlencoded::from_bytes::<Vec<(String, String)>>(raw)
        .ok()
        .and_then(|mut parsed| parsed.pop())
        .map(|(name, _)| name.chars().take(64).collect())
        .unwrap_or_default();
    ApiError::FieldTooLarge {
        message: format!("{name} is longer than {MAX_STRING_BYTES} bytes"),
        field: name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_bodies_decode() {
        let params = parse(b"From=%2B14155550100&Body=hi+there").unwrap();
        assert_eq!(params[1], ("Body".into(), "hi there".into()));
    }

    #[test]
    fn too_many_parameters_are_refused_before_decoding() {
        let body = vec!["a=1"; MAX_PARAMS + 1].join("&");
        assert!(matches!(
            parse(body.as_bytes()),
            Err(ApiError::PayloadTooLarge(_))
        ));
        let fits = vec!["a=1"; MAX_PARAMS].join("&");
        assert_eq!(parse(fits.as_bytes()).unwrap().len(), MAX_PARAMS);
    }

    #[test]
    fn a_long_value_names_its_parameter() {
        for value in [
            "x".repeat(MAX_STRING_BYTES + 1),
            "%41".repeat(MAX_STRING_BYTES + 1),
        ] {
            let body = format!("Body={value}");
            match parse(body.as_bytes()) {
                Err(ApiError::FieldTooLarge { field, .. }) => assert_eq!(field, "Body"),
                other => panic!("expected a 413, got {other:?}"),
            }
        }
    }
}
