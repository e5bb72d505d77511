//! Workrooms and forms: the API, and the hosted form page over plain HTTP (the browser
//! test drives the same page in Chromium).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, contact};

async fn location(app: &TestApp, id: &str) {
    let (status, reply) = app
        .post(
            "newLocation",
            json!({"id": id, "name": format!("Studio {id}")}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
}

#[tokio::test]
async fn workrooms_upsert_by_id_and_list_their_locations() {
    let app = TestApp::spawn().await;
    location(&app, "downtown").await;
    location(&app, "uptown").await;

    let (status, created) = app
        .post("newWorkroom", json!({"id": "north", "name": "North", "location_ids": ["downtown", "uptown", "downtown"]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let (_, again) = app
        .post(
            "newWorkroom",
            json!({"id": "north", "name": "North side", "location_ids": ["uptown"]}),
        )
        .await;
    assert_eq!(again["_id"], created["_id"], "same id, same workroom");

    let listed = app.members("getWorkrooms", json!({})).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["_id"], created["_id"]);
    assert_eq!(listed[0]["name"], "North side");
    assert_eq!(listed[0]["location_ids"], json!(["uptown"]));
    assert!(listed[0]["created_date"].is_string());

    for (body, field) in [
        (json!({"name": "x"}), "id"),
        (json!({"id": "x"}), "name"),
        (
            json!({"id": "x", "name": "x", "location_ids": ["nowhere"]}),
            "location_ids[0]",
        ),
        (
            json!({"id": "x", "name": "x", "location_ids": [null]}),
            "location_ids[0]",
        ),
        (
            json!({"id": "x", "name": "x", "location_ids": "downtown"}),
            "location_ids",
        ),
    ] {
        let (status, reply) = app.post("newWorkroom", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {reply}");
        assert_eq!(reply["field"], field, "{body}: {reply}");
    }
    assert_eq!(
        app.members("getWorkrooms", json!({})).await.len(),
        1,
        "nothing written"
    );

    let other = app.create_app("Studio B").await;
    let (_, theirs) = app.post_as(&other, "getWorkrooms", json!({})).await;
    assert_eq!(theirs["members"], json!([]));
    let (status, _) = app
        .post_as(
            &other,
            "newWorkroom",
            json!({"id": "n", "name": "n", "location_ids": ["downtown"]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "A's locations are not B's");
}

fn signup_form() -> Value {
    json!({
        "id": "signup", "name": "Free class sign-up", "consent_field": "sms_ok",
        "fields": [
            {"name": "first_name", "label": "First name", "type": "text", "required": true},
            {"name": "last_name", "label": "Last name", "type": "text"},
            {"name": "email", "label": "Email", "type": "email", "required": true},
            {"name": "phone", "label": "Mobile", "type": "phone"},
            {"name": "class", "label": "Class", "type": "select", "options": ["Yoga", "Spin"]},
            {"name": "sms_ok", "label": "Text me reminders", "type": "checkbox"}
        ]
    })
}

async fn new_form(app: &TestApp) -> String {
    let (status, reply) = app.post("newForm", signup_form()).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    reply["_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn forms_are_defined_listed_and_validated_as_definitions() {
    let app = TestApp::spawn().await;
    let id = new_form(&app).await;
    let forms = app.members("getForms", json!({})).await;
    assert_eq!(forms.len(), 1);
    assert_eq!(forms[0]["_id"], id.as_str());
    assert_eq!(forms[0]["name"], "Free class sign-up");
    assert_eq!(forms[0]["submissions"], 0);
    assert_eq!(
        forms[0]["fields"][4],
        json!({"name": "class", "label": "Class", "type": "select", "required": false, "options": ["Yoga", "Spin"]})
    );
    assert_eq!(forms[0]["url"], format!("/forms/{id}"));

    let bad = |patch: Value| {
        let mut body = signup_form();
        body.as_object_mut()
            .unwrap()
            .extend(patch.as_object().unwrap().clone());
        body
    };
    for (body, field) in [
        (bad(json!({"fields": []})), "fields"),
        (
            bad(json!({"fields": [{"name": "a", "type": "colour"}]})),
            "fields[0].type",
        ),
        (
            bad(json!({"fields": [{"name": "A b", "type": "text"}]})),
            "fields[0].name",
        ),
        (
            bad(json!({"fields": [{"name": "s", "type": "select"}]})),
            "fields[0].options",
        ),
        (bad(json!({"consent_field": "email"})), "consent_field"),
        (bad(json!({"name": null})), "name"),
        (bad(json!({"fields": "first_name"})), "fields"),
    ] {
        let (status, reply) = app.post("newForm", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
        assert_eq!(reply["field"], field, "{reply}");
    }
    assert_eq!(app.members("getForms", json!({})).await.len(), 1);
}

#[tokio::test]
async fn submit_form_creates_the_contact_stores_the_submission_and_opts_in() {
    let app = TestApp::spawn().await;
    let form = new_form(&app).await;
    let existing = app
        .new_contact(contact(
            "Ana",
            json!({"email": "ana@example.com", "city": "Austin"}),
        ))
        .await;

    let (status, reply) = app
        .post(
            "submitForm",
            json!({"form_id": form, "data": {
            "first_name": "Ana", "email": "ANA@example.com", "phone": "(415) 555-2671",
            "class": "Yoga", "sms_ok": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");

    let members = app.customers(json!({})).await;
    assert_eq!(
        members.len(),
        1,
        "matched by email + first name: {members:?}"
    );
    assert_eq!(members[0]["id"], existing.as_str());
    assert_eq!(members[0]["phone"], "+14155552671");
    assert_eq!(members[0]["sms_optout"], 0);
    let optins = app.members("getOptinCustomers", json!({})).await;
    assert_eq!(
        optins[0]["id"],
        existing.as_str(),
        "the consent box opted them in"
    );
    let history = app
        .members("getConsentHistory", json!({"_id": existing}))
        .await;
    assert_eq!(history.last().unwrap()["source"], "form");

    let submissions = app
        .members("getFormSubmissions", json!({"form_id": form}))
        .await;
    assert_eq!(submissions.len(), 1);
    assert_eq!(submissions[0]["_id"], reply["_id"]);
    assert_eq!(submissions[0]["form_id"], form.as_str());
    assert_eq!(submissions[0]["contact_id"], existing.as_str());
    assert_eq!(submissions[0]["data"]["email"], "ANA@example.com");
    assert_eq!(submissions[0]["data"]["sms_ok"], true);
    // By the caller's id too, and filtered by date.
    assert_eq!(
        app.members("getFormSubmissions", json!({"form_id": "signup"}))
            .await
            .len(),
        1
    );
    assert_eq!(
        app.members(
            "getFormSubmissions",
            json!({"form_id": form, "since_date": "2999-01-01"})
        )
        .await
        .len(),
        0
    );
    assert_eq!(
        app.members("getForms", json!({})).await[0]["submissions"],
        1
    );
}

#[tokio::test]
async fn bad_submissions_are_400_naming_the_field_and_write_nothing() {
    let app = TestApp::spawn().await;
    let form = new_form(&app).await;
    for (data, field) in [
        (json!({"email": "a@example.com"}), "first_name"),
        (json!({"first_name": "A", "email": "nope"}), "email"),
        (
            json!({"first_name": "A", "email": "a@example.com", "class": "Boxing"}),
            "class",
        ),
        (
            json!({"first_name": "A", "email": "a@example.com", "phone": "12"}),
            "phone",
        ),
        (
            json!({"first_name": "A", "email": "a@example.com", "colour": "red"}),
            "colour",
        ),
        (
            json!({"first_name": ["A"], "email": "a@example.com"}),
            "data.first_name",
        ),
    ] {
        let (status, reply) = app
            .post("submitForm", json!({"form_id": form, "data": data}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
        assert_eq!(reply["field"], field, "{reply}");
    }
    let (status, reply) = app
        .post(
            "submitForm",
            json!({"form_id": "000000000000000000000000", "data": {}}),
        )
        .await;
    assert_eq!(
        (status, reply["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("form_id"))
    );
    assert!(app.customers(json!({})).await.is_empty());
    assert!(
        app.members("getFormSubmissions", json!({"form_id": form}))
            .await
            .is_empty()
    );

    // Another app can neither submit to nor read this form.
    let other = app.create_app("Studio B").await;
    let (status, _) = app
        .post_as(
            &other,
            "submitForm",
            json!({"form_id": form, "data": {"first_name": "A", "email": "a@example.com"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, theirs) = app
        .post_as(&other, "getFormSubmissions", json!({"form_id": form}))
        .await;
    assert_eq!(theirs["members"], json!([]));
    let (_, theirs) = app.post_as(&other, "getForms", json!({})).await;
    assert_eq!(theirs["members"], json!([]));
}

async fn page_post(app: &TestApp, form: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let response = app
        .client
        .post(app.url(&format!("/forms/{form}")))
        .form(fields)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_hosted_page_renders_accessibly_and_shows_errors() {
    let app = TestApp::spawn().await;
    let form = new_form(&app).await;
    let response = app
        .client
        .get(app.url(&format!("/forms/{form}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    for needle in [
        "<html lang=\"en\">",
        "name=\"viewport\"",
        "<label for=\"f-first_name\">First name",
        "id=\"f-first_name\" name=\"first_name\" type=\"text\"",
        "type=\"email\"",
        "type=\"tel\"",
        "<option value=\"Yoga\">Yoga</option>",
        "type=\"checkbox\"",
        &format!("action=\"/forms/{form}\""),
    ] {
        assert!(html.contains(needle), "{needle} missing in {html}");
    }
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external assets"
    );

    let (status, html) = page_post(
        &app,
        &form,
        &[("first_name", "<b>Bo</b>"), ("email", "not-an-email")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("role=\"alert\""), "{html}");
    assert!(html.contains("Email must be an email address"), "{html}");
    assert!(
        html.contains("aria-invalid=\"true\" aria-describedby=\"e-email\""),
        "{html}"
    );
    assert!(
        html.contains("value=\"&lt;b&gt;Bo&lt;/b&gt;\""),
        "typed values come back, escaped"
    );
    assert!(app.customers(json!({})).await.is_empty());

    let (status, html) = page_post(
        &app,
        &form,
        &[
            ("first_name", "Bo"),
            ("email", "bo@example.com"),
            ("sms_ok", "on"),
            ("phone", "4155550199"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Thank you"), "{html}");
    let submissions = app
        .members("getFormSubmissions", json!({"form_id": form}))
        .await;
    assert_eq!(submissions.len(), 1);
    assert_eq!(submissions[0]["data"]["phone"], "+14155550199");

    let missing = app
        .client
        .get(app.url("/forms/000000000000000000000000"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_honeypot_and_the_rate_limit_keep_bots_out() {
    let app = TestApp::spawn().await;
    let form = new_form(&app).await;
    let (status, html) = page_post(
        &app,
        &form,
        &[
            ("first_name", "Bot"),
            ("email", "bot@example.com"),
            ("website", "http://spam.example"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Thank you"),
        "a bot is not told it was caught"
    );
    assert!(
        app.members("getFormSubmissions", json!({"form_id": form}))
            .await
            .is_empty()
    );
    assert!(app.customers(json!({})).await.is_empty());

    // The default allows 10 a minute per address; the honeypot post above was the first.
    let mut statuses = Vec::new();
    for i in 0..10 {
        let email = format!("p{i}@example.com");
        statuses.push(
            page_post(&app, &form, &[("first_name", "P"), ("email", &email)])
                .await
                .0,
        );
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        9,
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(
        app.members("getFormSubmissions", json!({"form_id": form}))
            .await
            .len(),
        9
    );
}

#[tokio::test]
async fn a_member_fills_the_hosted_form_in_a_real_browser() {
    let Some(webdriver) =
        crate::support::browser::webdriver_url("a_member_fills_the_hosted_form_in_a_real_browser")
    else {
        return;
    };
    let app = TestApp::spawn().await;
    let form = new_form(&app).await;
    let browser = crate::support::browser::start(&webdriver).await;
    browser.goto(&app.url(&format!("/forms/{form}"))).await;
    assert_eq!(browser.title().await, "Free class sign-up");

    // A missing required field: the page comes back with the error, tied to the input.
    browser
        .find("#f-email")
        .await
        .send_keys("ana@example.com")
        .await;
    browser.find("button[type=submit]").await.click().await;
    let alert = browser
        .wait_for("#errors", std::time::Duration::from_secs(10))
        .await;
    assert!(
        alert.text().await.contains("First name is required"),
        "{}",
        alert.text().await
    );
    let first = browser.find("#f-first_name").await;
    assert_eq!(
        first.attribute("aria-invalid").await.as_deref(),
        Some("true")
    );
    assert_eq!(
        browser.find("#e-first_name").await.text().await,
        "First name is required"
    );
    assert_eq!(
        browser.find("#f-email").await.property("value").await,
        json!("ana@example.com"),
        "what was typed is kept"
    );
    assert!(
        app.members("getFormSubmissions", json!({"form_id": form}))
            .await
            .is_empty()
    );

    // Keyboard only: focus the first field, then Tab through the form.
    first.click().await;
    browser.type_keys("Ana").await;
    browser.press_tab().await;
    assert!(
        browser
            .active_element()
            .await
            .same_as(&browser.find("#f-last_name").await)
            .await
    );
    browser.type_keys("Lopez").await;
    browser
        .find("#f-phone")
        .await
        .send_keys("(415) 555-0900")
        .await;
    browser.find("#f-sms_ok").await.click().await;
    // The honeypot is out of sight and out of the tab order.
    assert_eq!(
        browser
            .find("#f-website")
            .await
            .attribute("tabindex")
            .await
            .as_deref(),
        Some("-1")
    );
    browser.find("button[type=submit]").await.click().await;
    let thanks = browser
        .wait_for("[role=status]", std::time::Duration::from_secs(10))
        .await;
    assert!(
        thanks.text().await.contains("received"),
        "{}",
        thanks.text().await
    );
    let width = browser
        .execute("return document.documentElement.scrollWidth", vec![])
        .await;
    assert!(width.as_u64().unwrap() <= 390, "fits a phone: {width}");
    browser.quit().await;

    let submissions = app
        .members("getFormSubmissions", json!({"form_id": form}))
        .await;
    assert_eq!(submissions.len(), 1);
    assert_eq!(submissions[0]["data"]["first_name"], "Ana");
    assert_eq!(submissions[0]["data"]["phone"], "+14155550900");
    assert_eq!(submissions[0]["data"]["sms_ok"], true);
    // The box asked the phone's owner to confirm (double opt-in): pending until YES.
    assert!(app.members("getOptinCustomers", json!({})).await.is_empty());
    let contact = submissions[0]["contact_id"].as_str().unwrap();
    let history = app
        .members("getConsentHistory", json!({"_id": contact}))
        .await;
    assert_eq!(history[0]["change"], "sms_optin_pending", "{history:?}");
}

#[tokio::test]
async fn the_public_page_cannot_rewrite_a_member_or_undo_their_stop() {
    let app = TestApp::spawn().await;
    let form = new_form(&app).await;
    let member = app
        .new_contact(contact(
            "Ana",
            json!({"email": "ana@example.com", "phone": "+14155550920", "optin_sms": false}),
        ))
        .await;

    // A stranger types Ana's email and name, their own number, and ticks the box.
    let (status, _) = page_post(
        &app,
        &form,
        &[
            ("first_name", "Ana"),
            ("last_name", "Evil"),
            ("email", "ana@example.com"),
            ("phone", "4155550999"),
            ("sms_ok", "on"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let listed = app.customers(json!({"_id": member})).await;
    assert_eq!(
        listed[0]["phone"], "+14155550920",
        "the number is not replaced"
    );
    assert_eq!(listed[0]["lastname"], "Lopez", "nor the name");
    assert_eq!(listed[0]["sms_optout"], 1, "the opt-out stands");
    let history = app
        .members("getConsentHistory", json!({"_id": member}))
        .await;
    assert!(
        history
            .iter()
            .all(|h| h["change"] != "sms_optin_pending" && h["change"] != "sms_optin"),
        "{history:?}"
    );
    // The submission itself is kept, on the member's record.
    let submissions = app
        .members("getFormSubmissions", json!({"form_id": form}))
        .await;
    assert_eq!(submissions[0]["contact_id"], member.as_str());
}
