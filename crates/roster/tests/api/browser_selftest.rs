//! Proves the headless-browser test client (support/browser.rs) against a small form served
//! here: keyboard focus, a required field the browser enforces, typing, submitting, reading
//! the result page.

use std::{collections::HashMap, time::Duration};

use axum::{
    Form, Router,
    response::Html,
    routing::{get, post},
};
use serde_json::json;

use crate::support::browser;

const FORM_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Join the studio</title></head>
<body>
<form method="post" action="/submit">
  <label for="name">Your name</label>
  <input id="name" name="name" required>
  <label for="note">Note</label>
  <input id="note" name="note">
  <button type="submit" id="send">Send</button>
</form>
</body>
</html>"#;

async fn submitted(Form(fields): Form<HashMap<String, String>>) -> Html<String> {
    let name = fields.get("name").cloned().unwrap_or_default();
    let note = fields.get("note").cloned().unwrap_or_default();
    // The fixture only ever echoes what this test typed: no escaping needed.
    Html(format!(
        "<!doctype html><title>Thanks</title><p id=\"result\">Thanks, {name}! ({note})</p>"
    ))
}

#[tokio::test]
async fn headless_browser_fills_and_submits_a_form() {
    let Some(webdriver) = browser::webdriver_url("browser_selftest") else {
        return;
    };
    let app = Router::new()
        .route("/", get(|| async { Html(FORM_PAGE) }))
        .route("/submit", post(submitted));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let home = format!("http://{addr}/");

    let browser = browser::start(&webdriver).await;
    browser.goto(&home).await;
    assert_eq!(browser.title().await, "Join the studio");
    assert!(browser.page_source().await.contains("<form"));
    let viewport = browser
        .execute("return [window.innerWidth, window.innerHeight];", vec![])
        .await;
    assert_eq!(viewport, json!(browser::VIEWPORT), "a phone's viewport");

    let name = browser.find("#name").await;
    assert_eq!(name.attribute("required").await.as_deref(), Some("true"));
    assert_eq!(name.accessible_name().await, "Your name");

    // The required field is enforced by the browser: submitting empty stays on the page.
    browser.find("#send").await.click().await;
    assert_eq!(browser.current_url().await, home);
    let message = name.property("validationMessage").await;
    assert!(message.as_str().is_some_and(|m| !m.is_empty()), "{message}");
    assert_eq!(
        browser
            .execute(
                "return arguments[0].validity.valueMissing;",
                vec![name.json()]
            )
            .await,
        json!(true)
    );

    // Keyboard only: Tab from the top of a fresh page reaches the first field.
    browser.goto(&home).await;
    let name = browser.find("#name").await;
    assert!(!browser.active_element().await.same_as(&name).await);
    browser.press_tab().await;
    assert!(browser.active_element().await.same_as(&name).await);
    browser.type_keys("Ada Lovelace").await;
    assert_eq!(name.property("value").await, json!("Ada Lovelace"));
    browser.press_tab().await;
    assert_eq!(
        browser
            .active_element()
            .await
            .attribute("id")
            .await
            .as_deref(),
        Some("note")
    );
    browser.press_shift_tab().await;
    assert!(browser.active_element().await.same_as(&name).await);

    // Element-level typing and clicking.
    let note = browser.find("#note").await;
    note.send_keys("first & only").await;
    let png = browser.screenshot_png().await;
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG screenshot");
    let png_width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    assert_eq!(
        png_width,
        browser::VIEWPORT.0,
        "the screenshot is of the viewport"
    );
    browser.find("#send").await.click().await;

    let result = browser.wait_for("#result", Duration::from_secs(10)).await;
    assert_eq!(result.text().await, "Thanks, Ada Lovelace! (first & only)");
    assert_eq!(browser.current_url().await, format!("http://{addr}/submit"));
    assert!(browser.try_find("#name").await.is_none());

    browser.quit().await;
}
