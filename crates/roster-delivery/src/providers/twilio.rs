//! SMS through Twilio's REST API (or any gateway that speaks it): a form-encoded POST to
//! `/2010-04-01/Accounts/{sid}/Messages.json` with basic auth. The message id is sent as
//! `I-Twilio-Idempotency-Token`, so a retry after a lost answer does not send twice.

use std::time::Duration;

use reqwest::StatusCode;
use roster_domain::messaging::{Message, MessagingSettings};
use serde::Deserialize;

use super::SendError;

/// Twilio: "the recipient has unsubscribed" (replied STOP to the sender).
const UNSUBSCRIBED: u32 = 21610;

#[derive(Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct Created {
    sid: String,
}

#[derive(Deserialize)]
struct TwilioError {
    code: Option<u32>,
    message: Option<String>,
}

impl TwilioClient {
    pub fn new(timeout: Duration) -> Self {
        crate::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .expect("an HTTP client with the ring TLS provider");
        Self { http }
    }

    pub async fn send(
        &self,
        settings: &MessagingSettings,
        message: &Message,
        status_callback: Option<String>,
    ) -> Result<String, SendError> {
        let (Some(sid), Some(token)) = (
            settings.twilio_account_sid.as_deref(),
            settings.twilio_auth_token.as_deref(),
        ) else {
            return Err(SendError::permanent(
                "the Twilio provider has no account SID or auth token configured",
            ));
        };
        let url = format!(
            "{}/2010-04-01/Accounts/{sid}/Messages.json",
            settings.twilio_base_url()
        );
        let mut form = vec![
            ("To", message.to.clone()),
            ("Body", message.text.clone().unwrap_or_default()),
        ];
        // A Messaging Service picks the sender itself.
        if message.from.starts_with("MG") {
            form.push(("MessagingServiceSid", message.from.clone()));
        } else {
            form.push(("From", message.from.clone()));
        }
        if let Some(callback) = status_callback {
            form.push(("StatusCallback", callback));
        }
        let response = self
            .http
            .post(url)
            .basic_auth(sid, Some(token))
            .header("I-Twilio-Idempotency-Token", &message.id)
            .form(&form)
            .send()
            .await
            .map_err(|err| {
                SendError::transient(format!("Twilio request failed: {}", describe(&err)))
            })?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = response.text().await.unwrap_or_default();
        if status.is_success() {
            return serde_json::from_str::<Created>(&body)
                .map(|created| created.sid)
                .map_err(|_| {
                    SendError::transient(format!("Twilio answered {status} without a message sid"))
                });
        }
        Err(classify(status, retry_after, &body))
    }
}

fn classify(status: StatusCode, retry_after: Option<Duration>, body: &str) -> SendError {
    let error: Option<TwilioError> = serde_json::from_str(body).ok();
    let code = error.as_ref().and_then(|e| e.code);
    let text = error
        .and_then(|e| e.message)
        .unwrap_or_else(|| body.chars().take(200).collect());
    let reason = match code {
        Some(code) => format!("Twilio {status}, error {code}: {text}"),
        None => format!("Twilio {status}: {text}"),
    };
    if status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
    {
        return SendError::Transient {
            reason,
            retry_after,
        };
    }
    SendError::Permanent {
        reason,
        unsubscribed: code == Some(UNSUBSCRIBED),
    }
}

/// `Retry-After` in seconds (Twilio's form); an HTTP date is ignored (the schedule applies).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        // A day at most: a gateway's mistake must not park a message for years.
        .map(|seconds| Duration::from_secs(seconds.min(86_400)))
}

fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".to_string()
    } else if err.is_connect() {
        "could not connect".to_string()
    } else {
        err.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_decide_retries() {
        let transient = classify(StatusCode::SERVICE_UNAVAILABLE, None, "");
        assert!(matches!(transient, SendError::Transient { .. }));
        let limited = classify(
            StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(7)),
            r#"{"code":20429,"message":"Too Many Requests"}"#,
        );
        assert_eq!(
            limited,
            SendError::Transient {
                reason: "Twilio 429 Too Many Requests, error 20429: Too Many Requests".into(),
                retry_after: Some(Duration::from_secs(7)),
            }
        );
        let invalid = classify(
            StatusCode::BAD_REQUEST,
            None,
            r#"{"code":21211,"message":"The 'To' number is not a valid phone number."}"#,
        );
        assert!(matches!(
            invalid,
            SendError::Permanent {
                unsubscribed: false,
                ..
            }
        ));
        let stopped = classify(
            StatusCode::BAD_REQUEST,
            None,
            r#"{"code":21610,"message":"Attempt to send to unsubscribed recipient"}"#,
        );
        assert!(matches!(
            stopped,
            SendError::Permanent {
                unsubscribed: true,
                ..
            }
        ));
    }
}
