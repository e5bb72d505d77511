//! `roster apps ...`: create apps, list them, rotate their secrets.

use roster_domain::{
    AppId, Email, NewAppKeys, SecretHash,
    app::generate_secret,
    messaging::{
        MessagingSettings, Template,
        settings::{
            EMAIL_PROVIDERS, SMS_PROVIDERS, SMTP_TLS_MODES, parse_choice, parse_sender_numbers,
        },
    },
};
use roster_store::Store;
use serde_json::json;

use super::{CommandResult, open_store};
use crate::{
    cli::{AppMessagingArgs, AppsCommand},
    config::Config,
};

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
        AppsCommand::Configure { app_id, settings } => {
            let app_id = AppId::new(app_id);
            let changes = app_messaging(&settings)?;
            let stored = store.configure_messaging(&app_id, &changes).await?;
            let shown = stored.redacted();
            if settings.json {
                println!("{}", serde_json::to_string(&shown)?);
            } else {
                println!("messaging settings of app {app_id} (the server's apply where unset):");
                print!("{}", toml::to_string(&shown)?);
            }
        }
    }
    Ok(())
}

/// The settings `roster apps configure` was given, each checked before anything is saved.
fn app_messaging(args: &AppMessagingArgs) -> Result<MessagingSettings, String> {
    fn choice<T: serde::de::DeserializeOwned>(
        flag: &str,
        raw: &Option<String>,
        allowed: &str,
    ) -> Result<Option<T>, String> {
        raw.as_deref()
            .map(|value| parse_choice(value, allowed).map_err(|e| format!("--{flag}: {e}")))
            .transpose()
    }
    fn text(flag: &str, raw: &Option<String>) -> Result<Option<String>, String> {
        if let Some(raw) = raw {
            Template::parse(flag, raw).map_err(|e| format!("--{flag}: {e}"))?;
        }
        Ok(raw.clone())
    }
    if let Some(address) = &args.email_from {
        Email::parse("email_from", address).map_err(|e| format!("--email-from: {e}"))?;
    }
    let settings = MessagingSettings {
        sms_provider: choice("sms-provider", &args.sms_provider, SMS_PROVIDERS)?,
        twilio_base_url: args.twilio_base_url.clone(),
        twilio_account_sid: args.twilio_account_sid.clone(),
        twilio_auth_token: args.twilio_auth_token.clone(),
        sms_from: args.sms_from.as_deref().map(parse_sender_numbers),
        email_provider: choice("email-provider", &args.email_provider, EMAIL_PROVIDERS)?,
        smtp_host: args.smtp_host.clone(),
        smtp_port: args.smtp_port,
        smtp_tls: choice("smtp-tls", &args.smtp_tls, SMTP_TLS_MODES)?,
        smtp_username: args.smtp_username.clone(),
        smtp_password: args.smtp_password.clone(),
        email_from: args.email_from.clone(),
        email_from_name: args.email_from_name.clone(),
        optin_text: text("optin-text", &args.optin_text)?,
        help_text: text("help-text", &args.help_text)?,
        optout_text: text("optout-text", &args.optout_text)?,
        optin_confirmation_text: text("optin-confirmation-text", &args.optin_confirmation_text)?,
        min_age: args.min_age,
        timezone: args.timezone.clone(),
        quiet_hours_sms: args.quiet_hours_sms.clone(),
        quiet_hours_email: args.quiet_hours_email.clone(),
        sms_per_second: args.sms_per_second,
        email_per_second: args.email_per_second,
    };
    settings
        .check()
        .map_err(|err| format!("--{}: {}", err.field.replace('_', "-"), err.message))?;
    Ok(settings)
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
