//! A real headless browser for tests of HTML pages: a minimal W3C WebDriver client (over
//! reqwest) for the chromedriver that `.ci/browser.sh start` runs, found through
//! `TEST_WEBDRIVER_URL`. Each [`Browser`] is one session: a fresh Chromium (headless, with a
//! phone's 390 x 844 viewport, see [`VIEWPORT`]) with a fresh profile folder.
//!
//! ```ignore
//! let Some(webdriver) = browser::webdriver_url("forms::renders") else { return };
//! let browser = browser::start(&webdriver).await;
//! browser.goto(&app.url("/forms/abc")).await;
//! browser.press_tab().await;
//! browser.type_keys("Ada").await;
//! browser.find("button[type=submit]").await.click().await;
//! browser.wait_for("#thanks", Duration::from_secs(5)).await;
//! browser.quit().await;
//! ```
//!
//! Every call panics with a clear message (the WebDriver command, its error, the page's URL)
//! when it fails; tests need no `Result` handling. Call [`Browser::quit`] at the end of a test:
//! dropping a `Browser` without it ends the session too, but from `Drop`, on a thread of its
//! own, blocking the test's runtime for up to a few seconds.
//!
//! chromedriver must run on this machine: the browser's profile folder is a temp folder
//! created by the test process.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};
use tempfile::TempDir;

/// The W3C key of an element reference in WebDriver JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The Chromium binary chromedriver starts (Debian's `chromium` package).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Command-line flags of every browser. Without the background-networking ones Chromium keeps
/// calling Google's servers (component updates, sync, QUIC probes) on a closed network.
pub const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=390,844",
];

/// The page's viewport in CSS pixels (`window.innerWidth`, `innerHeight`): a phone's.
pub const VIEWPORT: (u32, u32) = (390, 844);

/// WebDriver key codes, for [`Browser::type_keys`] and [`Element::send_keys`].
pub mod keys {
    pub const TAB: &str = "\u{E004}";
    pub const ENTER: &str = "\u{E007}";
    pub const SHIFT: &str = "\u{E008}";
    pub const ESCAPE: &str = "\u{E00C}";
    pub const SPACE: &str = "\u{E00D}";
    pub const BACKSPACE: &str = "\u{E003}";
}

/// How long one WebDriver command may take (a page load included) before the test fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The chromedriver of this run, or `None` after saying loudly that `test` is skipped
/// (a failure instead under `ROSTER_REQUIRE_SERVICES=1`).
pub fn webdriver_url(test: &str) -> Option<String> {
    crate::support::require_service("TEST_WEBDRIVER_URL", test)
}

/// Starts a fresh browser session on the WebDriver server at `webdriver_url`.
pub async fn start(webdriver_url: &str) -> Browser {
    Browser::start(webdriver_url).await
}

/// One WebDriver session: where its commands go.
#[derive(Clone, Debug)]
struct Session {
    client: reqwest::Client,
    /// `{webdriver}/session/{id}`
    base: String,
}

impl Session {
    /// Sends one command; its `value` on success, or the WebDriver error.
    async fn try_command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WebDriverError> {
        let url = format!("{}{path}", self.base);
        command(&self.client, method, &url, body).await
    }

    /// Sends one command; its `value`, or a panic naming the command and the error.
    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let what = format!("{method} {path}");
        match self.try_command(method, path, body).await {
            Ok(value) => value,
            Err(err) => self.fail(&what, err).await,
        }
    }

    async fn fail(&self, what: &str, err: WebDriverError) -> ! {
        let url = self.current_url_or_unknown().await;
        panic!("WebDriver {what} failed (page {url}): {err}")
    }

    async fn get(&self, path: &str) -> Value {
        self.command(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.command(reqwest::Method::POST, path, Some(body)).await
    }

    async fn current_url_or_unknown(&self) -> String {
        match self.try_command(reqwest::Method::GET, "/url", None).await {
            Ok(Value::String(url)) => url,
            _ => "<unknown>".to_string(),
        }
    }

    fn element(&self, value: &Value, what: &str) -> Element {
        let id = value[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("WebDriver {what}: not an element reference: {value}"));
        Element {
            session: self.clone(),
            id: id.to_string(),
            selector: what.to_string(),
        }
    }
}

