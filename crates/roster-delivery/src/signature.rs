//! Twilio's webhook signature: base64(HMAC-SHA1(auth token, URL + each POST parameter's
//! name and value, sorted by name)), sent as `X-Twilio-Signature`.

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac =
        Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Compares in constant time, so the signature cannot be guessed byte by byte.
pub fn verify(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    let expected = sign(auth_token, url, params);
    expected
        .as_bytes()
        .ct_eq(signature.trim().as_bytes())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of Twilio's security documentation.
    #[test]
    fn matches_twilios_documented_example() {
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675310"),
            ("Digits", "1234"),
            ("From", "+14158675310"),
            ("To", "+18005551212"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let signature = sign("12345", url, &params);
        assert_eq!(signature, "GvWf1cFY/Q7PnoempGyD5oXAezc=");
        assert!(verify("12345", url, &params, &signature));
        assert!(!verify("12345", url, &params[1..], &signature));
        assert!(!verify("wrong", url, &params, &signature));
    }
}
