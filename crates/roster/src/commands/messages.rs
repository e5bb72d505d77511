//! `roster messages list`: the outbox and inbound messages, for operators.

use roster_domain::{
    AppId, Page,
    messaging::{Channel, MessageFilter, MessageStatus},
};

use super::{CommandResult, open_store};
use crate::{cli::MessagesCommand, config::Config};

pub async fn run(config: &Config, command: MessagesCommand) -> CommandResult {
    let store = open_store(config).await?;
    match command {
        MessagesCommand::List {
            app_id,
            status,
            channel,
            limit,
            offset,
            json,
        } => {
            let filter = MessageFilter {
                status: status
                    .as_deref()
                    .map(|s| MessageStatus::parse("--status", s))
                    .transpose()?,
                channel: channel
                    .as_deref()
                    .map(|c| Channel::parse("--channel", c))
                    .transpose()?,
                ..MessageFilter::default()
            };
            let page = Page::parse(Some(i64::from(limit)), Some(offset as i64))?;
            let messages = store.messages(&AppId::new(app_id), &filter, page).await?;
            for m in messages {
                if json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "_id": m.id, "channel": m.channel.as_str(),
                            "direction": m.direction.as_str(), "to": m.to, "from": m.from,
                            "status": m.status.as_str(), "attempts": m.attempts,
                            "service_message_id": m.provider_id, "error": m.error,
                            "created_date": m.created_date.to_rfc3339(),
                        })
                    );
                } else {
                    println!(
                        "{}  {:5} {:8} {:9} to {:<28} attempts {}  {}",
                        m.created_date.to_rfc3339(),
                        m.channel.as_str(),
                        m.direction.as_str(),
                        m.status.as_str(),
                        m.to,
                        m.attempts,
                        m.error.as_deref().unwrap_or("")
                    );
                }
            }
        }
    }
    Ok(())
}
