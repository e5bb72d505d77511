//! An in-process SMTP server on a real socket (127.0.0.1:0), written by hand on tokio.
//!
//! It speaks enough ESMTP for `lettre` without TLS: EHLO/HELO (advertising `8BITMIME` and
//! `AUTH PLAIN LOGIN`, never `STARTTLS`), AUTH PLAIN/LOGIN (any password), MAIL, RCPT,
//! DATA, RSET, NOOP and QUIT. Accepted messages are recorded; faults and delays can be
//! scripted for the greeting and the end of DATA, a connection can be dropped mid-DATA,
//! and the server can go down (port closed, sessions cut) and come back on the same port.
#![allow(dead_code)]

use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use base64::{Engine, engine::general_purpose::STANDARD};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

/// One message the server accepted (a 250 at the end of DATA).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The reverse path of `MAIL FROM:<...>`, without the angle brackets.
    pub mail_from: String,
    /// The forward paths of every accepted `RCPT TO:<...>`, in order.
    pub rcpt_to: Vec<String>,
    /// The message as sent between `DATA` and the final ".", dot-stuffing undone,
    /// every line ending in CRLF.
    pub data: String,
    /// The authentication identity of AUTH PLAIN / AUTH LOGIN on that connection.
    pub auth_user: Option<String>,
}

impl ReceivedMail {
    /// The first top-level header called `name` (case-insensitive), unfolded, with
    /// RFC 2047 encoded words (`=?utf-8?b?...?=`) decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        let (head, _) = split_head(&self.data);
        header_in(head, name).map(|raw| decode_encoded_words(&raw))
    }

    /// The raw body: everything after the first blank line.
    pub fn body(&self) -> String {
        split_head(&self.data).1.to_string()
    }

    /// The body with every transfer encoding undone: for multipart messages, the
    /// decoded leaf parts joined by newlines.
    pub fn text(&self) -> String {
        decoded_text(&self.data)
    }

    /// Whether `needle` is in the raw data or in the decoded text (base64 and
    /// quoted-printable bodies, also inside multipart messages).
    pub fn text_contains(&self, needle: &str) -> bool {
        self.data.contains(needle) || self.text().contains(needle)
    }
}

/// A handle on a running server; clones share it. The listener stops when the last
/// handle is dropped.
#[derive(Clone)]
pub struct SmtpServer {
    port: u16,
    state: Arc<State>,
    _task: Arc<AbortOnDrop>,
}

