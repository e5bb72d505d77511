//! Tenant isolation, endpoint by endpoint: app B's keys against app A's ids and data get
//! nothing of A's, and change nothing of A's.
//!
//! App A is filled with real data through the API (contacts with every kind of field and
//! consent, events, memberships, locations, classes, workrooms, forms and submissions,
//! campaigns draft, scheduled and sent, messages through the Twilio fake and SMTP, consent
//! history through keywords). Then every route is played with B's keys: with A's `app_id`
//! (403), and with B's own `app_id` but A's ids. Every response is searched for A's
//! markers (Roster ids and text only A ever wrote), and A's reads are compared byte for
//! byte before and after.
//!
//! `every_route_has_an_isolation_case` compares the routes of `/openapi.json` and of the
//! router's source with the routes the cases cover, so a new endpoint without a case
//! breaks it.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use reqwest::StatusCode;
use roster_domain::{
    AppId,
    messaging::{
        MessagingSettings,
        settings::{EmailProvider, SmsProvider},
    },
};
use serde_json::{Value, json};

use crate::support::{
    Keys, TestApp,
    messaging::{APP_NUMBER, Messaging, SID, TOKEN},
    read,
};

/// B's own Twilio auth token: its webhooks are signed with it.
const B_TOKEN: &str = "studio-b-own-token";

/// A's caller-side identities and ids. B knows these (they are its guesses), so they are
/// not markers; what A stored under them is.
const ANA_USER: &str = "a-user-ana";
const ANA_EMAIL: &str = "ana.a@example.com";
const ANA_PHONE: &str = "+14155550701";
const BO_USER: &str = "a-user-bo";
const BO_EMAIL: &str = "bo.a@example.com";
const BO_PHONE: &str = "+14155550702";
const CY_USER: &str = "a-user-cy";
const CY_EMAIL: &str = "cy.a@example.com";
const CY_PHONE: &str = "+14155550703";
const B_PHONE: &str = "+14155550801";
const B_EMAIL: &str = "bea.b@example.com";
const EVENT_ID: &str = "a-evt-1";
const LOCATION_ID: &str = "a-loc";
const CLASS_ID: &str = "a-class";
const WORKROOM_ID: &str = "a-room";
const FORM_ID: &str = "a-form";
const DRAFT_ID: &str = "a-draft";
const SENT_ID: &str = "a-sent";
const LATER_ID: &str = "a-later";
const MEMBERSHIP_ID: &str = "a-mem";

/// Text only A ever writes: none of it may appear in an answer to B.
const TEXT_MARKERS: &[&str] = &[
    "Zanzibarova",
    "Quixotica",
    "a-vip-tag-marker",
    "a_secret_attr",
    "a-secret-value-marker",
    "Atlantis-marker",
    "a_private_visit_marker",
    "A Private Event Marker",
    "a-coach-data-marker",
    "a_purchase_marker",
    "A Gold Marker",
    "A Hidden Studio Marker",
    "A Hidden Room Marker",
    "A Secret Class Marker",
    "A Coach Marker",
    "A Form Name Marker",
    "a-submission-marker",
    "a-private-sms-marker",
    "a-private-subject-marker",
    "a-private-email-marker",
    "a-draft-body-marker",
    "A Draft Campaign Marker",
    "a-campaign-body-marker",
    "A Sent Campaign Marker",
    "A Later Campaign Marker",
    "a-inbound-text-marker",
];

/// What A's setup produced: Roster's ids, every one a marker.
#[derive(Clone, Debug, Default)]
struct AData {
    ana: String,
    bo: String,
    /// A contact merged into Ana: its id is retired and resolves to her, in A only.
    dee: String,
    cy: String,
    location: String,
    workroom: String,
    class: String,
    form: String,
    submission: String,
    draft: String,
    sent: String,
    later: String,
    /// Roster message ids.
    messages: Vec<String>,
    /// Provider ids (Twilio SIDs, email Message-IDs).
    provider_ids: Vec<String>,
}

impl AData {
    fn markers(&self) -> Vec<String> {
        let mut all: Vec<String> = TEXT_MARKERS.iter().map(|s| s.to_string()).collect();
        all.extend(
            [
                &self.ana,
                &self.bo,
                &self.dee,
                &self.cy,
                &self.location,
                &self.workroom,
                &self.class,
                &self.form,
                &self.submission,
                &self.draft,
                &self.sent,
                &self.later,
            ]
            .into_iter()
            .cloned(),
        );
        all.extend(self.messages.iter().cloned());
        all.extend(self.provider_ids.iter().cloned());
        all.retain(|m| !m.is_empty());
        all
    }
}

enum Request {
    /// A JSON POST with these keys in the headers (none for v1, whose keys are in the body).
    Api {
        keys: Option<Keys>,
        path: String,
        body: Value,
    },
    /// A Twilio webhook for `app_id`, signed with `token`.
    Webhook {
        app_id: String,
        kind: &'static str,
        query: String,
        params: Vec<(String, String)>,
        token: &'static str,
    },
    Get {
        path: String,
    },
    /// A form-encoded POST (the hosted form page).
    PostForm {
        path: String,
        fields: Vec<(String, String)>,
    },
}

#[derive(Clone, Copy, Debug)]
enum Expect {
    Status(StatusCode),
    /// 200 with `{"members": []}`.
    Empty,
}

struct Case {
    /// `METHOD /path` as the router and `/openapi.json` name the route.
    route: &'static str,
    what: String,
    request: Request,
    expect: Expect,
    /// Markers this answer may show (the hosted form page shows its own form).
    allowed: Vec<String>,
}

const OK: Expect = Expect::Status(StatusCode::OK);
const BAD: Expect = Expect::Status(StatusCode::BAD_REQUEST);
const FORBIDDEN: Expect = Expect::Status(StatusCode::FORBIDDEN);
const UNAUTHORIZED: Expect = Expect::Status(StatusCode::UNAUTHORIZED);
const NOT_FOUND: Expect = Expect::Status(StatusCode::NOT_FOUND);

const V2: &str = "/v2/ExternalApi";

fn v2(keys: &Keys, endpoint: &'static str, mut body: Value, expect: Expect) -> Case {
    if let Value::Object(map) = &mut body {
        map.entry("app_id").or_insert_with(|| json!(keys.app_id));
    }
    let route = v2_route(endpoint);
    Case {
        route,
        what: format!("{endpoint} {body}"),
        request: Request::Api {
            keys: Some(keys.clone()),
            path: format!("{V2}/{endpoint}"),
            body,
        },
        expect,
        allowed: Vec::new(),
    }
}

