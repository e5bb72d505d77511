use roster_domain::{ApiKey, AppCredentials, AppId, SecretHash, Timestamp};
use sqlx::{Row, SqlitePool};

use super::Tx;
use crate::{AppSummary, StoreError, StoreResult};

/// App ids are small decimal numbers: easy to read out and type, and safe as JSON strings
/// or numbers alike. They are not secret; the keys are.
pub async fn insert(
    tx: &mut Tx,
    name: &str,
    api_key: &ApiKey,
    secret: &SecretHash,
) -> StoreResult<AppId> {
    let next: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(pk), 0) + 1 FROM apps")
        .fetch_one(&mut **tx)
        .await?;
    let app_id = AppId::new(next.to_string());
    sqlx::query(
        "INSERT INTO apps (pk, app_id, name, api_key, secret_hash, created_date) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(next)
    .bind(app_id.as_str())
    .bind(name)
    .bind(api_key.as_str())
    .bind(secret.to_hex())
    .bind(Timestamp::now().to_rfc3339())
    .execute(&mut **tx)
    .await?;
    Ok(app_id)
}

pub async fn list(pool: &SqlitePool) -> StoreResult<Vec<AppSummary>> {
    let rows = sqlx::query("SELECT app_id, name, api_key, created_date FROM apps ORDER BY pk")
        .fetch_all(pool)
        .await?;
    rows.into_iter()
        .map(|row| {
            let created: String = row.try_get("created_date")?;
            Ok(AppSummary {
                app_id: AppId::new(row.try_get::<String, _>("app_id")?),
                name: row.try_get("name")?,
                api_key: ApiKey::new(row.try_get::<String, _>("api_key")?),
                created_date: Timestamp::parse_rfc3339(&created)
                    .ok_or_else(|| StoreError::Corrupt(format!("apps.created_date {created:?}")))?,
            })
        })
        .collect()
}

pub async fn by_api_key(pool: &SqlitePool, api_key: &str) -> StoreResult<Option<AppCredentials>> {
    let row = sqlx::query("SELECT app_id, name, api_key, secret_hash FROM apps WHERE api_key = ?")
        .bind(api_key)
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let hash: String = row.try_get("secret_hash")?;
    Ok(Some(AppCredentials {
        app_id: AppId::new(row.try_get::<String, _>("app_id")?),
        name: row.try_get("name")?,
        api_key: ApiKey::new(row.try_get::<String, _>("api_key")?),
        secret_hash: SecretHash::from_hex(&hash)
            .ok_or_else(|| StoreError::Corrupt("apps.secret_hash".into()))?,
    }))
}

pub async fn set_secret(tx: &mut Tx, app: &AppId, secret: &SecretHash) -> StoreResult<()> {
    let done = sqlx::query("UPDATE apps SET secret_hash = ? WHERE app_id = ?")
        .bind(secret.to_hex())
        .bind(app.as_str())
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("no app has id {app}")));
    }
    Ok(())
}
