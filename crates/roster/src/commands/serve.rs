//! `roster serve`: open the database, make sure a first app exists, serve until a signal.

use roster_domain::NewAppKeys;
use roster_server::Application;
use tokio_util::sync::CancellationToken;

use super::{CommandResult, apps, open_store};
use crate::config::Config;

pub async fn run(config: &Config) -> CommandResult {
    let store = open_store(config).await?;
    let keys = NewAppKeys::generate();
    if let Some(app_id) = store
        .create_first_app("My studio", &keys.api_key, &keys.secret_hash())
        .await?
    {
        println!("Created a first app so you can call the API now.");
        apps::print_keys(&app_id, keys.api_key.as_str(), &keys.secret_key, false);
    }
    let app = Application::build(config.server_settings(), store).await?;
    let addr = app.local_addr()?;
    println!("Roster listening on http://{addr}");
    tracing::info!(%addr, "listening");
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    app.run_until(shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM starts a graceful shutdown.
async fn cancel_on_signal(token: CancellationToken) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
    token.cancel();
}
