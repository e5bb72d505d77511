use std::{net::SocketAddr, time::Duration};

use roster_delivery::DeliverySettings;
use roster_domain::PhoneRegion;

/// What the HTTP server needs to know; the CLI builds it from the layered configuration.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    /// Request bodies above this many bytes are answered 413.
    pub max_body_bytes: usize,
    /// Region for phone numbers written without a country code.
    pub default_region: PhoneRegion,
    /// How long in-flight requests may take to finish after shutdown begins.
    pub shutdown_grace: Duration,
    /// Messaging: providers, retries, workers.
    pub delivery: DeliverySettings,
    /// Hosted form submissions per client address and minute (0: no limit).
    pub form_submissions_per_minute: u32,
    /// Per-app rate limit, request timeout and concurrency bound.
    pub protection: ProtectionSettings,
}

/// What keeps one client or one burst from taking the server down (README, "Protection").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectionSettings {
    /// Requests per second each app may make, on average, once authenticated (0: no limit).
    pub rate_per_second: u32,
    /// Requests an app may make back to back after a quiet spell (the bucket's size).
    pub rate_burst: u32,
    /// Longest a request may take; then it is abandoned and answered 503 (zero: no limit).
    pub request_timeout: Duration,
    /// API requests handled at once; one more is answered 503 at once (0: no limit).
    pub max_concurrent_requests: usize,
    /// The shape JSON bodies may have.
    pub json: JsonLimits,
}

/// Limits on the shape of a JSON body, on top of its size (README, "Protection"): a body
/// within the size limit still must not nest without end, carry a megabyte string in an
/// `event_data` value, or an array of a hundred thousand items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonLimits {
    /// Objects and arrays inside each other, the body itself being level 1.
    pub max_depth: usize,
    /// Bytes of any string or field name, except the top-level message bodies (`html`,
    /// `text`, `message`, `body`), which have their own rule.
    pub max_string_bytes: usize,
    /// Items of any array (the API's own lists stop far earlier: 500 memberships, 100 tags).
    pub max_array_items: usize,
    /// Fields of any object (newContact: its fields plus 200 custom attributes).
    pub max_object_fields: usize,
}

impl JsonLimits {
    /// The deepest nesting a limit may allow: serde_json refuses to parse past 128 levels,
    /// and a body that deep would get its parse error instead of this limit's.
    pub const DEEPEST: usize = 100;
    /// The least each limit may be: what the API's own bodies need, so that no limit can
    /// turn a request the contract accepts into a 413. Bodies nest three levels
    /// (addMemberships: body, list, membership); a custom attribute value may be 4 KiB;
    /// addMemberships takes 500 items; newContact has its fields plus 200 custom
    /// attributes.
    pub const LEAST: JsonLimits = JsonLimits {
        max_depth: 4,
        max_string_bytes: 4 * 1024,
        max_array_items: 500,
        max_object_fields: 256,
    };
}

impl Default for JsonLimits {
    fn default() -> Self {
        Self {
            max_depth: 32,
            max_string_bytes: 16 * 1024,
            max_array_items: 1000,
            max_object_fields: 256,
        }
    }
}

impl ProtectionSettings {
    /// No rate limit, no concurrency bound, no timeout (the JSON limits stay).
    pub fn off() -> Self {
        Self {
            rate_per_second: 0,
            rate_burst: 0,
            request_timeout: Duration::ZERO,
            max_concurrent_requests: 0,
            json: JsonLimits::default(),
        }
    }
}

impl Default for ProtectionSettings {
    /// Far above what a studio's integration sends, bulk syncs included.
    fn default() -> Self {
        Self {
            rate_per_second: 1000,
            rate_burst: 2000,
            request_timeout: Duration::from_secs(30),
            max_concurrent_requests: 1024,
            json: JsonLimits::default(),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 1024 * 1024,
            default_region: PhoneRegion::default(),
            shutdown_grace: Duration::from_secs(30),
            delivery: DeliverySettings::default(),
            form_submissions_per_minute: 10,
            protection: ProtectionSettings::default(),
        }
    }
}