/// sendSmsNotification / sendEmailNotification with `path_app` in the path.
fn send(keys: &Keys, endpoint: &'static str, path_app: &str, body: Value, expect: Expect) -> Case {
    Case {
        route: v2_route(endpoint),
        what: format!("{endpoint}/{path_app} {body}"),
        request: Request::Api {
            keys: Some(keys.clone()),
            path: format!("{V2}/{endpoint}/{path_app}"),
            body,
        },
        expect,
        allowed: Vec::new(),
    }
}

fn v1(endpoint: &'static str, api_key: &str, secret_key: &str, expect: Expect) -> Case {
    let route = match endpoint {
        "getOptinCustomers" => "POST /v1/ExternalApi/getOptinCustomers",
        "getOptoutCustomers" => "POST /v1/ExternalApi/getOptoutCustomers",
        other => panic!("no v1 route {other}"),
    };
    Case {
        route,
        what: format!("v1 {endpoint}"),
        request: Request::Api {
            keys: None,
            path: format!("/v1/ExternalApi/{endpoint}"),
            body: json!({"api_key": api_key, "secret_key": secret_key, "limit": 1000}),
        },
        expect,
        allowed: Vec::new(),
    }
}

fn webhook(
    app_id: &str,
    kind: &'static str,
    query: &str,
    params: &[(&str, &str)],
    token: &'static str,
    expect: Expect,
) -> Case {
    let route = match kind {
        "inbound" => "POST /webhooks/twilio/{app_id}/inbound",
        "status" => "POST /webhooks/twilio/{app_id}/status",
        other => panic!("no webhook {other}"),
    };
    Case {
        route,
        what: format!("webhook {kind} for app {app_id}{query} signed with {token}: {params:?}"),
        request: Request::Webhook {
            app_id: app_id.to_string(),
            kind,
            query: query.to_string(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            token,
        },
        expect,
        allowed: Vec::new(),
    }
}

fn get(route: &'static str, path: String, expect: Expect, allowed: Vec<String>) -> Case {
    Case {
        route,
        what: format!("GET {path}"),
        request: Request::Get { path },
        expect,
        allowed,
    }
}

/// The route of a v2 endpoint, spelled as the router and `/openapi.json` spell it.
fn v2_route(endpoint: &str) -> &'static str {
    let route = format!("POST {V2}/{endpoint}");
    let route = match endpoint {
        "sendSmsNotification" | "sendEmailNotification" => format!("{route}/{{app_id}}"),
        _ => route,
    };
    // A handful of strings for the life of the test binary.
    Box::leak(route.into_boxed_str())
}

/// Reads with B's keys while B has one contact of its own (Bea): nothing of A's.
fn reads_before_writes(b: &Keys, a: &AData) -> Vec<Case> {
    let mut cases = vec![
        v2(
            b,
            "getCustomers",
            json!({"updated_since": "2000-01-01", "fulldata": true, "events": true}),
            OK,
        ),
        v2(b, "getOptinCustomers", json!({}), OK),
        v1("getOptinCustomers", &b.api_key, &b.secret_key, OK),
    ];
    for filter in [
        json!({"_id": a.ana}),
        json!({"_id": a.cy}),
        json!({"_id": a.dee}),
        json!({"user_id": ANA_USER}),
        json!({"email": ANA_EMAIL}),
        json!({"phone": ANA_PHONE}),
        json!({"email": BO_EMAIL, "phone": BO_PHONE}),
        json!({"event_since_date": "2000-01-01"}),
    ] {
        cases.push(v2(b, "getCustomers", filter, Expect::Empty));
    }
    for filter in [json!({}), json!({"type": "sms"}), json!({"type": "email"})] {
        cases.push(v2(b, "getOptoutCustomers", filter, Expect::Empty));
    }
    cases.push(v2(b, "getAttributes", json!({}), OK));
    for identity in [
        json!({"_id": a.ana}),
        json!({"user_id": ANA_USER}),
        json!({"email": ANA_EMAIL}),
        json!({"phone": ANA_PHONE}),
        json!({"user_id": ANA_USER, "event_type": "a_private_visit"}),
    ] {
        cases.push(v2(b, "getCustomerEvents", identity, Expect::Empty));
    }
    cases.push(v2(b, "getAttributeEvents", json!({}), Expect::Empty));
    cases.push(v2(b, "getLocations", json!({}), Expect::Empty));
    cases.push(v2(b, "getClassSchedule", json!({}), Expect::Empty));
    cases.push(v2(
        b,
        "getClassSchedule",
        json!({"location_id": LOCATION_ID, "start_date": "2000-01-01"}),
        Expect::Empty,
    ));
    cases.push(v2(b, "getWorkrooms", json!({}), Expect::Empty));
    cases.push(v2(b, "getForms", json!({}), Expect::Empty));
    for form in [&a.form, &FORM_ID.to_string()] {
        cases.push(v2(
            b,
            "getFormSubmissions",
            json!({"form_id": form}),
            Expect::Empty,
        ));
    }
    for filter in [
        json!({}),
        json!({"status": "sent"}),
        json!({"status": "scheduled"}),
        json!({"status": "draft", "channel": "sms"}),
    ] {
        cases.push(v2(b, "getCampaigns", filter, Expect::Empty));
    }
    for filter in [
        json!({}),
        json!({"_id": a.ana}),
        json!({"workroom": WORKROOM_ID}),
        json!({"channel": "email", "status": "sent"}),
        json!({"status": "received"}),
    ] {
        cases.push(v2(b, "getMessages", filter, Expect::Empty));
    }
    for id in [&a.ana, &a.cy, &a.bo, &a.dee] {
        cases.push(v2(
            b,
            "getConsentHistory",
            json!({"_id": id}),
            Expect::Empty,
        ));
    }
    cases.push(v1(
        "getOptoutCustomers",
        &b.api_key,
        &b.secret_key,
        Expect::Empty,
    ));
    cases
}

