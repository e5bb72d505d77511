//! A Twilio-compatible fake on a real socket: a small axum app serving
//! `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` like Twilio does (basic auth,
//! form-encoded parameters, Twilio's error JSON, `I-Twilio-Idempotency-Token`), with
//! scripted faults and delays.
#![allow(dead_code)]

use std::{
    collections::{HashMap, VecDeque},
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::post,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// One message Twilio accepted (a 201), duplicates by idempotency token excluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeSms {
    pub sid: String,
    pub to: String,
    /// The `From` parameter; empty when only `MessagingServiceSid` was given.
    pub from: String,
    pub body: String,
    pub messaging_service_sid: Option<String>,
    pub status_callback: Option<String>,
    pub idempotency_token: Option<String>,
}

/// A scripted answer, consumed in order by the next requests, before auth and validation.
#[derive(Clone, Debug)]
pub enum Fault {
    /// That status with Twilio's error JSON (code 20000 + status, e.g. 20500, 20503).
    Status(u16),
    /// 429 with `Retry-After` and code 20429.
    TooManyRequests { retry_after_secs: u64 },
    /// That status and Twilio error code, e.g. 400 / 21211 (invalid 'To' number) or
    /// 400 / 21610 (recipient unsubscribed).
    Reject {
        status: u16,
        code: u32,
        message: String,
    },
    /// The request is processed normally (and recorded) at once; the answer comes after
    /// the delay.
    Delay(Duration),
}

/// A handle on a running fake; clones share it. The server stops when the last handle
/// is dropped.
#[derive(Clone)]
pub struct TwilioFake {
    addr: SocketAddr,
    state: Arc<Shared>,
    _task: Arc<AbortOnDrop>,
}

struct Shared {
    account_sid: String,
    auth_token: String,
    requests: AtomicUsize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    delivered: Vec<FakeSms>,
    /// Idempotency token -> the 201 body first returned for it.
    by_token: HashMap<String, Value>,
    faults: VecDeque<Fault>,
    delay: Duration,
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

const IDEMPOTENCY_HEADER: &str = "i-twilio-idempotency-token";

impl TwilioFake {
    pub async fn start(account_sid: &str, auth_token: &str) -> TwilioFake {
        let state = Arc::new(Shared {
            account_sid: account_sid.to_string(),
            auth_token: auth_token.to_string(),
            requests: AtomicUsize::new(0),
            inner: Mutex::new(Inner::default()),
        });
        let app = Router::new()
            .route(
                "/2010-04-01/Accounts/{account_sid}/Messages.json",
                post(create_message),
            )
            .fallback(not_found)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind twilio fake");
        let addr = listener.local_addr().unwrap();
        // hyper handles each connection in its own task: a client hanging up mid-request
        // only drops that request.
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TwilioFake {
            addr,
            state,
            _task: Arc::new(AbortOnDrop(task)),
        }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Unique accepted messages, in order.
    pub fn delivered(&self) -> Vec<FakeSms> {
        self.state.inner.lock().unwrap().delivered.clone()
    }

    /// Every POST received: accepted, refused, faulted and duplicate.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Polls until at least `n` messages were accepted; panics after `timeout`.
    pub async fn wait_for_delivered(&self, n: usize, timeout: Duration) -> Vec<FakeSms> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let delivered = self.delivered();
            if delivered.len() >= n {
                return delivered;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "fake Twilio: waited {timeout:?} for {n} message(s), got {} \
                     ({} request(s)); delivered: {delivered:#?}",
                    delivered.len(),
                    self.requests(),
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Queues a fault for the next request that has none yet.
    pub fn push_fault(&self, fault: Fault) {
        self.state.inner.lock().unwrap().faults.push_back(fault);
    }

    /// Delays every answer (after processing, like [`Fault::Delay`]).
    pub fn set_delay(&self, d: Duration) {
        self.state.inner.lock().unwrap().delay = d;
    }
}

async fn create_message(
    State(state): State<Arc<Shared>>,
    Path(path_sid): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let (fault, mut delay) = {
        let mut inner = state.inner.lock().unwrap();
        (inner.faults.pop_front(), inner.delay)
    };
    let response = match fault {
        Some(Fault::Status(status)) => {
            let status = StatusCode::from_u16(status).expect("fault status");
            let message = status.canonical_reason().unwrap_or("Error");
            twilio_error(status, 20000 + u32::from(status.as_u16()), message)
        }
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            let mut response =
                twilio_error(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests");
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            response
        }
        Some(Fault::Reject {
            status,
            code,
            message,
        }) => twilio_error(
            StatusCode::from_u16(status).expect("fault status"),
            code,
            &message,
        ),
        Some(Fault::Delay(d)) => {
            delay += d;
            accept(&state, &path_sid, uri.path(), &headers, &body)
        }
        None => accept(&state, &path_sid, uri.path(), &headers, &body),
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    response
}

/// Auth, validation, idempotency and recording, all under one lock (no await).
fn accept(
    state: &Shared,
    path_sid: &str,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if !authorized(state, headers) {
        let mut response = twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Twilio API\""),
        );
        return response;
    }
    if path_sid != state.account_sid {
        return twilio_error(
            StatusCode::NOT_FOUND,
            20404,
            &format!("The requested resource {path} was not found"),
        );
    }
    let params = parse_form(body);
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .filter(|value| !value.is_empty())
    };
    let token = headers
        .get(IDEMPOTENCY_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);

