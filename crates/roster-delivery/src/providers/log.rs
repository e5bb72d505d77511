//! The `log` provider: for development and first runs. Messages are written to the log and
//! count as sent, so `roster serve` works with no provider account.

use roster_domain::messaging::Message;

pub fn send(message: &Message) -> String {
    tracing::info!(
        target: "roster::messages",
        id = %message.id,
        app_id = %message.app_id,
        channel = message.channel.as_str(),
        to = %message.to,
        from = %message.from,
        subject = message.subject.as_deref().unwrap_or(""),
        body = message.text.as_deref().or(message.html.as_deref()).unwrap_or(""),
        "message sent to the log provider"
    );
    format!("log-{}", message.id)
}
