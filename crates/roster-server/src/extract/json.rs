use axum::{
    body::Bytes,
    extract::{FromRef, FromRequest, Request},
    http::{StatusCode, header},
};
use serde::de::DeserializeOwned;

use crate::{JsonLimits, error::ApiError};

/// A JSON body: `Content-Type: application/json` (else 415), within the body limit (else
/// 413), parsed with the path of the offending field in any 400.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    JsonLimits: FromRef<S>,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        require_json_content_type(&req)?;
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge("request body is larger than the server accepts".into())
            } else {
                ApiError::BadRequest {
                    message: format!("could not read the request body: {rejection}"),
                    field: None,
                }
            }
        })?;
        parse_json(&bytes, &JsonLimits::from_ref(state)).map(ApiJson)
    }
}

fn require_json_content_type(req: &Request) -> Result<(), ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json")) {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(
            "request body must be JSON with Content-Type: application/json".into(),
        ))
    }
}

/// Parses a JSON document into `T`, naming the field at fault; first checks its shape
/// (depth, string, array and object sizes: `protection::json`).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8], limits: &JsonLimits) -> Result<T, ApiError> {
    crate::protection::json::check(bytes, limits)?;
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        json_error(&path, err.into_inner())
    })?;
    deserializer.end().map_err(|err| ApiError::BadRequest {
        message: format!("malformed JSON: {err}"),
        field: None,
    })?;
    Ok(value)
}

fn json_error(path: &str, err: serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let message = err.to_string();
    if matches!(
        err.classify(),
        Category::Syntax | Category::Eof | Category::Io
    ) {
        return ApiError::BadRequest {
            message: format!("malformed JSON: {message}"),
            field: None,
        };
    }
    // serde reports a missing field at the level of its parent; name the field itself.
    if let Some(missing) = message
        .strip_prefix("missing field `")
        .and_then(|m| m.split('`').next())
    {
        let field = if path == "." {
            missing.to_string()
        } else {
            format!("{path}.{missing}")
        };
        return ApiError::bad_request(field.clone(), format!("{field} is required"));
    }
    if path == "." {
        return ApiError::BadRequest {
            message: "request body must be a JSON object".into(),
            field: None,
        };
    }
    let detail = message.split(" at line ").next().unwrap_or(&message);
    ApiError::bad_request(path, format!("{path}: {detail}"))
}
