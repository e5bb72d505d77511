//! Extractors carry the protocol, so handlers only see parsed, authorised input.

mod app_request;
mod auth;
mod json;

pub use app_request::{AppRequest, AppScoped, require_own_app};
pub use auth::Authenticated;
pub use json::{ApiJson, parse_json};
