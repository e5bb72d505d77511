//! The effective configuration: built-in defaults < TOML file < ROSTER_* env < flags.
//! clap already resolves env below flags, so a [`Layer`] from the command line sits over
//! the file's layer, which sits over the defaults.

use std::{net::SocketAddr, path::Path, time::Duration};

use roster_domain::PhoneRegion;
use roster_server::ServerSettings;
use roster_store::{PgOptions, StoreOptions, Synchronous};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::cli::{GlobalArgs, LogFormat, ServeArgs};

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path}: {source}")]
    Parse {
        path: String,
        source: toml::de::Error,
    },
    #[error("{key}: {message}")]
    Invalid { key: &'static str, message: String },
}

/// One source of settings; `None` means "this source does not say".
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Layer {
    listen: Option<String>,
    database_url: Option<String>,
    log_format: Option<LogFormat>,
    log_level: Option<String>,
    max_body_bytes: Option<usize>,
    default_region: Option<String>,
    sqlite_synchronous: Option<String>,
    shutdown_grace_seconds: Option<u64>,
    pg_max_connections: Option<u32>,
    pg_acquire_timeout_seconds: Option<u64>,
    pg_statement_timeout_seconds: Option<u64>,
}

impl Layer {
    fn over(self, lower: Layer) -> Layer {
        Layer {
            listen: self.listen.or(lower.listen),
            database_url: self.database_url.or(lower.database_url),
            log_format: self.log_format.or(lower.log_format),
            log_level: self.log_level.or(lower.log_level),
            max_body_bytes: self.max_body_bytes.or(lower.max_body_bytes),
            default_region: self.default_region.or(lower.default_region),
            sqlite_synchronous: self.sqlite_synchronous.or(lower.sqlite_synchronous),
            shutdown_grace_seconds: self.shutdown_grace_seconds.or(lower.shutdown_grace_seconds),
            pg_max_connections: self.pg_max_connections.or(lower.pg_max_connections),
            pg_acquire_timeout_seconds: self
                .pg_acquire_timeout_seconds
                .or(lower.pg_acquire_timeout_seconds),
            pg_statement_timeout_seconds: self
                .pg_statement_timeout_seconds
                .or(lower.pg_statement_timeout_seconds),
        }
    }

    fn from_args(global: &GlobalArgs, serve: &ServeArgs) -> Layer {
        Layer {
            listen: serve.listen.clone(),
            database_url: global.database_url.clone(),
            log_format: global.log_format,
            log_level: std::env::var("ROSTER_LOG").ok(),
            max_body_bytes: serve.max_body_bytes,
            default_region: serve.default_region.clone(),
            sqlite_synchronous: global.sqlite_synchronous.clone(),
            shutdown_grace_seconds: serve.shutdown_grace_seconds,
            pg_max_connections: global.pg_max_connections,
            pg_acquire_timeout_seconds: global.pg_acquire_timeout_seconds,
            pg_statement_timeout_seconds: global.pg_statement_timeout_seconds,
        }
    }

    fn from_file(path: &Path) -> Result<Layer, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: shown,
            source,
        })
    }
}

/// The effective configuration, every value checked.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub listen: SocketAddr,
    #[serde(serialize_with = "redacted_url")]
    pub database_url: String,
    pub log_format: LogFormat,
    pub log_level: String,
    pub max_body_bytes: usize,
    #[serde(serialize_with = "display")]
    pub default_region: PhoneRegion,
    #[serde(serialize_with = "display")]
    pub sqlite_synchronous: Synchronous,
    pub shutdown_grace_seconds: u64,
    pub pg_max_connections: u32,
    pub pg_acquire_timeout_seconds: u64,
    pub pg_statement_timeout_seconds: u64,
}

impl Config {
    pub fn load(global: &GlobalArgs, serve: &ServeArgs) -> Result<Config, ConfigError> {
        let file = match &global.config {
            Some(path) => Layer::from_file(path)?,
            None => Layer::default(),
        };
        Self::resolve(Layer::from_args(global, serve).over(file))
    }

