//! Legacy v1 (contract Part C): the opt-in/opt-out lists with the keys in the body.

use axum::{Json, extract::State};
use serde::Deserialize;
use utoipa::ToSchema;

use super::ErrorResponses;
use crate::{
    error::ApiError,
    extract::{ApiJson, Authenticated},
    state::AppState,
    wire::{
        Members, lenient,
        members::{OptinMember, OptoutMember},
    },
};
use roster_domain::Page;

/// v1 list body: the keys pick the app.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LegacyListBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub api_key: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub secret_key: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub limit: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub offset: Option<i64>,
}

impl LegacyListBody {
    async fn authenticate(&self, state: &AppState) -> Result<(Authenticated, Page), ApiError> {
        let missing = |name: &str| ApiError::Unauthorized(format!("missing {name}"));
        let api_key = self.api_key.as_deref().ok_or_else(|| missing("api_key"))?;
        let secret_key = self
            .secret_key
            .as_deref()
            .ok_or_else(|| missing("secret_key"))?;
        let auth = Authenticated::check(state, api_key, secret_key).await?;
        Ok((auth, Page::parse(self.limit, self.offset)?))
    }
}

/// v1 getOptinCustomers.
#[utoipa::path(post, path = "/v1/ExternalApi/getOptinCustomers", tag = "legacy v1",
    request_body = LegacyListBody,
    responses((status = 200, body = Members<OptinMember>), ErrorResponses))]
pub async fn get_optin_customers(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LegacyListBody>,
) -> Result<Json<Members<OptinMember>>, ApiError> {
    let (auth, page) = body.authenticate(&state).await?;
    let contacts = state.store.sms_optins(&auth.app_id, page).await?;
    Ok(Json(Members {
        members: contacts.into_iter().map(OptinMember::from).collect(),
    }))
}

/// v1 getOptoutCustomers (email and SMS opt-outs).
#[utoipa::path(post, path = "/v1/ExternalApi/getOptoutCustomers", tag = "legacy v1",
    request_body = LegacyListBody,
    responses((status = 200, body = Members<OptoutMember>), ErrorResponses))]
pub async fn get_optout_customers(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LegacyListBody>,
) -> Result<Json<Members<OptoutMember>>, ApiError> {
    let (auth, page) = body.authenticate(&state).await?;
    let contacts = state.store.optouts(&auth.app_id, None, page).await?;
    Ok(Json(Members {
        members: contacts
            .into_iter()
            .map(|c| OptoutMember::new(c, None))
            .collect(),
    }))
}
