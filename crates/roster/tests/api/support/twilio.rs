//! A Twilio-compatible fake on a real socket: a small axum app serving
//! `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` like Twilio does (basic auth,
//! form-encoded parameters, Twilio's error JSON, `I-Twilio-Idempotency-Token`), with
//! scripted faults and delays, connection resets, and outages (the port refuses
//! connections until the fake comes back on the same port).
#![allow(dead_code)]

use std::{
    collections::{HashMap, VecDeque},
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    task::{Context, Poll, Waker},
    time::Duration,
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{ConnectInfo, Path, State, connect_info::Connected},
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::post,
    serve::{IncomingStream, Listener},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
    time::Instant,
};

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
    /// The request is not processed: the connection is reset (RST) without an answer.
    Reset,
    /// The request is processed (and recorded); the answer is cut off: the status line,
    /// headers and part of the body go out, then the connection is reset.
    ResetMidResponse,
    /// The other fault's answer, given only after `delay` (e.g. a slow 429).
    Late { delay: Duration, then: Box<Fault> },
}

/// How the fake answered one request, as [`TwilioFake::log`] shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A new message: recorded in [`TwilioFake::delivered`].
    Accepted,
    /// A 201 repeating the first answer for an idempotency token already seen.
    Replayed,
    /// Any other status (scripted or not); `retry_after` as sent.
    Refused {
        status: u16,
        retry_after: Option<u64>,
    },
    /// Reset without being processed.
    Reset,
    /// Accepted, then the answer was cut off by a reset.
    AcceptedThenReset,
}

/// One POST the fake received.
#[derive(Clone, Debug)]
pub struct Request {
    pub token: Option<String>,
    /// When the request arrived.
    pub arrived: Instant,
    /// When its answer went out (after any delay); `None` while pending or if the
    /// client hung up first.
    pub answered: Option<Instant>,
    pub outcome: Outcome,
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
    connections: AtomicUsize,
    inner: Mutex<Inner>,
    /// Whether the fake should be listening; [`TwilioFake::go_down`] clears it.
    up: watch::Sender<bool>,
    /// Whether the port is bound right now (follows `up`).
    listening: watch::Sender<bool>,
    /// Open connections, so that an outage can reset them.
    open: Mutex<Vec<Weak<ConnState>>>,
}

#[derive(Default)]
struct Inner {
    delivered: Vec<FakeSms>,
    /// Idempotency token -> the 201 body first returned for it.
    by_token: HashMap<String, Value>,
    faults: VecDeque<Fault>,
    delay: Duration,
    log: Vec<Request>,
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
            connections: AtomicUsize::new(0),
            inner: Mutex::new(Inner::default()),
            up: watch::Sender::new(true),
            listening: watch::Sender::new(true),
            open: Mutex::default(),
        });
        let app = Router::new()
            .route(
                "/2010-04-01/Accounts/{account_sid}/Messages.json",
                post(create_message),
            )
            .fallback(not_found)
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind twilio fake");
        let addr = listener.local_addr().unwrap();
        let listener = FaultListener {
            addr,
            listener: Some(listener),
            state: state.clone(),
        };
        // hyper handles each connection in its own task: a client hanging up mid-request
        // only drops that request.
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app.into_make_service_with_connect_info::<Conn>()).await;
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

    /// Connections accepted so far (while up).
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Every request to the Messages resource, in order of arrival.
    pub fn log(&self) -> Vec<Request> {
        self.state.inner.lock().unwrap().log.clone()
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

    /// An outage: open connections are reset and the port is closed, so connecting is
    /// refused, until [`TwilioFake::come_back`]. Returns once the port is closed.
    pub async fn go_down(&self) {
        self.state.up.send_replace(false);
        let open: Vec<_> = std::mem::take(&mut *self.state.open.lock().unwrap());
        for conn in open.iter().filter_map(Weak::upgrade) {
            conn.kill();
        }
        let mut listening = self.state.listening.subscribe();
        listening
            .wait_for(|listening| !*listening)
            .await
            .expect("twilio fake running");
    }

    /// Listens again, on the same port. Returns once it does.
    pub async fn come_back(&self) {
        self.state.up.send_replace(true);
        let mut listening = self.state.listening.subscribe();
        listening
            .wait_for(|listening| *listening)
            .await
            .expect("twilio fake running");
    }
}

