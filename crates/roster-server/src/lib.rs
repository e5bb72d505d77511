//! Roster's HTTP server: the Gleantap External API v2 (`shared/gleantap/api.md`) on axum.
//!
//! Layout: `wire` holds request and response bodies, `extract` the protocol (auth, JSON),
//! `routes` one file per group of endpoints, `error` the one mapping of errors to HTTP.

pub mod credentials;
pub mod error;
pub mod extract;
pub mod limits;
pub mod openapi;
pub mod protection;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod wire;

pub use roster_delivery::{DeliverySettings, Outbox};
pub use settings::{JsonLimits, ProtectionSettings, ServerSettings};
pub use startup::Application;
