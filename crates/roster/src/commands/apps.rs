//! `roster apps ...`: create apps, list them, rotate their secrets.

use roster_domain::{AppId, NewAppKeys, SecretHash, app::generate_secret};
use roster_store::Store;
use serde_json::json;

use super::{CommandResult, open_store};
use crate::{cli::AppsCommand, config::Config};

pub async fn run(config: &Config, command: AppsCommand) -> CommandResult {
    let store = open_store(config).await?;
    match command {
        AppsCommand::Create { name, json } => {
            let (app_id, keys) = create_app(store.as_ref(), &name).await?;
            print_keys(&app_id, keys.api_key.as_str(), &keys.secret_key, json);
        }
        AppsCommand::List { json } => list(store.as_ref(), json).await?,
        AppsCommand::RotateSecret { app_id, json } => {
            let app_id = AppId::new(app_id);
            let secret = generate_secret();
            store
                .rotate_secret(&app_id, &SecretHash::of(&secret))
                .await?;
            let api_key = store
                .list_apps()
                .await?
                .into_iter()
                .find(|a| a.app_id == app_id)
                .map(|a| a.api_key.as_str().to_string())
                .unwrap_or_default();
            print_keys(&app_id, &api_key, &secret, json);
        }
    }
    Ok(())
}

pub async fn create_app(
    store: &dyn Store,
    name: &str,
) -> Result<(AppId, NewAppKeys), roster_store::StoreError> {
    let keys = NewAppKeys::generate();
    let app_id = store
        .create_app(name, &keys.api_key, &keys.secret_hash())
        .await?;
    Ok((app_id, keys))
}

pub fn print_keys(app_id: &AppId, api_key: &str, secret_key: &str, as_json: bool) {
    if as_json {
        println!(
            "{}",
            json!({"app_id": app_id.as_str(), "api_key": api_key, "secret_key": secret_key})
        );
    } else {
        println!("app_id:     {app_id}");
        println!("api_key:    {api_key}");
        println!("secret_key: {secret_key}");
        println!("Keep the secret key now: Roster stores only its hash and cannot show it again.");
    }
}

async fn list(store: &dyn Store, as_json: bool) -> CommandResult {
    let apps = store.list_apps().await?;
    if as_json {
        for app in &apps {
            println!(
                "{}",
                json!({"app_id": app.app_id.as_str(), "name": app.name, "api_key": app.api_key.as_str(), "created_date": app.created_date.to_rfc3339()})
            );
        }
        return Ok(());
    }
    if apps.is_empty() {
        println!("no apps yet: create one with `roster apps create --name NAME`");
    }
    for app in &apps {
        println!(
            "{}\t{}\t{}\t{}",
            app.app_id,
            app.api_key.as_str(),
            app.created_date.to_rfc3339(),
            app.name
        );
    }
    Ok(())
}