/// Writes with B's keys naming A's records: refused, and A's records untouched.
fn writes_on_as_ids(b: &Keys, a: &AData, bea: &str) -> Vec<Case> {
    let sms = "sendSmsNotification";
    let email = "sendEmailNotification";
    vec![
        v2(b, "removeContact", json!({"id": a.ana}), BAD),
        v2(b, "removeContact", json!({"id": a.dee}), BAD),
        v2(b, "getCustomerEvents", json!({"_id": a.dee}), Expect::Empty),
        v2(b, "getMessages", json!({"_id": a.dee}), Expect::Empty),
        v2(
            b,
            "mergeContacts",
            json!({"from_contact": bea, "to_contact": a.dee}),
            BAD,
        ),
        v2(
            b,
            "newContact",
            json!({"_id": a.dee, "first_name": "Dee", "last_name": "Intruder"}),
            BAD,
        ),
        v2(
            b,
            "newEvent",
            json!({"_id": a.dee, "id": "b-evt-2", "event_type": "hack", "event_date": "2025-01-01"}),
            BAD,
        ),
        v2(
            b,
            "addMemberships",
            json!({"_id": a.dee, "memberships": [{"id": "b-mem", "name": "Hacked"}]}),
            BAD,
        ),
        v2(
            b,
            "mergeContacts",
            json!({"from_contact": a.ana, "to_contact": a.bo}),
            BAD,
        ),
        v2(
            b,
            "mergeContacts",
            json!({"from_contact": bea, "to_contact": a.ana}),
            BAD,
        ),
        v2(
            b,
            "mergeContacts",
            json!({"from_contact": a.ana, "to_contact": bea}),
            BAD,
        ),
        v2(
            b,
            "newContact",
            json!({"_id": a.ana, "first_name": "Ana", "last_name": "Intruder", "city": "Hacked"}),
            BAD,
        ),
        v2(
            b,
            "newEvent",
            json!({"_id": a.ana, "id": "b-evt", "event_type": "hack", "event_date": "2025-01-01"}),
            BAD,
        ),
        v2(
            b,
            "addMemberships",
            json!({"_id": a.ana, "memberships": [{"id": MEMBERSHIP_ID, "name": "Hacked"}]}),
            BAD,
        ),
        v2(
            b,
            "addMemberships",
            json!({"user_id": ANA_USER, "memberships": [{"id": MEMBERSHIP_ID, "name": "Hacked"}]}),
            BAD,
        ),
        v2(b, "removeClass", json!({"id": CLASS_ID}), BAD),
        v2(b, "removeClass", json!({"id": a.class}), BAD),
        v2(
            b,
            "newClass",
            json!({"id": "b-class", "class_name": "Hacked", "start_date": "2030-01-02",
                "start_time": "9:00", "location_id": LOCATION_ID}),
            BAD,
        ),
        v2(
            b,
            "newWorkroom",
            json!({"id": "b-room", "name": "Hacked", "location_ids": [LOCATION_ID]}),
            BAD,
        ),
        v2(
            b,
            "newCampaign",
            json!({"id": "b-camp", "name": "Hacked", "channel": "sms", "body": "x",
                "audience": {"workroom": WORKROOM_ID}}),
            BAD,
        ),
        v2(b, "sendCampaign", json!({"id": DRAFT_ID}), BAD),
        v2(b, "sendCampaign", json!({"id": a.draft}), BAD),
        v2(b, "cancelCampaign", json!({"id": LATER_ID}), BAD),
        v2(b, "cancelCampaign", json!({"id": a.later}), BAD),
        v2(b, "cancelCampaign", json!({"id": SENT_ID}), BAD),
        v2(
            b,
            "submitForm",
            json!({"form_id": a.form, "data": {"first_name": "Ana", "email": ANA_EMAIL}}),
            BAD,
        ),
        v2(
            b,
            "submitForm",
            json!({"form_id": FORM_ID, "data": {"first_name": "Ana", "email": ANA_EMAIL}}),
            BAD,
        ),
        // A's opt-in is A's: it counts for nothing in B.
        send(
            b,
            sms,
            &b.app_id,
            json!({"to_number": ANA_PHONE, "message": "hi"}),
            BAD,
        ),
        // A's contact cannot personalise B's message.
        send(
            b,
            sms,
            &b.app_id,
            json!({"to_number": ANA_PHONE, "message": "Hi {{first_name}} {{last_name}}", "_id": a.ana}),
            BAD,
        ),
        send(
            b,
            email,
            &b.app_id,
            json!({"to_email": B_EMAIL, "subject": "s", "text": "Hi {{last_name}} {{a_secret_attr}}", "_id": a.ana}),
            BAD,
        ),
        send(
            b,
            email,
            &b.app_id,
            json!({"to_email": B_EMAIL, "subject": "s", "text": "plain", "_id": a.bo}),
            BAD,
        ),
    ]
}

/// B's own writes reusing A's caller-side ids: they make B's records, never A's.
fn own_writes_with_as_ids(b: &Keys) -> Vec<Case> {
    vec![
        v2(
            b,
            "newContact",
            json!({"first_name": "Ana", "last_name": "Intruder", "user_id": ANA_USER,
                "email": ANA_EMAIL, "phone": ANA_PHONE, "city": "Hacked", "tags": "b-tag",
                "b_attr": "b"}),
            OK,
        ),
        v2(
            b,
            "newEvent",
            json!({"user_id": BO_USER, "id": EVENT_ID, "event_type": "hack",
                "event_date": "2025-03-01", "is_visit": true}),
            OK,
        ),
        v2(
            b,
            "addMemberships",
            json!({"user_id": ANA_USER, "memberships": [{"id": MEMBERSHIP_ID, "name": "Hacked"}]}),
            OK,
        ),
        v2(
            b,
            "newLocation",
            json!({"id": LOCATION_ID, "name": "Hacked"}),
            OK,
        ),
        v2(
            b,
            "newClass",
            json!({"id": CLASS_ID, "class_name": "Hacked", "start_date": "2030-01-02",
                "start_time": "9:00", "location_id": LOCATION_ID}),
            OK,
        ),
        v2(
            b,
            "newWorkroom",
            json!({"id": WORKROOM_ID, "name": "Hacked", "location_ids": [LOCATION_ID]}),
            OK,
        ),
        v2(
            b,
            "newForm",
            json!({"id": FORM_ID, "name": "Hacked", "fields": [
                {"name": "first_name", "label": "First", "type": "text"},
                {"name": "email", "label": "Email", "type": "email"}]}),
            OK,
        ),
        v2(
            b,
            "newCampaign",
            json!({"id": LATER_ID, "name": "Hacked", "channel": "sms", "body": "x",
                "scheduled_date": "2099-01-01 00:00:00", "audience": {"workroom": WORKROOM_ID}}),
            OK,
        ),
        v2(b, "sendCampaign", json!({"id": LATER_ID}), OK),
        v2(b, "cancelCampaign", json!({"id": LATER_ID}), OK),
        v2(
            b,
            "optin",
            json!({"phone": CY_PHONE, "email": CY_EMAIL, "user_id": CY_USER, "dob": "1990-01-01"}),
            OK,
        ),
        send(
            b,
            "sendSmsNotification",
            &b.app_id,
            json!({"to_number": B_PHONE, "message": "Hi"}),
            OK,
        ),
        // Email consent is per app too: A's contact opted out there, not here.
        send(
            b,
            "sendEmailNotification",
            &b.app_id,
            json!({"to_email": BO_EMAIL, "subject": "s", "text": "hello"}),
            OK,
        ),
    ]
}