/// The fake's listener: accepts while up; during an outage the socket is closed (the
/// kernel refuses connections) and is bound again, on the same address, when back up.
struct FaultListener {
    addr: SocketAddr,
    listener: Option<TcpListener>,
    state: Arc<Shared>,
}

impl Listener for FaultListener {
    type Io = FaultIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (FaultIo, SocketAddr) {
        let mut up = self.state.up.subscribe();
        loop {
            if !*up.borrow_and_update() {
                self.listener = None;
                self.state.listening.send_replace(false);
                let _ = up.wait_for(|up| *up).await;
                continue;
            }
            let Some(listener) = &self.listener else {
                match bind_again(self.addr) {
                    Ok(listener) => {
                        self.listener = Some(listener);
                        self.state.listening.send_replace(true);
                    }
                    // The port may linger for a moment; it is ours, so keep trying.
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
                continue;
            };
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, remote)) => {
                        if !*self.state.up.borrow() {
                            continue;
                        }
                        self.state.connections.fetch_add(1, Ordering::SeqCst);
                        let conn = Arc::new(ConnState::default());
                        let mut open = self.state.open.lock().unwrap();
                        open.retain(|c| c.strong_count() > 0);
                        open.push(Arc::downgrade(&conn));
                        return (FaultIo { stream, conn }, remote);
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                },
                _ = up.changed() => {}
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }
}

fn bind_again(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// One connection's kill switch: once killed, its next read or write fails and the
/// socket is closed with SO_LINGER 0, which sends an RST.
#[derive(Default)]
struct ConnState {
    killed: AtomicBool,
    reader: Mutex<Option<Waker>>,
}

impl ConnState {
    fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        if let Some(waker) = self.reader.lock().unwrap().take() {
            waker.wake();
        }
    }
}

/// A connection whose handler can reset it.
struct FaultIo {
    stream: TcpStream,
    conn: Arc<ConnState>,
}

impl FaultIo {
    fn reset_if_killed(&self) -> Option<io::Error> {
        if !self.conn.killed.load(Ordering::SeqCst) {
            return None;
        }
        let _ = self.stream.set_zero_linger();
        Some(io::Error::from(io::ErrorKind::ConnectionReset))
    }
}

