//! Apps (tenants) and their credentials.

use roster_domain::{ApiKey, AppCredentials, AppId, SecretHash, Timestamp};

use crate::{
    AppSummary, StoreError, StoreResult,
    conn::{Conn, args},
};

/// App ids are small decimal numbers: easy to read out and type, and safe as JSON strings
/// or numbers alike. They are not secret; the keys are.
pub async fn insert<C: Conn + ?Sized>(
    conn: &mut C,
    name: &str,
    api_key: &ApiKey,
    secret: &SecretHash,
) -> StoreResult<AppId> {
    conn.lock_keys(&mut vec!["apps".to_string()]).await?;
    let (next,): (i64,) = conn
        .fetch_optional("SELECT COALESCE(MAX(pk), 0) + 1 FROM apps", vec![])
        .await?
        .unwrap_or((1,));
    let app_id = AppId::new(next.to_string());
    conn.execute(
        "INSERT INTO apps (pk, app_id, name, api_key, secret_hash, created_date) VALUES ($1, $2, $3, $4, $5, $6)",
        args![next, app_id.as_str(), name, api_key.as_str(), secret.to_hex(), Timestamp::now().to_rfc3339()],
    )
    .await?;
    Ok(app_id)
}

/// Creates the app only when there is none yet (first start of `roster serve`), so that
/// several processes starting together on one database create one app, not several.
pub async fn insert_first<C: Conn + ?Sized>(
    conn: &mut C,
    name: &str,
    api_key: &ApiKey,
    secret: &SecretHash,
) -> StoreResult<Option<AppId>> {
    conn.lock_keys(&mut vec!["apps".to_string()]).await?;
    let existing: Option<(i64,)> = conn
        .fetch_optional("SELECT pk FROM apps LIMIT 1", vec![])
        .await?;
    if existing.is_some() {
        return Ok(None);
    }
    insert(conn, name, api_key, secret).await.map(Some)
}

pub async fn list<C: Conn + ?Sized>(conn: &mut C) -> StoreResult<Vec<AppSummary>> {
    let rows: Vec<(String, String, String, String)> = conn
        .fetch_all(
            "SELECT app_id, name, api_key, created_date FROM apps ORDER BY pk",
            vec![],
        )
        .await?;
    rows.into_iter()
        .map(|(app_id, name, api_key, created)| {
            Ok(AppSummary {
                app_id: AppId::new(app_id),
                name,
                api_key: ApiKey::new(api_key),
                created_date: Timestamp::parse_rfc3339(&created)
                    .ok_or_else(|| StoreError::Corrupt(format!("apps.created_date {created:?}")))?,
            })
        })
        .collect()
}

pub async fn by_api_key<C: Conn + ?Sized>(
    conn: &mut C,
    api_key: &str,
) -> StoreResult<Option<AppCredentials>> {
    let row: Option<(String, String, String, String)> = conn
        .fetch_optional(
            "SELECT app_id, name, api_key, secret_hash FROM apps WHERE api_key = $1",
            args![api_key],
        )
        .await?;
    let Some((app_id, name, api_key, hash)) = row else {
        return Ok(None);
    };
    Ok(Some(AppCredentials {
        app_id: AppId::new(app_id),
        name,
        api_key: ApiKey::new(api_key),
        secret_hash: SecretHash::from_hex(&hash)
            .ok_or_else(|| StoreError::Corrupt("apps.secret_hash".into()))?,
    }))
}

pub async fn set_secret<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    secret: &SecretHash,
) -> StoreResult<()> {
    let changed = conn
        .execute(
            "UPDATE apps SET secret_hash = $1 WHERE app_id = $2",
            args![secret.to_hex(), app.as_str()],
        )
        .await?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("no app has id {app}")));
    }
    Ok(())
}

pub async fn exists<C: Conn + ?Sized>(conn: &mut C, app: &AppId) -> StoreResult<bool> {
    let row: Option<(String,)> = conn
        .fetch_optional(
            "SELECT app_id FROM apps WHERE app_id = $1",
            args![app.as_str()],
        )
        .await?;
    Ok(row.is_some())
}