    fn resolve(layer: Layer) -> Result<Config, ConfigError> {
        let invalid = |key, message: String| ConfigError::Invalid { key, message };
        let listen = layer.listen.unwrap_or_else(|| "127.0.0.1:8080".into());
        Ok(Config {
            listen: listen.parse().map_err(|_| {
                invalid(
                    "listen",
                    format!("{listen:?} is not an address like 127.0.0.1:8080"),
                )
            })?,
            database_url: layer
                .database_url
                .unwrap_or_else(|| "sqlite://roster.db".into()),
            log_format: layer.log_format.unwrap_or_default(),
            log_level: layer.log_level.unwrap_or_else(|| "info".into()),
            max_body_bytes: match layer.max_body_bytes.unwrap_or(1024 * 1024) {
                0 => return Err(invalid("max_body_bytes", "must be greater than 0".into())),
                n => n,
            },
            default_region: PhoneRegion::parse(layer.default_region.as_deref().unwrap_or("US"))
                .map_err(|m| invalid("default_region", m))?,
            sqlite_synchronous: layer
                .sqlite_synchronous
                .as_deref()
                .unwrap_or("full")
                .parse()
                .map_err(|m| invalid("sqlite_synchronous", m))?,
            shutdown_grace_seconds: layer.shutdown_grace_seconds.unwrap_or(30),
            pg_max_connections: match layer.pg_max_connections.unwrap_or(16) {
                0 => {
                    return Err(invalid(
                        "pg_max_connections",
                        "must be greater than 0".into(),
                    ));
                }
                n => n,
            },
            pg_acquire_timeout_seconds: layer.pg_acquire_timeout_seconds.unwrap_or(5),
            pg_statement_timeout_seconds: layer.pg_statement_timeout_seconds.unwrap_or(30),
        })
    }

    pub fn server_settings(&self) -> ServerSettings {
        ServerSettings {
            listen: self.listen,
            max_body_bytes: self.max_body_bytes,
            default_region: self.default_region,
            shutdown_grace: Duration::from_secs(self.shutdown_grace_seconds),
        }
    }

    pub fn store_options(&self) -> StoreOptions {
        let mut options = StoreOptions::default();
        options.sqlite.synchronous = self.sqlite_synchronous;
        options.postgres = PgOptions {
            max_connections: self.pg_max_connections,
            acquire_timeout: Duration::from_secs(self.pg_acquire_timeout_seconds),
            statement_timeout: Duration::from_secs(self.pg_statement_timeout_seconds),
        };
        options
    }

    /// TOML, with any password in the database URL replaced.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string(self)
            .unwrap_or_else(|err| format!("# cannot render configuration: {err}\n"))
    }
}

fn display<T: std::fmt::Display, S: serde::Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

fn redacted_url<S: serde::Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&redact_password(url))
}

/// `postgres://user:secret@host/db` -> `postgres://user:[redacted]@host/db`
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:[redacted]@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(listen: Option<&str>, db: Option<&str>) -> Layer {
        Layer {
            listen: listen.map(String::from),
            database_url: db.map(String::from),
            ..Layer::default()
        }
    }

    #[test]
    fn defaults_apply_when_no_source_says() {
        let config = Config::resolve(Layer::default()).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.database_url, "sqlite://roster.db");
        assert_eq!(config.sqlite_synchronous, Synchronous::Full);
        assert_eq!(config.max_body_bytes, 1024 * 1024);
    }

    #[test]
    fn a_higher_layer_wins_key_by_key() {
        let file = layer(Some("0.0.0.0:9000"), Some("sqlite://file.db"));
        let args = layer(None, Some("sqlite://flag.db"));
        let config = Config::resolve(args.over(file)).unwrap();
        assert_eq!(config.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(config.database_url, "sqlite://flag.db");
    }

    #[test]
    fn bad_values_name_their_key() {
        let err = Config::resolve(layer(Some("nowhere"), None)).unwrap_err();
        assert!(err.to_string().starts_with("listen:"), "{err}");
    }

    #[test]
    fn passwords_in_database_urls_are_redacted() {
        assert_eq!(
            redact_password("postgres://ann:pw@db:5432/x"),
            "postgres://ann:[redacted]@db:5432/x"
        );
        assert_eq!(redact_password("sqlite://roster.db"), "sqlite://roster.db");
    }
}
