//! An app's messaging overrides, kept as JSON (only what the app sets).

use roster_domain::{AppId, Timestamp, messaging::MessagingSettings};

use crate::{
    StoreError, StoreResult,
    conn::{Conn, args},
};

pub async fn get<C: Conn + ?Sized>(conn: &mut C, app: &AppId) -> StoreResult<MessagingSettings> {
    let row: Option<(String,)> = conn
        .fetch_optional(
            "SELECT messaging FROM app_settings WHERE app_id = $1",
            args![app.as_str()],
        )
        .await?;
    match row {
        Some((json,)) => serde_json::from_str(&json)
            .map_err(|err| StoreError::Corrupt(format!("app_settings.messaging of {app}: {err}"))),
        None => Ok(MessagingSettings::default()),
    }
}

/// Overlays `changes` on the app's stored overrides; returns the result.
pub async fn configure<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    changes: &MessagingSettings,
) -> StoreResult<MessagingSettings> {
    if !crate::apps::exists(conn, app).await? {
        return Err(StoreError::NotFound(format!("no app {app}")));
    }
    let merged = get(conn, app).await?.overlay(changes);
    let json = serde_json::to_string(&merged)
        .map_err(|err| StoreError::Corrupt(format!("messaging settings: {err}")))?;
    conn.execute(
        "INSERT INTO app_settings (app_id, messaging, updated_date) VALUES ($1, $2, $3)
         ON CONFLICT (app_id) DO UPDATE SET messaging = excluded.messaging,
            updated_date = excluded.updated_date",
        args![app.as_str(), json, Timestamp::now().to_rfc3339()],
    )
    .await?;
    Ok(merged)
}