impl AsyncRead for FaultIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(err) = self.reset_if_killed() {
            return Poll::Ready(Err(err));
        }
        *self.conn.reader.lock().unwrap() = Some(cx.waker().clone());
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for FaultIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(err) = self.reset_if_killed() {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Some(err) = self.reset_if_killed() {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(err) = self.reset_if_killed() {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(err) = self.reset_if_killed() {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The handler's view of its connection.
#[derive(Clone)]
struct Conn(Arc<ConnState>);

impl Connected<IncomingStream<'_, FaultListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, FaultListener>) -> Self {
        Conn(stream.io().conn.clone())
    }
}

async fn create_message(
    State(state): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    Path(path_sid): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let arrived = Instant::now();
    let (fault, delay) = {
        let mut inner = state.inner.lock().unwrap();
        (inner.faults.pop_front(), inner.delay)
    };
    let request = Incoming {
        path_sid: &path_sid,
        path: uri.path(),
        headers: &headers,
        body: &body,
    };
    let mut answer = answer(&state, &request, fault);
    answer.delay += delay;
    let token = headers
        .get(IDEMPOTENCY_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let index = {
        let mut inner = state.inner.lock().unwrap();
        inner.log.push(Request {
            token,
            arrived,
            answered: None,
            outcome: answer.outcome.clone(),
        });
        inner.log.len() - 1
    };
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    state.inner.lock().unwrap().log[index].answered = Some(Instant::now());
    match answer.cut {
        Cut::None => answer.response,
        Cut::Reset => {
            conn.0.kill();
            answer.response
        }
        Cut::MidResponse => cut_off(answer.response, conn).await,
    }
}

/// The parts of a request that processing needs.
struct Incoming<'a> {
    path_sid: &'a str,
    path: &'a str,
    headers: &'a HeaderMap,
    body: &'a [u8],
}

struct Answer {
    response: Response,
    outcome: Outcome,
    delay: Duration,
    cut: Cut,
}

enum Cut {
    None,
    /// Reset instead of answering.
    Reset,
    /// Part of the answer, then a reset.
    MidResponse,
}

/// What the fault (or, without one, normal processing) makes of the request.
fn answer(state: &Shared, request: &Incoming<'_>, fault: Option<Fault>) -> Answer {
    let refused = |response: Response| {
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()?.parse().ok());
        Answer {
            outcome: Outcome::Refused {
                status: response.status().as_u16(),
                retry_after,
            },
            response,
            delay: Duration::ZERO,
            cut: Cut::None,
        }
    };
    match fault {
        Some(Fault::Status(status)) => {
            let status = StatusCode::from_u16(status).expect("fault status");
            let message = status.canonical_reason().unwrap_or("Error");
            refused(twilio_error(
                status,
                20000 + u32::from(status.as_u16()),
                message,
            ))
        }
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            let mut response =
                twilio_error(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests");
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            refused(response)
        }
        Some(Fault::Reject {
            status,
            code,
            message,
        }) => refused(twilio_error(
            StatusCode::from_u16(status).expect("fault status"),
            code,
            &message,
        )),
        Some(Fault::Delay(d)) => {
            let mut answer = answer(state, request, None);
            answer.delay += d;
            answer
        }
        Some(Fault::Late { delay, then }) => {
            let mut answer = answer(state, request, Some(*then));
            answer.delay += delay;
            answer
        }
        Some(Fault::Reset) => Answer {
            response: StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            outcome: Outcome::Reset,
            delay: Duration::ZERO,
            cut: Cut::Reset,
        },
        Some(Fault::ResetMidResponse) => {
            let mut answer = answer(state, request, None);
            if answer.outcome == Outcome::Accepted {
                answer.outcome = Outcome::AcceptedThenReset;
            }
            answer.cut = Cut::MidResponse;
            answer
        }
        None => {
            let (response, outcome) = accept(
                state,
                request.path_sid,
                request.path,
                request.headers,
                request.body,
            );
            match outcome {
                Some(outcome) => Answer {
                    response,
                    outcome,
                    delay: Duration::ZERO,
                    cut: Cut::None,
                },
                None => refused(response),
            }
        }
    }
}

/// Sends the status line, the headers (with the full `Content-Length`) and half the body,
/// then resets the connection.
async fn cut_off(response: Response, conn: Conn) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let (first, rest) = bytes.split_at(bytes.len() / 2);
    let (first, rest) = (Bytes::copy_from_slice(first), Bytes::copy_from_slice(rest));
    let chunks = futures::stream::unfold(0u8, move |step| {
        let (first, rest, conn) = (first.clone(), rest.clone(), conn.clone());
        async move {
            match step {
                0 => Some((Ok::<_, io::Error>(first), 1)),
                1 => {
                    // Let the first half reach the client before the reset.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    conn.0.kill();
                    Some((Ok(rest), 2))
                }
                _ => None,
            }
        }
    });
    let mut response = Response::from_parts(parts, Body::from_stream(chunks));
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    response
}

/// Auth, validation, idempotency and recording, all under one lock (no await). The
/// outcome is `None` for a refusal.
fn accept(
    state: &Shared,
    path_sid: &str,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> (Response, Option<Outcome>) {
    let refused = |response: Response| (response, None);
    if !authorized(state, headers) {
        let mut response = twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Twilio API\""),
        );
        return refused(response);
    }
    if path_sid != state.account_sid {
        return refused(twilio_error(
            StatusCode::NOT_FOUND,
            20404,
            &format!("The requested resource {path} was not found"),
        ));
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
        return (
            (StatusCode::CREATED, axum::Json(previous.clone())).into_response(),
            Some(Outcome::Replayed),
        );
    }

    let Some(to) = param("To") else {
        return refused(twilio_error(
            StatusCode::BAD_REQUEST,
            21604,
            "A 'To' phone number is required.",
        ));
    };
    let from = param("From");
    let messaging_service_sid = param("MessagingServiceSid");
    if from.is_none() && messaging_service_sid.is_none() {
        return refused(twilio_error(
            StatusCode::BAD_REQUEST,
            21603,
            "A 'From' phone number is required.",
        ));
    }
    let has_media = param("MediaUrl").is_some() || param("ContentSid").is_some();
    let body_text = param("Body");
    if body_text.is_none() && !has_media {
        return refused(twilio_error(
            StatusCode::BAD_REQUEST,
            21602,
            "Message body is required.",
        ));
    }
    let body_text = body_text.unwrap_or_default();
    if body_text.chars().count() > 1600 {
        return refused(twilio_error(
            StatusCode::BAD_REQUEST,
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        ));
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
    (
        (StatusCode::CREATED, axum::Json(resource)).into_response(),
        Some(Outcome::Accepted),
    )
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