/// B's reads once B has records under A's caller-side ids: B's own only.
fn reads_after_writes(b: &Keys, a: &AData) -> Vec<Case> {
    let mut cases = vec![
        v2(
            b,
            "getCustomers",
            json!({"fulldata": true, "events": true, "limit": 1000}),
            OK,
        ),
        v2(b, "getCustomers", json!({"_id": a.ana}), Expect::Empty),
        v2(
            b,
            "getCustomers",
            json!({"user_id": ANA_USER, "fulldata": true}),
            OK,
        ),
        v2(b, "getOptinCustomers", json!({}), OK),
        v2(b, "getOptoutCustomers", json!({}), OK),
        v2(b, "getAttributes", json!({}), OK),
        v2(b, "getCustomerEvents", json!({"user_id": BO_USER}), OK),
        v2(b, "getCustomerEvents", json!({"_id": a.bo}), Expect::Empty),
        v2(b, "getAttributeEvents", json!({}), OK),
        v2(b, "getLocations", json!({}), OK),
        v2(
            b,
            "getClassSchedule",
            json!({"location_id": LOCATION_ID}),
            OK,
        ),
        v2(b, "getWorkrooms", json!({}), OK),
        v2(b, "getForms", json!({}), OK),
        v2(b, "getFormSubmissions", json!({"form_id": FORM_ID}), OK),
        v2(
            b,
            "getFormSubmissions",
            json!({"form_id": a.form}),
            Expect::Empty,
        ),
        v2(b, "getCampaigns", json!({}), OK),
        v2(b, "getMessages", json!({"limit": 1000}), OK),
        v2(b, "getMessages", json!({"workroom": WORKROOM_ID}), OK),
        v2(b, "getConsentHistory", json!({"_id": a.ana}), Expect::Empty),
        v1("getOptinCustomers", &b.api_key, &b.secret_key, OK),
        v1("getOptoutCustomers", &b.api_key, &b.secret_key, OK),
    ];
    // Mixed halves of two apps' keys are nobody's.
    for endpoint in ["getOptinCustomers", "getOptoutCustomers"] {
        cases.push(v1(endpoint, &b.api_key, "not-a-secret", UNAUTHORIZED));
    }
    cases
}

/// Twilio's webhooks: A's path signed with B's token is refused; B's path carrying A's
/// message ids and numbers touches only B.
fn webhooks(a_app: &str, b: &Keys, a: &AData) -> Vec<Case> {
    let sid = a
        .provider_ids
        .iter()
        .find(|id| id.starts_with("SM"))
        .cloned()
        .unwrap_or_default();
    let message = a.messages.first().cloned().unwrap_or_default();
    let by_id = format!("?message_id={message}");
    let stop = [
        ("MessageSid", "SMb-stop"),
        ("AccountSid", SID),
        ("From", ANA_PHONE),
        ("To", APP_NUMBER),
        ("Body", "STOP"),
    ];
    let text = [
        ("MessageSid", "SMb-text"),
        ("AccountSid", SID),
        ("From", CY_PHONE),
        ("To", APP_NUMBER),
        ("Body", "hello b"),
    ];
    let failed = [
        ("MessageSid", sid.as_str()),
        ("MessageStatus", "undelivered"),
        ("ErrorCode", "21610"),
    ];
    vec![
        webhook(a_app, "inbound", "", &stop, B_TOKEN, FORBIDDEN),
        webhook(a_app, "status", "", &failed, B_TOKEN, FORBIDDEN),
        webhook(a_app, "status", &by_id, &failed, B_TOKEN, FORBIDDEN),
        // The server's token (A's) no longer signs for B, which has its own.
        webhook(&b.app_id, "inbound", "", &stop, TOKEN, FORBIDDEN),
        webhook(&b.app_id, "status", &by_id, &failed, TOKEN, FORBIDDEN),
        webhook(&b.app_id, "inbound", "", &stop, B_TOKEN, OK),
        webhook(&b.app_id, "inbound", "", &text, B_TOKEN, OK),
        webhook(&b.app_id, "status", "", &failed, B_TOKEN, OK),
        webhook(&b.app_id, "status", &by_id, &failed, B_TOKEN, OK),
    ]
}

/// Every v2 case again with A's `app_id` (in the body, or in the path of the send
/// endpoints): 403, whatever the rest of the request says.
fn with_as_app_id(cases: &[Case], a_app: &str) -> Vec<Case> {
    let mut out = Vec::new();
    for case in cases {
        let Request::Api {
            keys: Some(keys),
            path,
            body,
        } = &case.request
        else {
            continue;
        };
        let mut forged = body.clone();
        forged["app_id"] = json!(a_app);
        let mut variants = vec![(path.clone(), forged)];
        if case.route.ends_with("/{app_id}") {
            let (endpoint, _) = path.rsplit_once('/').expect("a send path");
            let in_path = format!("{endpoint}/{a_app}");
            variants.push((in_path.clone(), body.clone()));
            variants.push((in_path, json!({})));
        }
        for (path, body) in variants {
            out.push(Case {
                route: case.route,
                what: format!("A's app_id: {path} {body}"),
                request: Request::Api {
                    keys: Some(keys.clone()),
                    path,
                    body,
                },
                expect: FORBIDDEN,
                allowed: Vec::new(),
            });
        }
    }
    out
}