struct State {
    received: Mutex<Vec<ReceivedMail>>,
    faults: Mutex<VecDeque<(u16, String)>>,
    greeting_faults: Mutex<VecDeque<(u16, String)>>,
    /// DATA sections still to be cut off by a reset.
    drops: AtomicUsize,
    delay: Mutex<Duration>,
    attempts: AtomicUsize,
    queued: AtomicUsize,
    connections: AtomicUsize,
    /// Whether the server should be listening; [`SmtpServer::go_down`] clears it.
    up: watch::Sender<bool>,
    /// Whether the port is bound right now (follows `up`).
    listening: watch::Sender<bool>,
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl SmtpServer {
    pub async fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind smtp");
        let addr = listener.local_addr().unwrap();
        let port = addr.port();
        let state = Arc::new(State {
            received: Mutex::default(),
            faults: Mutex::default(),
            greeting_faults: Mutex::default(),
            drops: AtomicUsize::new(0),
            delay: Mutex::default(),
            attempts: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            up: watch::Sender::new(true),
            listening: watch::Sender::new(true),
        });
        let task = tokio::spawn(serve(listener, addr, state.clone()));
        SmtpServer {
            port,
            state,
            _task: Arc::new(AbortOnDrop(task)),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every accepted message so far, in order.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.state.received.lock().unwrap().clone()
    }

    /// Polls until at least `n` messages were accepted; panics after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "fake SMTP: waited {timeout:?} for {n} message(s), got {} \
                     ({} DATA attempt(s)); received: {received:#?}",
                    received.len(),
                    self.attempts(),
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The next `count` messages are refused at the end of DATA with `code text`
    /// (e.g. 451 temporary, 550 permanent) and not recorded. Calls queue up.
    pub fn fail_next(&self, count: usize, code: u16, text: &str) {
        let mut faults = self.state.faults.lock().unwrap();
        faults.extend(std::iter::repeat_n((code, text.to_string()), count));
    }

    /// Sleep this long before answering the end of DATA (accepted or refused).
    /// If the client hangs up meanwhile, the message is still recorded, as a real
    /// server that already took the data might deliver it.
    pub fn set_delay(&self, d: Duration) {
        *self.state.delay.lock().unwrap() = d;
    }

    /// DATA sections finished (the final "." read), accepted or refused.
    pub fn attempts(&self) -> usize {
        self.state.attempts.load(Ordering::SeqCst)
    }

    /// Connections accepted so far (while up).
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// The next `count` connections are greeted with `code text` (e.g. 421, busy) and
    /// closed. Calls queue up.
    pub fn refuse_next_connections(&self, count: usize, code: u16, text: &str) {
        let mut faults = self.state.greeting_faults.lock().unwrap();
        faults.extend(std::iter::repeat_n((code, text.to_string()), count));
    }

    /// The next `count` DATA sections are cut off after their first lines: the
    /// connection is reset (RST) and nothing is recorded.
    pub fn drop_next_mid_data(&self, count: usize) {
        self.state.drops.fetch_add(count, Ordering::SeqCst);
    }

    /// An outage: open sessions are cut and the port is closed, so connecting is refused,
    /// until [`SmtpServer::come_back`]. Returns once the port is closed.
    pub async fn go_down(&self) {
        self.state.up.send_replace(false);
        let mut listening = self.state.listening.subscribe();
        listening
            .wait_for(|listening| !*listening)
            .await
            .expect("smtp server running");
    }

    /// Listens again, on the same port. Returns once it does.
    pub async fn come_back(&self) {
        self.state.up.send_replace(true);
        let mut listening = self.state.listening.subscribe();
        listening
            .wait_for(|listening| *listening)
            .await
            .expect("smtp server running");
    }
}

/// Accepts sessions while up; during an outage the listening socket is closed and every
/// session of the last up period is cut; back up, it binds the same address again.
async fn serve(listener: TcpListener, addr: std::net::SocketAddr, state: Arc<State>) {
    let mut listener = Some(listener);
    let mut up = state.up.subscribe();
    let mut sessions = CancellationToken::new();
    loop {
        if !*up.borrow_and_update() {
            listener = None;
            sessions.cancel();
            sessions = CancellationToken::new();
            state.listening.send_replace(false);
            if up.wait_for(|up| *up).await.is_err() {
                return;
            }
            continue;
        }
        let Some(bound) = &listener else {
            match bind_again(addr) {
                Ok(bound) => {
                    listener = Some(bound);
                    state.listening.send_replace(true);
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
            continue;
        };
        tokio::select! {
            accepted = bound.accept() => {
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                state.connections.fetch_add(1, Ordering::SeqCst);
                let state = state.clone();
                let cut = sessions.clone();
                tokio::spawn(async move {
                    // A client hanging up mid-session is fine: nothing is recorded.
                    tokio::select! {
                        _ = session(stream, &state) => {}
                        () = cut.cancelled() => {}
                    }
                });
            }
            _ = up.changed() => {}
        }
    }
}

fn bind_again(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// One SMTP session until QUIT or the client hangs up.
async fn session(stream: TcpStream, state: &State) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut reply = async |text: String| write.write_all(text.as_bytes()).await;

    let greeting_fault = state.greeting_faults.lock().unwrap().pop_front();
    if let Some((code, text)) = greeting_fault {
        reply(format!("{code} {text}\r\n")).await?;
        return Ok(());
    }
    reply("220 roster-fake-smtp ESMTP ready\r\n".into()).await?;
    let mut auth_user: Option<String> = None;
    let mut mail_from: Option<String> = None;
    let mut rcpt_to: Vec<String> = Vec::new();

    while let Some(line) = read_line(&mut reader).await? {
        let (verb, arg) = match line.split_once(' ') {
            Some((verb, arg)) => (verb.to_ascii_uppercase(), arg.trim().to_string()),
            None => (line.trim().to_ascii_uppercase(), String::new()),
        };
        match verb.as_str() {
            "EHLO" => {
                mail_from = None;
                rcpt_to.clear();
                reply(format!(
                    "250-roster-fake-smtp greets {arg}\r\n250-8BITMIME\r\n250 AUTH PLAIN LOGIN\r\n"
                ))
                .await?;
            }
            "HELO" => {
                mail_from = None;
                rcpt_to.clear();
                reply(format!("250 roster-fake-smtp greets {arg}\r\n")).await?;
            }
            "AUTH" => {
                let (mechanism, initial) = match arg.split_once(' ') {
                    Some((m, i)) => (m.to_ascii_uppercase(), Some(i.trim().to_string())),
                    None => (arg.to_ascii_uppercase(), None),
                };
                let user = match mechanism.as_str() {
                    "PLAIN" => {
                        let response = match initial {
                            Some(initial) => initial,
                            None => {
                                reply("334 \r\n".into()).await?;
                                read_line(&mut reader).await?.unwrap_or_default()
                            }
                        };
                        // authzid NUL authcid NUL password
                        decode_b64(&response)
                            .and_then(|plain| plain.split('\0').nth(1).map(str::to_string))
                    }
                    "LOGIN" => {
                        let username = match initial {
                            Some(initial) => initial,
                            None => {
                                reply("334 VXNlcm5hbWU6\r\n".into()).await?; // "Username:"
                                read_line(&mut reader).await?.unwrap_or_default()
                            }
                        };
                        reply("334 UGFzc3dvcmQ6\r\n".into()).await?; // "Password:"
                        let password = read_line(&mut reader).await?.unwrap_or_default();
                        decode_b64(&username).filter(|_| password.trim() != "*")
                    }
                    _ => {
                        reply("504 5.5.4 Unrecognized authentication type\r\n".into()).await?;
                        continue;
                    }
                };
                match user {
                    Some(user) => {
                        auth_user = Some(user);
                        reply("235 2.7.0 Authentication successful\r\n".into()).await?;
                    }
                    None => reply("501 5.5.2 Cannot decode response\r\n".into()).await?,
                }
            }
            "MAIL" => match path_arg(&arg, "FROM:") {
                Some(from) => {
                    mail_from = Some(from);
                    rcpt_to.clear();
                    reply("250 2.1.0 OK\r\n".into()).await?;
                }
                None => reply("501 5.5.4 Syntax: MAIL FROM:<address>\r\n".into()).await?,
            },
            "RCPT" => match (&mail_from, path_arg(&arg, "TO:")) {
                (None, _) => reply("503 5.5.1 Error: need MAIL command\r\n".into()).await?,
                (Some(_), Some(to)) => {
                    rcpt_to.push(to);
                    reply("250 2.1.5 OK\r\n".into()).await?;
                }
                (Some(_), None) => reply("501 5.5.4 Syntax: RCPT TO:<address>\r\n".into()).await?,
            },
            "DATA" => {
                if mail_from.is_none() || rcpt_to.is_empty() {
                    reply("503 5.5.1 Error: need RCPT command\r\n".into()).await?;
                    continue;
                }
                reply("354 End data with <CR><LF>.<CR><LF>\r\n".into()).await?;
                let cut_off = state
                    .drops
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                let mut data = String::new();
                let mut lines = 0;
                loop {
                    // Hanging up inside DATA: nothing recorded, not an attempt.
                    let Some(line) = read_line(&mut reader).await? else {
                        return Ok(());
                    };
                    if line == "." {
                        break;
                    }
                    lines += 1;
                    if cut_off && lines == 3 {
                        let _ = reader.get_ref().as_ref().set_zero_linger();
                        return Ok(());
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                    data.push_str("\r\n");
                }
                state.attempts.fetch_add(1, Ordering::SeqCst);
                let delay = *state.delay.lock().unwrap();
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let fault = state.faults.lock().unwrap().pop_front();
                let mail = ReceivedMail {
                    mail_from: mail_from.take().unwrap_or_default(),
                    rcpt_to: std::mem::take(&mut rcpt_to),
                    data,
                    auth_user: auth_user.clone(),
                };
                match fault {
                    Some((code, text)) => reply(format!("{code} {text}\r\n")).await?,
                    None => {
                        state.received.lock().unwrap().push(mail);
                        let id = state.queued.fetch_add(1, Ordering::SeqCst) + 1;
                        reply(format!("250 2.0.0 OK: queued as {id}\r\n")).await?;
                    }
                }
            }
            "RSET" => {
                mail_from = None;
                rcpt_to.clear();
                reply("250 2.0.0 OK\r\n".into()).await?;
            }
            "NOOP" => reply("250 2.0.0 OK\r\n".into()).await?,
            "QUIT" => {
                reply("221 2.0.0 Bye\r\n".into()).await?;
                return Ok(());
            }
            _ => reply("502 5.5.2 Error: command not recognized\r\n".into()).await?,
        }
    }
    Ok(())
}

/// One line without its CRLF (or bare LF); `None` at end of stream.
async fn read_line(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    if reader.read_until(b'\n', &mut buf).await? == 0 {
        return Ok(None);
    }
    if buf.ends_with(b"\n") {
        buf.pop();
        if buf.ends_with(b"\r") {
            buf.pop();
        }
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

/// `FROM:<a@b> BODY=8BITMIME` -> `a@b` (the null path `<>` gives "").
fn path_arg(arg: &str, keyword: &str) -> Option<String> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg[keyword.len()..].trim_start();
    let path = match rest.strip_prefix('<') {
        Some(inner) => &inner[..inner.find('>')?],
        None => rest.split_whitespace().next()?,
    };
    Some(path.to_string())
}

fn decode_b64(text: &str) -> Option<String> {
    let bytes = STANDARD.decode(text.trim()).ok()?;
    String::from_utf8(bytes).ok()
}

/// Header block and body, split at the first blank line.
fn split_head(data: &str) -> (&str, &str) {
    for sep in ["\r\n\r\n", "\n\n"] {
        if let Some(at) = data.find(sep) {
            return (&data[..at], &data[at + sep.len()..]);
        }
    }
    (data, "")
}

/// Unfolded value of the first header `name` in a header block.
fn header_in(head: &str, name: &str) -> Option<String> {
    let mut found: Option<String> = None;
    for line in head.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with([' ', '\t']) {
            if let Some(value) = found.as_mut() {
                value.push_str(line);
            }
            continue;
        }
        if found.is_some() {
            break;
        }
        if let Some((key, value)) = line.split_once(':')
            && key.trim().eq_ignore_ascii_case(name)
        {
            found = Some(value.trim_start().to_string());
        }
    }
    found.map(|value| value.trim().to_string())
}

/// A parameter of a structured header value: `boundary` of `multipart/mixed; boundary="x"`.
fn header_param(value: &str, param: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|part| {
        let (key, val) = part.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(param)
            .then(|| val.trim().trim_matches('"').to_string())
    })
}

/// Decoded text of a MIME entity: leaf bodies with their transfer encoding undone.
fn decoded_text(entity: &str) -> String {
    let (head, body) = split_head(entity);
    let content_type = header_in(head, "Content-Type").unwrap_or_default();
    if content_type.to_ascii_lowercase().starts_with("multipart/")
        && let Some(boundary) = header_param(&content_type, "boundary")
    {
        let delimiter = format!("--{boundary}");
        let mut parts = Vec::new();
        for chunk in body.split(&delimiter).skip(1) {
            if chunk.starts_with("--") {
                break; // the closing delimiter
            }
            let part = chunk.trim_start_matches(['\r', '\n']);
            parts.push(decoded_text(part));
        }
        return parts.join("\n");
    }
    let encoding = header_in(head, "Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    match encoding.as_str() {
        "base64" => {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            match STANDARD.decode(compact) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(_) => body.to_string(),
            }
        }
        "quoted-printable" => String::from_utf8_lossy(&decode_qp(body, false)).into_owned(),
        _ => body.to_string(),
    }
}

/// Quoted-printable (RFC 2045); with `q_encoding`, the RFC 2047 "Q" variant (`_` is space).
fn decode_qp(text: &str, q_encoding: bool) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if bytes[i + 1..].starts_with(b"\r\n") => i += 3, // soft line break
            b'=' if bytes[i + 1..].starts_with(b"\n") => i += 2,
            b'=' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                    }
                    None => {
                        out.push(b'=');
                        i += 1;
                    }
                }
            }
            b'_' if q_encoding => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

