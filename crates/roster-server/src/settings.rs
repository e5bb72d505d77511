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
        }
    }
}