    let mut inner = state.inner.lock().unwrap();
    if let Some(previous) = token.as_ref().and_then(|t| inner.by_token.get(t)) {
        return (StatusCode::CREATED, axum::Json(previous.clone())).into_response();
    }

    let Some(to) = param("To") else {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21604,
            "A 'To' phone number is required.",
        );
    };
    let from = param("From");
    let messaging_service_sid = param("MessagingServiceSid");
    if from.is_none() && messaging_service_sid.is_none() {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21603,
            "A 'From' phone number is required.",
        );
    }
    let has_media = param("MediaUrl").is_some() || param("ContentSid").is_some();
    let body_text = param("Body");
    if body_text.is_none() && !has_media {
        return twilio_error(StatusCode::BAD_REQUEST, 21602, "Message body is required.");
    }
    let body_text = body_text.unwrap_or_default();
    if body_text.chars().count() > 1600 {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        );
    }

    let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
    let account_sid = &state.account_sid;
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap();
    // Twilio answers "accepted" when a Messaging Service picks the sender.
    let status = if from.is_some() { "queued" } else { "accepted" };
    let resource = json!({
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "body": body_text,
        "date_created": now,
        "date_sent": null,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": null,
        "error_message": null,
        "from": from,
        "messaging_service_sid": messaging_service_sid,
        "num_media": if has_media { "1" } else { "0" },
        "num_segments": segments(&body_text).to_string(),
        "price": null,
        "price_unit": "USD",
        "sid": sid,
        "status": status,
        "subresource_uris": {
            "media": format!("/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media.json"),
        },
        "to": to,
        "uri": format!("/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json"),
    });
    inner.delivered.push(FakeSms {
        sid,
        to,
        from: from.unwrap_or_default(),
        body: body_text,
        messaging_service_sid,
        status_callback: param("StatusCallback"),
        idempotency_token: token.clone(),
    });
    if let Some(token) = token {
        inner.by_token.insert(token, resource.clone());
    }
    (StatusCode::CREATED, axum::Json(resource)).into_response()
}

async fn not_found(State(state): State<Arc<Shared>>, method: Method, uri: Uri) -> Response {
    if method == Method::POST {
        state.requests.fetch_add(1, Ordering::SeqCst);
    }
    twilio_error(
        StatusCode::NOT_FOUND,
        20404,
        &format!("The requested resource {} was not found", uri.path()),
    )
}

fn authorized(state: &Shared, headers: &HeaderMap) -> bool {
    let Some(encoded) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, rest) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then_some(rest.trim())
        })
    else {
        return false;
    };
    let Some(decoded) = STANDARD
        .decode(encoded)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
    else {
        return false;
    };
    decoded.split_once(':') == Some((state.account_sid.as_str(), state.auth_token.as_str()))
}

/// Twilio's error body: `{"code", "message", "more_info", "status"}`.
fn twilio_error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status.as_u16(),
    });
    (status, axum::Json(body)).into_response()
}

/// `application/x-www-form-urlencoded` pairs, in order.
fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.iter().position(|&b| b == b'=') {
            Some(at) => (percent_decode(&pair[..at]), percent_decode(&pair[at + 1..])),
            None => (percent_decode(pair), String::new()),
        })
        .collect()
}

fn percent_decode(text: &[u8]) -> String {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text
                    .get(i + 1..i + 3)
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// SMS segments as Twilio counts them: GSM-7 (160, or 153 per part) when every
/// character is in the GSM alphabet, UCS-2 (70, or 67 per part) otherwise.
fn segments(body: &str) -> usize {
    const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                         ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
    const EXTENDED: &str = "^{}\\[~]|€\u{c}";
    let gsm: Option<usize> = body
        .chars()
        .map(|c| {
            if BASIC.contains(c) {
                Some(1)
            } else if EXTENDED.contains(c) {
                Some(2)
            } else {
                None
            }
        })
        .sum();
    let (units, single, part) = match gsm {
        Some(septets) => (septets, 160, 153),
        None => (body.encode_utf16().count(), 70, 67),
    };
    if units <= single {
        1
    } else {
        units.div_ceil(part)
    }
}
