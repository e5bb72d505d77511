//! Apps (tenants) and their credentials. The API key identifies the app; the secret key is
//! stored only as a SHA-256 digest and checked in constant time.

use std::fmt;

use rand::{Rng, distr::Alphanumeric};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// An app's id, as it appears in request bodies and paths.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppId(String);

impl AppId {
    pub fn new(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The public half of an app's credentials (`X-API-KEY`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// SHA-256 of a secret key. Secrets are random and long, so a fast hash is enough; a slow
/// password hash would only cost every request time.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    pub fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    pub fn from_hex(hex_digest: &str) -> Option<Self> {
        let bytes = hex::decode(hex_digest).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Constant-time comparison of a presented secret with the stored digest.
    pub fn matches(&self, presented_secret: &str) -> bool {
        Self::of(presented_secret).0.ct_eq(&self.0).into()
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

/// What the store keeps for authenticating an app.
#[derive(Debug, Clone)]
pub struct AppCredentials {
    pub app_id: AppId,
    pub name: String,
    pub api_key: ApiKey,
    pub secret_hash: SecretHash,
}

/// Freshly generated keys: the only moment the plain secret exists.
pub struct NewAppKeys {
    pub api_key: ApiKey,
    pub secret_key: String,
}

impl NewAppKeys {
    pub fn generate() -> Self {
        Self {
            api_key: ApiKey(random_token(32)),
            secret_key: random_token(48),
        }
    }

    pub fn secret_hash(&self) -> SecretHash {
        SecretHash::of(&self.secret_key)
    }
}

/// A fresh secret for `rotate-secret`.
pub fn generate_secret() -> String {
    random_token(48)
}

fn random_token(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_matches_only_its_own_hash() {
        let keys = NewAppKeys::generate();
        let hash = keys.secret_hash();
        assert!(hash.matches(&keys.secret_key));
        assert!(!hash.matches("not-the-secret"));
        assert!(!hash.matches(""));
    }

    #[test]
    fn hashes_round_trip_through_hex() {
        let hash = SecretHash::of("s3cret");
        assert_eq!(SecretHash::from_hex(&hash.to_hex()), Some(hash));
        assert_eq!(SecretHash::from_hex("nothex"), None);
    }

    #[test]
    fn generated_keys_are_long_and_distinct() {
        let (a, b) = (NewAppKeys::generate(), NewAppKeys::generate());
        assert_eq!(a.api_key.as_str().len(), 32);
        assert_eq!(a.secret_key.len(), 48);
        assert_ne!(a.api_key, b.api_key);
        assert_ne!(a.secret_key, b.secret_key);
    }
}