/// A WebDriver error answer (or a transport failure).
#[derive(Debug)]
pub struct WebDriverError {
    /// The W3C error code, e.g. `no such element`; `transport` when no answer came.
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

async fn command(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value, WebDriverError> {
    let transport = |err: reqwest::Error| WebDriverError {
        error: "transport".to_string(),
        message: format!("{url}: {err}"),
    };
    let mut request = client.request(method.clone(), url).timeout(COMMAND_TIMEOUT);
    // W3C: POST commands carry a JSON object, even an empty one.
    if method == reqwest::Method::POST {
        request = request.json(&body.unwrap_or_else(|| json!({})));
    }
    let response = request.send().await.map_err(transport)?;
    let status = response.status();
    let text = response.text().await.map_err(transport)?;
    let reply: Value = serde_json::from_str(&text).map_err(|_| WebDriverError {
        error: format!("HTTP {status}"),
        message: format!("not JSON: {text}"),
    })?;
    let value = reply.get("value").cloned().unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(value);
    }
    Err(WebDriverError {
        error: value["error"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("HTTP {status}")),
        message: value["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| text.clone()),
    })
}

/// A browser session. Call [`Browser::quit`] when done (see the module docs).
#[derive(Debug)]
pub struct Browser {
    session: Session,
    id: String,
    quit: bool,
    /// The profile folder; dropped (deleted) after the session ends.
    _profile: TempDir,
}

impl Browser {
    /// Starts a fresh browser session on the WebDriver server at `webdriver_url`.
    pub async fn start(webdriver_url: &str) -> Browser {
        let client = crate::support::http();
        let webdriver = webdriver_url.trim_end_matches('/').to_string();
        let profile = tempfile::Builder::new()
            .prefix("roster-chromium-")
            .tempdir()
            .expect("temp dir for the browser profile");
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|arg| arg.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "timeouts": {"implicit": 0, "pageLoad": 30_000, "script": 30_000},
                    "goog:chromeOptions": {
                        "binary": CHROMIUM,
                        "args": args,
                        // Headless Chromium keeps windows at least 500 px wide whatever
                        // --window-size says; device emulation gives the page a phone's
                        // viewport (390 x 844 CSS px, `<meta name=viewport>` honoured, touch).
                        "mobileEmulation": {
                            "deviceMetrics": {
                                "width": VIEWPORT.0,
                                "height": VIEWPORT.1,
                                "pixelRatio": 1,
                            },
                        },
                    },
                }
            }
        });
        let url = format!("{webdriver}/session");
        let value = command(&client, reqwest::Method::POST, &url, Some(capabilities))
            .await
            .unwrap_or_else(|err| {
                panic!(
                    "could not start a browser session at {webdriver} (is `.ci/browser.sh start` \
                     running? see target/ci-tools/chromedriver.log): {err}"
                )
            });
        let id = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("new session answer without sessionId: {value}"))
            .to_string();
        Browser {
            session: Session {
                client,
                base: format!("{webdriver}/session/{id}"),
            },
            id,
            quit: false,
            _profile: profile,
        }
    }

    /// The WebDriver session id.
    pub fn session_id(&self) -> &str {
        &self.id
    }

    /// Navigates to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.session.post("/url", json!({"url": url})).await;
    }

    /// Reloads the page.
    pub async fn refresh(&self) {
        self.session.post("/refresh", json!({})).await;
    }

    /// Goes back in history.
    pub async fn back(&self) {
        self.session.post("/back", json!({})).await;
    }

    pub async fn current_url(&self) -> String {
        value_string(self.session.get("/url").await)
    }

    pub async fn title(&self) -> String {
        value_string(self.session.get("/title").await)
    }

    /// The page's current DOM, serialized.
    pub async fn page_source(&self) -> String {
        value_string(self.session.get("/source").await)
    }

    /// The first element matching the CSS selector; panics (with the page's URL and title)
    /// when there is none.
    pub async fn find(&self, css: &str) -> Element {
        match self.try_find(css).await {
            Some(element) => element,
            None => {
                let url = self.current_url().await;
                let title = self.title().await;
                panic!("no element matches {css:?} on {url} (title {title:?})")
            }
        }
    }

    /// The first element matching the CSS selector, if any.
    pub async fn try_find(&self, css: &str) -> Option<Element> {
        let body = json!({"using": "css selector", "value": css});
        match self
            .session
            .try_command(reqwest::Method::POST, "/element", Some(body))
            .await
        {
            Ok(value) => Some(self.session.element(&value, css)),
            Err(err) if err.error == "no such element" => None,
            Err(err) => self.session.fail(&format!("find {css:?}"), err).await,
        }
    }

    /// All elements matching the CSS selector, in document order.
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let value = self
            .session
            .post("/elements", json!({"using": "css selector", "value": css}))
            .await;
        value
            .as_array()
            .unwrap_or_else(|| panic!("find elements {css:?}: not a list: {value}"))
            .iter()
            .map(|item| self.session.element(item, css))
            .collect()
    }

    /// Polls (every 50 ms) until an element matches the CSS selector; panics after `timeout`
    /// with the page's URL and source.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Element {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(element) = self.try_find(css).await {
                return element;
            }
            if Instant::now() >= deadline {
                let url = self.current_url().await;
                let source = self.page_source().await;
                panic!("no element matched {css:?} within {timeout:?} on {url}; page:\n{source}")
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls (every 50 ms) until `script` (a function body, as in [`Browser::execute`])
    /// returns a truthy value; panics after `timeout`.
    pub async fn wait_until(&self, script: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.execute(script, vec![]).await;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return value;
            }
            if Instant::now() >= deadline {
                let url = self.current_url().await;
                panic!("`{script}` stayed falsy ({value}) for {timeout:?} on {url}")
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `script` as the body of a function in the page (`arguments[i]` are `args`; pass
    /// elements as [`Element::json`]) and returns what it returns, e.g.
    /// `execute("return document.activeElement.id", vec![])`.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.session
            .post("/execute/sync", json!({"script": script, "args": args}))
            .await
    }

    /// The element that has the keyboard focus (`document.body` when none has).
    pub async fn active_element(&self) -> Element {
        let value = self.session.get("/element/active").await;
        self.session.element(&value, "<active element>")
    }

    /// Types `text` on the keyboard, into whatever has the focus, key by key (key codes from
    /// [`keys`] work, e.g. `keys::TAB`), as a user would.
    pub async fn type_keys(&self, text: &str) {
        let mut actions = Vec::new();
        for key in text.chars() {
            actions.push(json!({"type": "keyDown", "value": key.to_string()}));
            actions.push(json!({"type": "keyUp", "value": key.to_string()}));
        }
        self.key_actions(actions).await;
    }

    /// Presses Tab: the focus moves to the next focusable element.
    pub async fn press_tab(&self) {
        self.type_keys(keys::TAB).await;
    }

    /// Presses Shift+Tab: the focus moves to the previous focusable element.
    pub async fn press_shift_tab(&self) {
        self.key_actions(vec![
            json!({"type": "keyDown", "value": keys::SHIFT}),
            json!({"type": "keyDown", "value": keys::TAB}),
            json!({"type": "keyUp", "value": keys::TAB}),
            json!({"type": "keyUp", "value": keys::SHIFT}),
        ])
        .await;
    }

    /// Presses Enter (in a text field of a form: submits the form).
    pub async fn press_enter(&self) {
        self.type_keys(keys::ENTER).await;
    }

    async fn key_actions(&self, actions: Vec<Value>) {
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        self.session.post("/actions", body).await;
        // Release whatever is still pressed, so the next call starts clean.
        self.session
            .command(reqwest::Method::DELETE, "/actions", None)
            .await;
    }

    /// A PNG of the viewport.
    pub async fn screenshot_png(&self) -> Vec<u8> {
        let value = value_string(self.session.get("/screenshot").await);
        STANDARD
            .decode(value)
            .expect("screenshot is not base64-encoded")
    }

    /// Ends the session and closes the browser.
    pub async fn quit(mut self) {
        self.quit = true;
        let url = self.session.base.clone();
        if let Err(err) = command(&self.session.client, reqwest::Method::DELETE, &url, None).await {
            panic!("could not end browser session {}: {err}", self.id);
        }
    }
}

impl Drop for Browser {
    /// Best effort: ends a session the test did not `quit` (e.g. after a failed assertion),
    /// so no browser outlives the test. Runs on a thread with a runtime of its own, because
    /// `Drop` cannot await.
    fn drop(&mut self) {
        if self.quit {
            return;
        }
        let url = self.session.base.clone();
        let ended = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let client = crate::support::http();
                client
                    .delete(&url)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await
                    .ok()
            })
        });
        let _ = ended.join();
    }
}

