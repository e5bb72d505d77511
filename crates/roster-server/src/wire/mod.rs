//! Request and response bodies, exactly as the contract spells them, and their conversion
//! into domain values. Parsing happens here once; handlers get domain types.

pub mod activity_members;
pub mod campaigns;
pub mod contacts;
pub mod engagement;
pub mod events;
pub mod identity;
pub mod lenient;
pub mod members;
pub mod messaging;
pub mod studio;

/// Implements [`crate::extract::AppScoped`] for bodies with an `app_id: Option<String>`.
macro_rules! app_scoped {
    ($($body:ty),* $(,)?) => {$(
        impl $crate::extract::AppScoped for $body {
            fn app_id(&self) -> Option<&str> {
                self.app_id.as_deref()
            }
        }
    )*};
}
pub(crate) use app_scoped;

use serde::Serialize;
use utoipa::ToSchema;

/// A required field: absent, `null` and blank are all "missing".
pub fn required(field: &str, value: Option<String>) -> Result<String, roster_domain::InputError> {
    value.ok_or_else(|| roster_domain::InputError::new(field, format!("{field} is required")))
}

/// `{"members": [...]}`: the shape of every list response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Members<T> {
    pub members: Vec<T>,
}

/// `{"status":"success","_id":"..."}`
#[derive(Debug, Serialize, ToSchema)]
pub struct SuccessWithId {
    #[schema(example = "success")]
    pub status: &'static str,
    #[serde(rename = "_id")]
    pub id: String,
}

/// `{"result":"success"}`
#[derive(Debug, Serialize, ToSchema)]
pub struct ResultSuccess {
    #[schema(example = "success")]
    pub result: &'static str,
}

impl ResultSuccess {
    pub fn new() -> Self {
        Self { result: "success" }
    }
}

impl Default for ResultSuccess {
    fn default() -> Self {
        Self::new()
    }
}

/// `{"status":true,"message":"..."}`
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusMessage {
    pub status: bool,
    pub message: String,
}