/// Every case, in the order it is played.
fn cases(a_app: &str, a_keys: &Keys, b: &Keys, a: &AData, bea: &str) -> Vec<Case> {
    let mut played = Vec::new();
    let reads = reads_before_writes(b, a);
    let refused = writes_on_as_ids(b, a, bea);
    let own = own_writes_with_as_ids(b);
    let after = reads_after_writes(b, a);
    for group in [&reads, &refused, &own, &after] {
        played.extend(with_as_app_id(group, a_app));
    }
    // v1 with A's api key and B's secret (and the other way round).
    for endpoint in ["getOptinCustomers", "getOptoutCustomers"] {
        played.push(v1(endpoint, &a_keys.api_key, &b.secret_key, UNAUTHORIZED));
        played.push(v1(endpoint, &b.api_key, &a_keys.secret_key, UNAUTHORIZED));
    }
    played.extend(reads);
    played.extend(refused);
    played.extend(own);
    played.extend(after);
    played.extend(webhooks(a_app, b, a));
    // The hosted page is public by design: it shows its form and nothing else of A's.
    played.push(get(
        "GET /forms/{form_id}",
        format!("/forms/{}", a.form),
        OK,
        vec![a.form.clone(), "A Form Name Marker".into()],
    ));
    for guess in [FORM_ID, &a.ana, &a.sent, &a.submission] {
        played.push(get(
            "GET /forms/{form_id}",
            format!("/forms/{guess}"),
            NOT_FOUND,
            Vec::new(),
        ));
    }
    played.push(Case {
        route: "POST /forms/{form_id}",
        what: "POST /forms/{A's caller form id}".into(),
        request: Request::PostForm {
            path: format!("/forms/{FORM_ID}"),
            fields: vec![
                ("first_name".into(), "Mallory".into()),
                ("email".into(), ANA_EMAIL.into()),
            ],
        },
        expect: NOT_FOUND,
        allowed: Vec::new(),
    });
    for (route, path) in [
        ("GET /healthz", "/healthz"),
        ("GET /readyz", "/readyz"),
        ("GET /metrics", "/metrics"),
        ("GET /openapi.json", "/openapi.json"),
    ] {
        played.push(get(route, path.into(), OK, Vec::new()));
    }
    played
}

async fn play(app: &TestApp, request: &Request) -> (StatusCode, String) {
    let response = match request {
        Request::Api { keys, path, body } => {
            let mut builder = app.client.post(app.url(path)).json(body);
            if let Some(keys) = keys {
                builder = builder
                    .header("X-API-KEY", &keys.api_key)
                    .header("X-SECRET-KEY", &keys.secret_key);
            }
            builder.send().await
        }
        Request::Webhook {
            app_id,
            kind,
            query,
            params,
            token,
        } => {
            let url = app.url(&format!("/webhooks/twilio/{app_id}/{kind}{query}"));
            let signature = roster_delivery::signature::sign(token, &url, params);
            app.client
                .post(&url)
                .header("X-Twilio-Signature", signature)
                .form(params)
                .send()
                .await
        }
        Request::Get { path } => app.client.get(app.url(path)).send().await,
        Request::PostForm { path, fields } => {
            app.client.post(app.url(path)).form(fields).send().await
        }
    };
    let response = response.expect("request");
    let status = response.status();
    (status, response.text().await.expect("body"))
}

fn request_text(request: &Request) -> String {
    match request {
        Request::Api { path, body, .. } => format!("{path} {body}"),
        Request::Webhook { query, params, .. } => format!("{query} {params:?}"),
        Request::Get { path } => path.clone(),
        Request::PostForm { path, fields } => format!("{path} {fields:?}"),
    }
}

/// The problems with one answer: a status other than expected, or a marker of A's that
/// the request did not itself carry.
fn judge(case: &Case, status: StatusCode, text: &str, markers: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    match case.expect {
        Expect::Status(expected) if status != expected => {
            problems.push(format!("expected {expected}, got {status}: {text}"));
        }
        Expect::Empty => {
            let members = serde_json::from_str::<Value>(text)
                .ok()
                .map(|v| v["members"].clone());
            if status != StatusCode::OK || members != Some(json!([])) {
                problems.push(format!(
                    "expected 200 with no members, got {status}: {text}"
                ));
            }
        }
        Expect::Status(_) => {}
    }
    if status.is_server_error() {
        problems.push(format!("a {status} is a bug: {text}"));
    }
    let asked = request_text(&case.request);
    for marker in markers {
        if text.contains(marker.as_str())
            && !asked.contains(marker.as_str())
            && !case.allowed.contains(marker)
        {
            problems.push(format!("LEAK of A's {marker:?}: {text}"));
        }
    }
    problems
}