/// An element of the page (a W3C element reference). It goes stale when the page changes.
#[derive(Clone, Debug)]
pub struct Element {
    session: Session,
    id: String,
    /// How it was found, for error messages.
    selector: String,
}

impl Element {
    fn path(&self, command: &str) -> String {
        format!("/element/{}{command}", self.id)
    }

    async fn get(&self, command: &str) -> Value {
        self.session.get(&self.path(command)).await
    }

    async fn post(&self, command: &str, body: Value) -> Value {
        self.session.post(&self.path(command), body).await
    }

    /// The element as an argument of [`Browser::execute`].
    pub fn json(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }

    /// The CSS selector (or description) it was found by.
    pub fn selector(&self) -> &str {
        &self.selector
    }

    /// Focuses the element and types `text` into it (key codes from [`keys`] work).
    pub async fn send_keys(&self, text: &str) {
        self.post("/value", json!({"text": text})).await;
    }

    /// Empties an input or textarea. WebDriver then *blurs* it: the focus is lost, so follow
    /// with [`Element::send_keys`] (which focuses), not [`Browser::type_keys`].
    pub async fn clear(&self) {
        self.post("/clear", json!({})).await;
    }

    /// Clicks the element's centre (scrolling it into view first); fails if something else
    /// covers it.
    pub async fn click(&self) {
        self.post("/click", json!({})).await;
    }