/// Decodes RFC 2047 encoded words (charset assumed UTF-8, as lettre writes them);
/// whitespace between two adjacent encoded words is dropped.
fn decode_encoded_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut pending_space = String::new();
    let mut last_was_word = false;
    while !rest.is_empty() {
        if let Some((decoded, after)) = encoded_word(rest) {
            if !last_was_word {
                out.push_str(&pending_space);
            }
            pending_space.clear();
            out.push_str(&decoded);
            rest = after;
            last_was_word = true;
            continue;
        }
        let ch = rest.chars().next().unwrap();
        if ch.is_whitespace() {
            pending_space.push(ch);
        } else {
            out.push_str(&pending_space);
            pending_space.clear();
            out.push(ch);
            last_was_word = false;
        }
        rest = &rest[ch.len_utf8()..];
    }
    out.push_str(&pending_space);
    out
}

/// `=?charset?B|Q?text?=` at the start of `s`: its decoded text and the rest.
fn encoded_word(s: &str) -> Option<(String, &str)> {
    let inner = s.strip_prefix("=?")?;
    let (_charset, inner) = inner.split_once('?')?;
    let (encoding, inner) = inner.split_once('?')?;
    let end = inner.find("?=")?;
    let text = &inner[..end];
    if text.contains(char::is_whitespace) {
        return None;
    }
    let bytes = match encoding {
        "B" | "b" => STANDARD.decode(text).ok()?,
        "Q" | "q" => decode_qp(text, true),
        _ => return None,
    };
    Some((
        String::from_utf8_lossy(&bytes).into_owned(),
        &inner[end + 2..],
    ))
}
