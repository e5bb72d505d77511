use axum::extract::{FromRequest, FromRequestParts, Request};
use roster_domain::AppId;
use serde::de::DeserializeOwned;

use super::{ApiJson, Authenticated};
use crate::{error::ApiError, state::AppState};

/// A request body that names its app (`app_id`).
pub trait AppScoped {
    fn app_id(&self) -> Option<&str>;
}

/// An authenticated request whose body's `app_id` is the app that owns the keys:
/// keys first (401), then the body (400), then the app (403).
pub struct AppRequest<T> {
    pub app: AppId,
    pub body: T,
}

impl<T> FromRequest<AppState> for AppRequest<T>
where
    T: DeserializeOwned + AppScoped,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = req.into_parts();
        let auth = Authenticated::from_request_parts(&mut parts, state).await?;
        let ApiJson(body) =
            ApiJson::<T>::from_request(Request::from_parts(parts, body), state).await?;
        let app = require_own_app(&auth, body.app_id())?;
        Ok(Self { app, body })
    }
}

/// The contract's 403: valid keys used with another app's `app_id`.
pub fn require_own_app(auth: &Authenticated, app_id: Option<&str>) -> Result<AppId, ApiError> {
    match app_id {
        None => Err(ApiError::bad_request("app_id", "app_id is required")),
        Some(id) if id == auth.app_id.as_str() => Ok(auth.app_id.clone()),
        Some(_) => Err(ApiError::Forbidden(
            "these keys do not belong to this app_id".into(),
        )),
    }
}