async fn ok(app: &TestApp, endpoint: &str, body: Value) -> Value {
    let (status, reply) = app.post(endpoint, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{endpoint} {body}: {reply}");
    reply
}

fn id_of(reply: &Value) -> String {
    reply["_id"].as_str().expect("_id").to_string()
}

/// Fills app A (the harness's app) with one of everything, through the API.
async fn fill_app_a(m: &Messaging) -> AData {
    let app = &m.app;
    let location = id_of(
        &ok(
            app,
            "newLocation",
            json!({"id": LOCATION_ID, "name": "A Hidden Studio Marker", "city": "Atlantis-marker",
                "timezone": "America/Chicago", "email": "desk.a@example.com"}),
        )
        .await,
    );
    let mut a = AData {
        location,
        ..AData::default()
    };
    a.workroom = id_of(
        &ok(
            app,
            "newWorkroom",
            json!({"id": WORKROOM_ID, "name": "A Hidden Room Marker", "location_ids": [LOCATION_ID]}),
        )
        .await,
    );
    a.class = id_of(
        &ok(
            app,
            "newClass",
            json!({"id": CLASS_ID, "class_name": "A Secret Class Marker", "start_date": "2030-01-02",
                "start_time": "9:00", "end_time": "10:00", "location_id": LOCATION_ID,
                "staff": "A Coach Marker", "capacity": 12}),
        )
        .await,
    );
    a.ana = app
        .new_contact(json!({"first_name": "Ana", "last_name": "Zanzibarova", "user_id": ANA_USER,
            "email": ANA_EMAIL, "phone": ANA_PHONE, "optin_sms": true, "tags": "a-vip-tag-marker",
            "location": LOCATION_ID, "city": "Atlantis-marker", "a_secret_attr": "a-secret-value-marker",
            "dob": "1990-05-06", "type": "member", "status": "active"}))
        .await;
    a.bo = app
        .new_contact(
            json!({"first_name": "Bo", "last_name": "Quixotica", "user_id": BO_USER,
            "email": BO_EMAIL, "phone": BO_PHONE, "optout_email": true, "optin_sms": false}),
        )
        .await;
    a.dee = app
        .new_contact(
            json!({"first_name": "Dee", "last_name": "Zanzibarova", "email": "dee.a@example.com"}),
        )
        .await;
    ok(
        app,
        "mergeContacts",
        json!({"from_contact": a.ana, "to_contact": a.dee}),
    )
    .await;
    assert_eq!(
        app.customers(json!({"_id": a.dee})).await[0]["id"],
        a.ana.as_str(),
        "the retired id resolves to the survivor in A"
    );
    ok(
        app,
        "newEvent",
        json!({"user_id": ANA_USER, "id": EVENT_ID, "event_type": "a_private_visit_marker",
            "event_name": "A Private Event Marker", "event_date": "2025-03-01", "event_time": "7:05 PM",
            "is_visit": true, "location": LOCATION_ID, "event_data": {"coach": "a-coach-data-marker"}}),
    )
    .await;
    ok(
        app,
        "newEvent",
        json!({"user_id": BO_USER, "id": "a-evt-2", "event_type": "a_purchase_marker",
            "event_date": "2025-03-02", "is_purchase": true}),
    )
    .await;
    ok(
        app,
        "addMemberships",
        json!({"user_id": ANA_USER, "memberships": [{"id": MEMBERSHIP_ID, "name": "A Gold Marker",
            "status": "active", "start_date": "2025-01-01", "price": 99, "location_id": LOCATION_ID}]}),
    )
    .await;
    a.form = id_of(
        &ok(
            app,
            "newForm",
            json!({"id": FORM_ID, "name": "A Form Name Marker", "consent_field": "sms_ok", "fields": [
                {"name": "first_name", "label": "First name", "type": "text", "required": true},
                {"name": "last_name", "label": "Last name", "type": "text"},
                {"name": "email", "label": "Email", "type": "email", "required": true},
                {"name": "phone", "label": "Mobile", "type": "phone"},
                {"name": "note", "label": "Note", "type": "text"},
                {"name": "sms_ok", "label": "Text me", "type": "checkbox"}]}),
        )
        .await,
    );
    a.submission = id_of(
        &ok(
            app,
            "submitForm",
            json!({"form_id": a.form, "data": {"first_name": "Ana", "email": ANA_EMAIL,
                "note": "a-submission-marker"}}),
        )
        .await,
    );

    // Cy arrives through double opt-in: the request SMS, then YES.
    ok(
        app,
        "optin",
        json!({"phone": CY_PHONE, "email": CY_EMAIL, "user_id": CY_USER, "dob": "1990-01-01"}),
    )
    .await;
    assert_eq!(m.inbound(CY_PHONE, "YES", "SMa-yes").await, StatusCode::OK);
    assert_eq!(
        m.inbound(ANA_PHONE, "a-inbound-text-marker", "SMa-text")
            .await,
        StatusCode::OK
    );
    a.cy = app.customers(json!({"user_id": CY_USER})).await[0]["id"]
        .as_str()
        .expect("cy")
        .to_string();

    let (status, sms) = m
        .send_sms(json!({"to_number": ANA_PHONE, "message": "a-private-sms-marker {{first_name}}", "_id": a.ana}))
        .await;
    assert_eq!(status, StatusCode::OK, "{sms}");
    let (status, mail) = m
        .send_email(
            json!({"to_email": ANA_EMAIL, "subject": "a-private-subject-marker",
            "text": "a-private-email-marker {{a_secret_attr}}", "_id": a.ana}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{mail}");

    a.draft = id_of(
        &ok(
            app,
            "newCampaign",
            json!({"id": DRAFT_ID, "name": "A Draft Campaign Marker", "channel": "email",
                "subject": "a-draft-body-marker", "body": "a-draft-body-marker",
                "audience": {"workroom": WORKROOM_ID}}),
        )
        .await,
    );
    a.sent = id_of(
        &ok(
            app,
            "newCampaign",
            json!({"id": SENT_ID, "name": "A Sent Campaign Marker", "channel": "sms",
                "body": "a-campaign-body-marker {{first_name}}",
                "audience": {"tags_any": ["a-vip-tag-marker"]}}),
        )
        .await,
    );
    ok(app, "sendCampaign", json!({"id": SENT_ID})).await;
    a.later = id_of(
        &ok(
            app,
            "newCampaign",
            json!({"id": LATER_ID, "name": "A Later Campaign Marker", "channel": "sms",
                "body": "a-campaign-body-marker", "scheduled_date": "2099-01-01 00:00:00"}),
        )
        .await,
    );
    let started = ok(app, "sendCampaign", json!({"id": LATER_ID})).await;
    assert_eq!(started["campaign_status"], "scheduled");

    // Everything A queued has reached the providers before the first snapshot.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let campaigns = app.members("getCampaigns", json!({})).await;
        let sent = campaigns
            .iter()
            .find(|c| c["_id"] == a.sent.as_str())
            .expect("sent campaign");
        let messages = m.messages(json!({"limit": 1000})).await;
        let busy = messages
            .iter()
            .any(|msg| msg["status"] == "queued" || msg["status"] == "sending");
        if sent["status"] == "sent" && sent["recipients"] == 1 && !busy {
            a.messages = messages
                .iter()
                .map(|msg| msg["_id"].as_str().unwrap().to_string())
                .collect();
            a.provider_ids = messages
                .iter()
                .filter_map(|msg| msg["service_message_id"].as_str())
                .map(str::to_string)
                .collect();
            assert!(
                messages.iter().all(|msg| msg["status"] != "failed"),
                "A's sends succeed: {messages:?}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "A's messages never settled: {sent} {messages:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Sanity: A really has what the cases aim at.
    assert_eq!(app.customers(json!({})).await.len(), 3);
    assert!(
        a.messages.len() >= 6,
        "opt-in request, YES reply, inbound, SMS, email, campaign: {:?}",
        a.messages
    );
    assert_eq!(
        m.consent_history(&a.cy).await.len(),
        2,
        "pending, then opted in by YES"
    );
    a
}

/// Waits until B's campaign (its `_id`) has fanned out.
async fn b_campaign_sent(app: &TestApp, b: &Keys, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, reply) = app.post_as(b, "getCampaigns", json!({"limit": 1000})).await;
        let found = reply["members"]
            .as_array()
            .expect("members")
            .iter()
            .find(|c| c["_id"] == id)
            .cloned();
        if let Some(found) = found
            && found["status"] == "sent"
        {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "B's campaign {id} never fanned out: {reply}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every read of A's, with A's keys, as raw text.
async fn snapshot(app: &TestApp, a: &AData) -> BTreeMap<String, String> {
    let keys = &app.keys;
    let mut reads: Vec<(String, Value)> = vec![
        (
            "getCustomers".into(),
            json!({"fulldata": true, "events": true, "limit": 1000}),
        ),
        ("getOptinCustomers".into(), json!({})),
        ("getOptoutCustomers".into(), json!({})),
        ("getOptoutCustomers".into(), json!({"type": "sms"})),
        ("getOptoutCustomers".into(), json!({"type": "email"})),
        ("getAttributes".into(), json!({})),
        ("getAttributeEvents".into(), json!({})),
        ("getLocations".into(), json!({})),
        ("getClassSchedule".into(), json!({})),
        ("getWorkrooms".into(), json!({})),
        ("getForms".into(), json!({})),
        ("getFormSubmissions".into(), json!({"form_id": a.form})),
        ("getCampaigns".into(), json!({})),
        ("getMessages".into(), json!({"limit": 1000})),
    ];
    for contact in [&a.ana, &a.bo, &a.cy] {
        reads.push(("getCustomerEvents".into(), json!({"_id": contact})));
        reads.push(("getConsentHistory".into(), json!({"_id": contact})));
        reads.push(("getMessages".into(), json!({"_id": contact})));
    }
    let mut shot = BTreeMap::new();
    for (endpoint, mut body) in reads {
        body["app_id"] = json!(keys.app_id);
        let label = format!("{endpoint} {body}");
        let response = app
            .client
            .post(app.url(&format!("{V2}/{endpoint}")))
            .header("X-API-KEY", &keys.api_key)
            .header("X-SECRET-KEY", &keys.secret_key)
            .json(&body)
            .send()
            .await
            .expect("read");
        let status = response.status();
        let text = response.text().await.expect("body");
        assert_eq!(status, StatusCode::OK, "{label}: {text}");
        shot.insert(label, text);
    }
    for endpoint in ["getOptinCustomers", "getOptoutCustomers"] {
        let response = app
            .client
            .post(app.url(&format!("/v1/ExternalApi/{endpoint}")))
            .json(&json!({"api_key": keys.api_key, "secret_key": keys.secret_key}))
            .send()
            .await
            .expect("v1");
        let (_, body) = read(response).await;
        shot.insert(format!("v1 {endpoint}"), body.to_string());
    }
    let page = app
        .client
        .get(app.url(&format!("/forms/{}", a.form)))
        .send()
        .await
        .expect("page");
    shot.insert("form page".into(), page.text().await.expect("page"));
    shot
}

/// B: its own Twilio token (so A's path cannot be signed with it) and log providers.
async fn app_b(m: &Messaging) -> Keys {
    let b = m.app.create_app("Studio B").await;
    m.app
        .store
        .configure_messaging(
            &AppId::new(b.app_id.clone()),
            &MessagingSettings {
                sms_provider: Some(SmsProvider::Log),
                email_provider: Some(EmailProvider::Log),
                twilio_auth_token: Some(B_TOKEN.into()),
                ..MessagingSettings::default()
            },
        )
        .await
        .expect("configure B");
    b
}

#[tokio::test]
async fn app_b_gets_nothing_of_app_a_on_any_endpoint() {
    let m = Messaging::start().await;
    let a = fill_app_a(&m).await;
    let a_keys = m.app.keys.clone();
    let b = app_b(&m).await;
    let markers = a.markers();
    let before = snapshot(&m.app, &a).await;
    let sms_before = m.twilio.delivered().len();
    let mail_before = m.smtp.received().len();

    // B's own member, to mix with A's ids.
    let (status, reply) = m
        .app
        .post_as(
            &b,
            "newContact",
            json!({"first_name": "Bea", "last_name": "Intruder", "phone": B_PHONE,
                "email": B_EMAIL, "optin_sms": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let bea = id_of(&reply);

    let mut problems = Vec::new();
    for case in cases(&a_keys.app_id, &a_keys, &b, &a, &bea) {
        let (status, text) = play(&m.app, &case.request).await;
        for problem in judge(&case, status, &text, &markers) {
            problems.push(format!("[{}] {}\n    {problem}", case.route, case.what));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );

    // B's campaigns reach B's audience only: filters that only A's members meet find
    // nobody, and "everyone" is B's contacts.
    let (_, b_contacts) = m
        .app
        .post_as(&b, "getCustomers", json!({"limit": 1000}))
        .await;
    let b_count = b_contacts["members"].as_array().expect("members").len() as u64;
    for (n, audience) in [
        json!({"tags_any": ["a-vip-tag-marker"]}),
        json!({"tags_all": ["a-vip-tag-marker"]}),
        json!({"event_type": "a_private_visit_marker"}),
        json!({"membership_status": "active"}),
        json!({"location": LOCATION_ID}),
        json!({"workroom": WORKROOM_ID}),
        json!({"type": "member"}),
        json!({"status": "active"}),
        json!({}),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("b-campaign-{n}");
        let body = json!({"id": id, "name": "B's", "channel": "sms", "body": "from B",
            "audience": audience});
        let (status, reply) = m.app.post_as(&b, "newCampaign", body).await;
        assert_eq!(status, StatusCode::OK, "{audience}: {reply}");
        let campaign = id_of(&reply);
        let (status, reply) = m.app.post_as(&b, "sendCampaign", json!({"id": id})).await;
        assert_eq!(status, StatusCode::OK, "{audience}: {reply}");
        let done = b_campaign_sent(&m.app, &b, &campaign).await;
        let reached = done["recipients"].as_u64().unwrap() + done["skipped"].as_u64().unwrap();
        let expected = if audience == json!({}) { b_count } else { 0 };
        assert_eq!(reached, expected, "B's audience {audience}: {done}");
    }

    // A submission to B's own form (same caller id as A's) with A's member's email makes
    // or updates B's contact only.
    let (_, b_forms) = m.app.post_as(&b, "getForms", json!({})).await;
    let b_form = b_forms["members"][0]["_id"]
        .as_str()
        .expect("B's form")
        .to_string();
    assert_ne!(b_form, a.form);
    let case = v2(
        &b,
        "submitForm",
        json!({"form_id": b_form, "data": {"first_name": "Ana", "email": ANA_EMAIL}}),
        OK,
    );
    let (status, text) = play(&m.app, &case.request).await;
    let problems = judge(&case, status, &text, &markers);
    assert!(problems.is_empty(), "{}: {problems:?}", case.what);

    // B's own sends go through B's providers (the log), never A's Twilio account or SMTP.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, reply) = m
            .app
            .post_as(&b, "getMessages", json!({"limit": 1000}))
            .await;
        let busy = reply["members"]
            .as_array()
            .expect("members")
            .iter()
            .any(|msg| msg["status"] == "queued" || msg["status"] == "sending");
        if !busy {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "B's messages never settled: {reply}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        m.twilio.delivered().len(),
        sms_before,
        "nothing via A's Twilio"
    );
    assert_eq!(m.smtp.received().len(), mail_before, "nothing via A's SMTP");

    let after = snapshot(&m.app, &a).await;
    for (label, text) in &before {
        assert_eq!(
            after.get(label),
            Some(text),
            "A's {label} changed through B's requests"
        );
    }
    assert_eq!(before.len(), after.len());

    // The public page, posted to with A's member's email: it says thank you and shows
    // nothing of theirs, and it does not change the name A holds.
    let page = format!("/forms/{}", a.form);
    for (fields, expect) in [
        (
            vec![
                ("first_name", "Mallory"),
                ("email", ANA_EMAIL),
                ("note", "x"),
            ],
            OK,
        ),
        (
            vec![("first_name", "Mallory"), ("email", "not-an-email")],
            BAD,
        ),
    ] {
        let case = Case {
            route: "POST /forms/{form_id}",
            what: format!("POST {page} {fields:?}"),
            request: Request::PostForm {
                path: page.clone(),
                fields: fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
            expect,
            allowed: vec![a.form.clone(), "A Form Name Marker".into()],
        };
        let (status, text) = play(&m.app, &case.request).await;
        let problems = judge(&case, status, &text, &markers);
        assert!(problems.is_empty(), "{}: {problems:?}", case.what);
    }
    let ana = &m.app.customers(json!({"_id": a.ana})).await[0];
    assert_eq!(
        (&ana["firstname"], &ana["lastname"]),
        (&json!("Ana"), &json!("Zanzibarova"))
    );

    // Controls: the detector finds A's data when A itself reads it, and the snapshot
    // sees the page's new submission.
    for (endpoint, body) in [
        ("getCustomers", json!({"fulldata": true, "events": true})),
        ("getAttributes", json!({})),
        ("getAttributeEvents", json!({})),
        ("getLocations", json!({})),
        ("getClassSchedule", json!({})),
        ("getWorkrooms", json!({})),
        ("getForms", json!({})),
        ("getFormSubmissions", json!({"form_id": a.form})),
        ("getCampaigns", json!({})),
        ("getMessages", json!({})),
        // (Consent history carries no marker: B's reads of it must be empty, above.)
    ] {
        let case = v2(&a_keys, endpoint, body, OK);
        let (status, text) = play(&m.app, &case.request).await;
        assert!(
            judge(&case, status, &text, &markers)
                .iter()
                .any(|p| p.starts_with("LEAK")),
            "the detector misses A's data in {endpoint}: {text}"
        );
    }
    assert_ne!(
        snapshot(&m.app, &a).await,
        after,
        "the snapshot sees the page's submission"
    );
}

/// The routes the router serves, read from its source: `METHOD /path` for each handler.
fn router_routes() -> BTreeSet<String> {
    let source = include_str!("../../../roster-server/src/routes/mod.rs");
    let start = source
        .find("pub fn router(")
        .expect("routes/mod.rs has `pub fn router(`");
    let source = &source[start..];
    // The v2 block, the v1 block, then the top-level router with the nests.
    let v1_at = source
        .find("let v1 =")
        .expect("routes/mod.rs: `let v1 =` (update router_routes)");
    let top_at = source[v1_at..]
        .find(".nest(")
        .map(|i| i + v1_at)
        .expect("routes/mod.rs: `.nest(` (update router_routes)");
    let mut routes = BTreeSet::new();
    for (prefix, block) in [
        (V2, &source[..v1_at]),
        ("/v1/ExternalApi", &source[v1_at..top_at]),
        ("", &source[top_at..]),
    ] {
        let mut rest = block;
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            let open = rest.find('"').expect("route path literal");
            let close = rest[open + 1..].find('"').expect("route path end") + open + 1;
            let path = &rest[open + 1..close];
            let handler_end = rest.find(".route(").unwrap_or(rest.len());
            let handlers = &rest[close..handler_end];
            let mut found = false;
            for method in ["get", "post", "put", "patch", "delete"] {
                let call = format!("{method}(");
                let called = handlers.match_indices(&call).any(|(i, _)| {
                    i == 0
                        || !handlers.as_bytes()[i - 1].is_ascii_alphanumeric()
                            && handlers.as_bytes()[i - 1] != b'_'
                });
                if called {
                    routes.insert(format!("{} {prefix}{path}", method.to_uppercase()));
                    found = true;
                }
            }
            assert!(found, "no method found for route {path}");
        }
    }
    routes
}

#[tokio::test]
async fn every_route_has_an_isolation_case() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    let (status, doc) = read(response).await;
    assert_eq!(status, StatusCode::OK);
    let mut served = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            served.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let from_source = router_routes();
    assert!(
        from_source.len() >= 40,
        "the router's source parsed to too few routes: {from_source:?}"
    );
    served.extend(from_source);

    let keys = |n: &str| Keys {
        app_id: n.into(),
        api_key: format!("api-{n}"),
        secret_key: format!("secret-{n}"),
    };
    let dummy = AData {
        messages: vec!["m".into()],
        provider_ids: vec!["SMx".into()],
        ..AData::default()
    };
    let covered: BTreeSet<String> = cases("1", &keys("1"), &keys("2"), &dummy, "bea")
        .iter()
        .map(|case| case.route.to_string())
        .collect();

    let uncovered: Vec<_> = served.difference(&covered).collect();
    assert!(
        uncovered.is_empty(),
        "routes without an isolation case (add them to isolation.rs): {uncovered:?}"
    );
    let stale: Vec<_> = covered.difference(&served).collect();
    assert!(
        stale.is_empty(),
        "isolation cases for routes that are not served: {stale:?}"
    );
}
