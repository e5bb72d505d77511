mod apps;
mod copy;
mod messages;
mod serve;

use std::sync::Arc;

use roster_store::Store;
use tracing_subscriber::EnvFilter;

use crate::{
    cli::{Cli, Command, LogFormat, ServeArgs},
    config::Config,
};

pub type CommandResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

pub async fn run(cli: Cli) -> CommandResult {
    let no_serve_args = ServeArgs::default();
    let serve_args = match &cli.command {
        Command::Serve(args) | Command::Config(args) => args,
        _ => &no_serve_args,
    };
    let config = Config::load(&cli.global, serve_args)?;
    init_logging(&config);
    match cli.command {
        Command::Serve(_) => serve::run(&config).await,
        Command::Apps(command) => apps::run(&config, command).await,
        Command::Messages(command) => messages::run(&config, command).await,
        Command::Migrate => {
            open_store(&config).await?;
            println!(
                "database {} is up to date",
                crate::config::redact_password(&config.database_url)
            );
            Ok(())
        }
        Command::Copy { from, to } => copy::run(&config, &from, &to).await,
        Command::Config(_) => {
            print!("{}", config.to_redacted_toml());
            Ok(())
        }
    }
}

/// Opens (creating and migrating) the configured database.
async fn open_store(config: &Config) -> Result<Arc<dyn Store>, roster_store::StoreError> {
    roster_store::open(&config.database_url, &config.store_options()).await
}

fn init_logging(config: &Config) {
    let filter = EnvFilter::try_new(&config.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
