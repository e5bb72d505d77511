//! Email over SMTP (lettre). Each message carries a stable `Message-ID` built from its
//! outbox id, so a retry after a lost answer is recognisable as the same message.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Tokio1Executor,
    message::{Mailbox, MultiPart, SinglePart},
    transport::smtp::authentication::Credentials,
};
use roster_domain::messaging::{Message, MessagingSettings, SmtpTls};

use super::SendError;

type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// Builds and keeps one transport per SMTP server and account; each pools its connections.
#[derive(Clone)]
pub struct SmtpClient {
    timeout: Duration,
    transports: Arc<Mutex<HashMap<String, Transport>>>,
}

impl SmtpClient {
    pub fn new(timeout: Duration) -> Self {
        crate::install_crypto_provider();
        Self {
            timeout,
            transports: Arc::default(),
        }
    }

    pub async fn send(
        &self,
        settings: &MessagingSettings,
        message: &Message,
    ) -> Result<String, SendError> {
        let email = build(message)?;
        let message_id = email
            .headers()
            .get_raw("Message-ID")
            .unwrap_or_default()
            .to_string();
        let transport = self.transport(settings)?;
        match transport.send(email).await {
            Ok(_) => Ok(message_id),
            Err(err) if err.is_permanent() => Err(SendError::permanent(format!(
                "SMTP server refused the message: {err}"
            ))),
            Err(err) => Err(SendError::transient(format!("SMTP delivery failed: {err}"))),
        }
    }

    fn transport(&self, settings: &MessagingSettings) -> Result<Transport, SendError> {
        let host = settings
            .smtp_host
            .as_deref()
            .ok_or_else(|| SendError::permanent("the SMTP provider has no host configured"))?;
        let tls = settings.smtp_tls();
        let port = settings.smtp_port();
        // Credentials are part of the key: two apps sharing a server never share a login,
        // and a changed password takes effect at once. (The key never leaves this map.)
        let key = format!(
            "{host}:{port}:{tls:?}:{}:{}",
            settings.smtp_username.as_deref().unwrap_or(""),
            settings.smtp_password.as_deref().unwrap_or("")
        );
        let mut cache = self.transports.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(transport) = cache.get(&key) {
            return Ok(transport.clone());
        }
        let builder = match tls {
            SmtpTls::None => Transport::builder_dangerous(host),
            SmtpTls::Starttls => Transport::starttls_relay(host)
                .map_err(|err| SendError::permanent(format!("SMTP TLS setup failed: {err}")))?,
            SmtpTls::Tls => Transport::relay(host)
                .map_err(|err| SendError::permanent(format!("SMTP TLS setup failed: {err}")))?,
        };
        let mut builder = builder.port(port).timeout(Some(self.timeout));
        if let Some(user) = &settings.smtp_username {
            let password = settings.smtp_password.clone().unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        let transport = builder.build();
        cache.insert(key, transport.clone());
        Ok(transport)
    }
}

fn build(message: &Message) -> Result<lettre::Message, SendError> {
    let bad = |what: &str, err: &dyn std::fmt::Display| {
        SendError::permanent(format!("{what} is not a usable address: {err}"))
    };
    let from_address = message.from.parse().map_err(|e| bad("from", &e))?;
    let from = Mailbox::new(message.from_name.clone(), from_address);
    let to: Mailbox = message.to.parse().map_err(|e| bad("to", &e))?;
    let domain = message.from.rsplit('@').next().unwrap_or("roster.invalid");
    let mut builder = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(message.subject.clone().unwrap_or_default())
        .message_id(Some(format!("<{}@{domain}>", message.id)));
    if let Some(reply_to) = &message.reply_to {
        builder = builder.reply_to(reply_to.parse().map_err(|e| bad("reply_to", &e))?);
    }
    let built = match (&message.text, &message.html) {
        (Some(text), Some(html)) => builder.multipart(MultiPart::alternative_plain_html(
            text.clone(),
            html.clone(),
        )),
        (None, Some(html)) => builder.singlepart(SinglePart::html(html.clone())),
        (text, None) => builder.singlepart(SinglePart::plain(text.clone().unwrap_or_default())),
    };
    built.map_err(|err| SendError::permanent(format!("the email could not be built: {err}")))
}