    /// The rendered text, as a user sees it.
    pub async fn text(&self) -> String {
        value_string(self.get("/text").await)
    }

    /// An HTML attribute (`None` when absent). Boolean attributes read `Some("true")`.
    pub async fn attribute(&self, name: &str) -> Option<String> {
        match self.get(&format!("/attribute/{name}")).await {
            Value::Null => None,
            value => Some(value_string(value)),
        }
    }

    /// A DOM property, e.g. `value`, `checked`, `validationMessage` (JSON `null` when absent).
    pub async fn property(&self, name: &str) -> Value {
        self.get(&format!("/property/{name}")).await
    }

    /// The tag name, lower case.
    pub async fn tag_name(&self) -> String {
        value_string(self.get("/name").await).to_lowercase()
    }

    pub async fn is_displayed(&self) -> bool {
        self.get("/displayed").await.as_bool().unwrap_or(false)
    }

    pub async fn is_enabled(&self) -> bool {
        self.get("/enabled").await.as_bool().unwrap_or(false)
    }

    /// The accessible name (label) the browser computes, e.g. from `<label for>`.
    pub async fn accessible_name(&self) -> String {
        value_string(self.get("/computedlabel").await)
    }

    /// Whether this is the same DOM node as `other`.
    pub async fn same_as(&self, other: &Element) -> bool {
        let body = json!({
            "script": "return arguments[0] === arguments[1];",
            "args": [self.json(), other.json()],
        });
        let value = self.session.post("/execute/sync", body).await;
        value.as_bool().unwrap_or(false)
    }

    /// The first descendant matching the CSS selector; panics when there is none.
    pub async fn find(&self, css: &str) -> Element {
        let value = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await;
        self.session
            .element(&value, &format!("{} {css}", self.selector))
    }
}

fn value_string(value: Value) -> String {
    match value {
        Value::String(text) => text,
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
