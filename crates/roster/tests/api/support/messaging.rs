//! A Roster with real messaging providers: the Twilio-compatible fake and the SMTP server
//! on real sockets, a short retry schedule, and helpers to send and to play Twilio's
//! signed webhooks.

use std::time::Duration;

use reqwest::StatusCode;
use roster_domain::messaging::{
    MessagingSettings, RetrySchedule,
    settings::{EmailProvider, SmsProvider, SmtpTls},
};
use roster_server::{DeliverySettings, ServerSettings};
use serde_json::{Value, json};

use super::{Keys, TestApp, TestDb, contact, read, smtp::SmtpServer, twilio::TwilioFake};

pub const SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const TOKEN: &str = "test-auth-token";
pub const APP_NUMBER: &str = "+15550001111";
pub const FROM_EMAIL: &str = "studio@example.com";

pub struct Messaging {
    pub app: TestApp,
    pub twilio: TwilioFake,
    pub smtp: SmtpServer,
}

/// Delivery settings pointing at `twilio` and `smtp`, with waits short enough for tests.
pub fn delivery(twilio: &TwilioFake, smtp: &SmtpServer) -> DeliverySettings {
    DeliverySettings {
        defaults: MessagingSettings {
            sms_provider: Some(SmsProvider::Twilio),
            twilio_base_url: Some(twilio.base_url()),
            twilio_account_sid: Some(SID.into()),
            twilio_auth_token: Some(TOKEN.into()),
            sms_from: Some(vec![APP_NUMBER.into()]),
            email_provider: Some(EmailProvider::Smtp),
            smtp_host: Some("127.0.0.1".into()),
            smtp_port: Some(smtp.port()),
            smtp_tls: Some(SmtpTls::None),
            email_from: Some(FROM_EMAIL.into()),
            email_from_name: Some("Studio".into()),
            // Campaign tests must not depend on the hour they run at; the quiet-hours
            // test sets its own window.
            quiet_hours_sms: Some("none".into()),
            quiet_hours_email: Some("none".into()),
            ..MessagingSettings::default()
        },
        retry: RetrySchedule::parse("100ms,200ms,300ms").unwrap(),
        inline_timeout: Duration::from_secs(3),
        provider_timeout: Duration::from_secs(2),
        lease: Duration::from_secs(5),
        workers: 4,
        poll_interval: Duration::from_millis(50),
        public_url: None,
    }
}

impl Messaging {
    pub async fn start() -> Messaging {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut DeliverySettings)) -> Messaging {
        let twilio = TwilioFake::start(SID, TOKEN).await;
        let smtp = SmtpServer::start().await;
        let mut settings = ServerSettings {
            delivery: delivery(&twilio, &smtp),
            ..ServerSettings::default()
        };
        adjust(&mut settings.delivery);
        let app = TestApp::start(TestDb::create().await, settings, None).await;
        Messaging { app, twilio, smtp }
    }

    /// A contact opted in to SMS; returns its id.
    pub async fn opted_in(&self, first: &str, phone: &str) -> String {
        self.app
            .new_contact(contact(first, json!({"phone": phone, "optin_sms": true})))
            .await
    }

    pub async fn send_sms(&self, body: Value) -> (StatusCode, Value) {
        self.send_as(&self.app.keys, "sendSmsNotification", body)
            .await
    }

    pub async fn send_email(&self, body: Value) -> (StatusCode, Value) {
        self.send_as(&self.app.keys, "sendEmailNotification", body)
            .await
    }

    /// A send endpoint with the app id in the path, as the contract has it.
    pub async fn send_as(&self, keys: &Keys, endpoint: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .app
            .client
            .post(
                self.app
                    .url(&format!("/v2/ExternalApi/{endpoint}/{}", keys.app_id)),
            )
            .header("X-API-KEY", &keys.api_key)
            .header("X-SECRET-KEY", &keys.secret_key)
            .json(&body)
            .send()
            .await
            .expect("request");
        read(response).await
    }

    /// Posts a Twilio webhook for `app_id`, signed with `token` as Twilio signs it.
    pub async fn webhook(
        &self,
        app_id: &str,
        kind: &str,
        params: &[(&str, &str)],
        token: Option<&str>,
    ) -> (StatusCode, String) {
        let path = format!("/webhooks/twilio/{app_id}/{kind}");
        let url = self.app.url(&path);
        let owned: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut request = self.app.client.post(&url).form(&owned);
        if let Some(token) = token {
            let signature = roster_delivery::signature::sign(token, &url, &owned);
            request = request.header("X-Twilio-Signature", signature);
        }
        let response = request.send().await.expect("webhook");
        (response.status(), response.text().await.unwrap_or_default())
    }

    /// An inbound SMS from `from` to the app's number, correctly signed.
    pub async fn inbound(&self, from: &str, body: &str, sid: &str) -> StatusCode {
        let params = [
            ("MessageSid", sid),
            ("AccountSid", SID),
            ("From", from),
            ("To", APP_NUMBER),
            ("Body", body),
        ];
        self.webhook(&self.app.keys.app_id, "inbound", &params, Some(TOKEN))
            .await
            .0
    }

    pub async fn messages(&self, filter: Value) -> Vec<Value> {
        self.app.members("getMessages", filter).await
    }

    /// Polls getMessages until the message has `status` (bounded).
    pub async fn wait_for_status(&self, id: &str, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let all = self.messages(json!({"limit": 1000})).await;
            let found = all.into_iter().find(|m| m["_id"] == id);
            if let Some(m) = &found
                && m["status"] == status
            {
                return m.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "message {id} never reached {status}: {found:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn consent_history(&self, id: &str) -> Vec<Value> {
        self.app
            .members("getConsentHistory", json!({"_id": id}))
            .await
    }

    /// The contact's row in getOptoutCustomers(type sms), if it is there.
    pub async fn sms_optout_of(&self, id: &str) -> Option<Value> {
        self.app
            .members("getOptoutCustomers", json!({"type": "sms"}))
            .await
            .into_iter()
            .find(|m| m["id"] == id)
    }

    pub async fn is_opted_in(&self, id: &str) -> bool {
        self.app
            .members("getOptinCustomers", json!({}))
            .await
            .iter()
            .any(|m| m["id"] == id)
    }
}
