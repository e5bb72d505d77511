//! The effective configuration: built-in defaults < TOML file < ROSTER_* env < flags.
//! clap already resolves env below flags, so a [`Layer`] from the command line sits over
//! the file's layer, which sits over the defaults.

use std::{net::SocketAddr, path::Path, time::Duration};

use roster_domain::{
    PhoneRegion,
    messaging::{
        MessagingSettings, RetrySchedule,
        settings::{
            EMAIL_PROVIDERS, SMS_PROVIDERS, SMTP_TLS_MODES, parse_choice, parse_sender_numbers,
        },
    },
};
use roster_server::DeliverySettings;
use roster_server::{JsonLimits, ProtectionSettings, ServerSettings};
use roster_store::{PgOptions, SqliteOptions, StoreOptions, Synchronous};
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

/// A limit that must not fall below `least` (below it, requests the contract accepts
/// would be refused).
fn at_least(
    key: &'static str,
    given: Option<usize>,
    default: usize,
    least: usize,
) -> Result<usize, ConfigError> {
    match given.unwrap_or(default) {
        n if n < least => Err(ConfigError::Invalid {
            key,
            message: format!("must be at least {least}: the API's own bodies need that much"),
        }),
        n => Ok(n),
    }
}

/// The largest memory map SQLite honours (0x7fff0000 bytes, just under 2 GiB), in MiB.
const MAX_SQLITE_MMAP_MIB: u64 = 2047;

/// Declares [`Layer`], one source of settings (`None`: "this source does not say"), and
/// how a higher layer overrides a lower one, key by key.
macro_rules! layer {
    ($($field:ident: $ty:ty),* $(,)?) => {
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Layer {
            $($field: Option<$ty>,)*
        }

        impl Layer {
            fn over(self, lower: Layer) -> Layer {
                Layer { $($field: self.$field.or(lower.$field),)* }
            }
        }
    };
}

layer! {
    listen: String,
    database_url: String,
    log_format: LogFormat,
    log_level: String,
    max_body_bytes: usize,
    default_region: String,
    sqlite_synchronous: String,
    sqlite_mmap_mib: u64,
    shutdown_grace_seconds: u64,
    pg_max_connections: u32,
    pg_acquire_timeout_seconds: u64,
    pg_statement_timeout_seconds: u64,
    sms_provider: String,
    twilio_base_url: String,
    twilio_account_sid: String,
    twilio_auth_token: String,
    sms_from: String,
    email_provider: String,
    smtp_host: String,
    smtp_port: u16,
    smtp_tls: String,
    smtp_username: String,
    smtp_password: String,
    email_from: String,
    email_from_name: String,
    public_url: String,
    workers: usize,
    retry_schedule: String,
    inline_send_timeout_ms: u64,
    provider_timeout_seconds: u64,
    delivery_lease_seconds: u64,
    delivery_poll_ms: u64,
    form_submissions_per_minute: u32,
    rate_limit_per_second: u32,
    rate_limit_burst: u32,
    request_timeout_seconds: u64,
    max_concurrent_requests: usize,
    json_max_depth: usize,
    json_max_string_bytes: usize,
    json_max_array_items: usize,
    json_max_object_fields: usize,
    timezone: String,
    quiet_hours_sms: String,
    quiet_hours_email: String,
    sms_per_second: u32,
    email_per_second: u32,
}

impl Layer {
    fn from_args(global: &GlobalArgs, serve: &ServeArgs) -> Layer {
        let m = serve.messaging.clone();
        Layer {
            listen: serve.listen.clone(),
            database_url: global.database_url.clone(),
            log_format: global.log_format,
            log_level: std::env::var("ROSTER_LOG").ok(),
            max_body_bytes: serve.max_body_bytes,
            default_region: serve.default_region.clone(),
            sqlite_synchronous: global.sqlite_synchronous.clone(),
            sqlite_mmap_mib: global.sqlite_mmap_mib,
            shutdown_grace_seconds: serve.shutdown_grace_seconds,
            pg_max_connections: global.pg_max_connections,
            pg_acquire_timeout_seconds: global.pg_acquire_timeout_seconds,
            pg_statement_timeout_seconds: global.pg_statement_timeout_seconds,
            sms_provider: m.sms_provider,
            twilio_base_url: m.twilio_base_url,
            twilio_account_sid: m.twilio_account_sid,
            twilio_auth_token: m.twilio_auth_token,
            sms_from: m.sms_from,
            email_provider: m.email_provider,
            smtp_host: m.smtp_host,
            smtp_port: m.smtp_port,
            smtp_tls: m.smtp_tls,
            smtp_username: m.smtp_username,
            smtp_password: m.smtp_password,
            email_from: m.email_from,
            email_from_name: m.email_from_name,
            public_url: m.public_url,
            workers: m.workers,
            retry_schedule: m.retry_schedule,
            inline_send_timeout_ms: m.inline_send_timeout_ms,
            provider_timeout_seconds: m.provider_timeout_seconds,
            delivery_lease_seconds: m.delivery_lease_seconds,
            delivery_poll_ms: m.delivery_poll_ms,
            timezone: m.timezone,
            quiet_hours_sms: m.quiet_hours_sms,
            quiet_hours_email: m.quiet_hours_email,
            sms_per_second: m.sms_per_second,
            email_per_second: m.email_per_second,
            form_submissions_per_minute: serve.form_submissions_per_minute,
            rate_limit_per_second: serve.rate_limit_per_second,
            rate_limit_burst: serve.rate_limit_burst,
            request_timeout_seconds: serve.request_timeout_seconds,
            max_concurrent_requests: serve.max_concurrent_requests,
            json_max_depth: serve.json_max_depth,
            json_max_string_bytes: serve.json_max_string_bytes,
            json_max_array_items: serve.json_max_array_items,
            json_max_object_fields: serve.json_max_object_fields,
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
    pub sqlite_mmap_mib: u64,
    pub shutdown_grace_seconds: u64,
    pub pg_max_connections: u32,
    pub pg_acquire_timeout_seconds: u64,
    pub pg_statement_timeout_seconds: u64,
    /// Provider settings (printed flat, secrets redacted, by `to_redacted_toml`).
    #[serde(skip)]
    pub messaging: MessagingSettings,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    pub workers: usize,
    #[serde(serialize_with = "display")]
    pub retry_schedule: RetrySchedule,
    pub inline_send_timeout_ms: u64,
    pub provider_timeout_seconds: u64,
    pub delivery_lease_seconds: u64,
    pub delivery_poll_ms: u64,
    pub form_submissions_per_minute: u32,
    pub rate_limit_per_second: u32,
    pub rate_limit_burst: u32,
    pub request_timeout_seconds: u64,
    pub max_concurrent_requests: usize,
    pub json_max_depth: usize,
    pub json_max_string_bytes: usize,
    pub json_max_array_items: usize,
    pub json_max_object_fields: usize,
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
        let messaging = messaging_settings(&layer)?;
        let defaults = ProtectionSettings::default();
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
            sqlite_mmap_mib: match layer
                .sqlite_mmap_mib
                .unwrap_or(SqliteOptions::default().mmap_bytes >> 20)
            {
                // SQLite's own ceiling (SQLITE_MAX_MMAP_SIZE): it would cut a larger value
                // down without saying so.
                n if n > MAX_SQLITE_MMAP_MIB => {
                    return Err(invalid(
                        "sqlite_mmap_mib",
                        format!("must be at most {MAX_SQLITE_MMAP_MIB}"),
                    ));
                }
                n => n,
            },
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
            messaging,
            public_url: layer.public_url.clone(),
            workers: layer.workers.unwrap_or(4),
            retry_schedule: match &layer.retry_schedule {
                Some(raw) => RetrySchedule::parse(raw).map_err(|m| invalid("retry_schedule", m))?,
                None => RetrySchedule::default(),
            },
            inline_send_timeout_ms: layer.inline_send_timeout_ms.unwrap_or(3000),
            provider_timeout_seconds: match layer.provider_timeout_seconds.unwrap_or(10) {
                0 => {
                    return Err(invalid(
                        "provider_timeout_seconds",
                        "must be greater than 0".into(),
                    ));
                }
                n => n,
            },
            delivery_lease_seconds: {
                let lease = layer.delivery_lease_seconds.unwrap_or(60);
                // A lease shorter than a provider call would let a second worker take a
                // message that is still being sent.
                if lease <= layer.provider_timeout_seconds.unwrap_or(10) {
                    return Err(invalid(
                        "delivery_lease_seconds",
                        "must be longer than provider_timeout_seconds".into(),
                    ));
                }
                lease
            },
            delivery_poll_ms: layer.delivery_poll_ms.unwrap_or(1000).max(10),
            form_submissions_per_minute: layer.form_submissions_per_minute.unwrap_or(10),
            rate_limit_per_second: layer
                .rate_limit_per_second
                .unwrap_or(defaults.rate_per_second),
            rate_limit_burst: match layer.rate_limit_burst.unwrap_or(defaults.rate_burst) {
                0 => return Err(invalid("rate_limit_burst", "must be greater than 0".into())),
                n => n,
            },
            request_timeout_seconds: {
                let timeout = layer
                    .request_timeout_seconds
                    .unwrap_or(defaults.request_timeout.as_secs());
                // A send waits up to the inline timeout for the provider; a request timeout
                // within it would cut off sends that are going well.
                if timeout != 0
                    && timeout.saturating_mul(1000) <= layer.inline_send_timeout_ms.unwrap_or(3000)
                {
                    return Err(invalid(
                        "request_timeout_seconds",
                        "must be longer than inline_send_timeout_ms (or 0: no limit)".into(),
                    ));
                }
                timeout
            },
            max_concurrent_requests: layer
                .max_concurrent_requests
                .unwrap_or(defaults.max_concurrent_requests),
            json_max_depth: at_least(
                "json_max_depth",
                layer.json_max_depth,
                defaults.json.max_depth,
                JsonLimits::LEAST.max_depth,
            )
            .and_then(|depth| match depth {
                0..=JsonLimits::DEEPEST => Ok(depth),
                _ => Err(invalid(
                    "json_max_depth",
                    format!("must be at most {}", JsonLimits::DEEPEST),
                )),
            })?,
            json_max_string_bytes: at_least(
                "json_max_string_bytes",
                layer.json_max_string_bytes,
                defaults.json.max_string_bytes,
                JsonLimits::LEAST.max_string_bytes,
            )?,
            json_max_array_items: at_least(
                "json_max_array_items",
                layer.json_max_array_items,
                defaults.json.max_array_items,
                JsonLimits::LEAST.max_array_items,
            )?,
            json_max_object_fields: at_least(
                "json_max_object_fields",
                layer.json_max_object_fields,
                defaults.json.max_object_fields,
                JsonLimits::LEAST.max_object_fields,
            )?,
        })
    }

    pub fn server_settings(&self) -> ServerSettings {
        ServerSettings {
            listen: self.listen,
            max_body_bytes: self.max_body_bytes,
            default_region: self.default_region,
            shutdown_grace: Duration::from_secs(self.shutdown_grace_seconds),
            delivery: DeliverySettings {
                defaults: self.messaging.clone(),
                retry: self.retry_schedule.clone(),
                inline_timeout: Duration::from_millis(self.inline_send_timeout_ms),
                provider_timeout: Duration::from_secs(self.provider_timeout_seconds),
                lease: Duration::from_secs(self.delivery_lease_seconds),
                workers: self.workers,
                poll_interval: Duration::from_millis(self.delivery_poll_ms),
                public_url: self.public_url.clone(),
            },
            form_submissions_per_minute: self.form_submissions_per_minute,
            protection: ProtectionSettings {
                rate_per_second: self.rate_limit_per_second,
                rate_burst: self.rate_limit_burst,
                request_timeout: Duration::from_secs(self.request_timeout_seconds),
                max_concurrent_requests: self.max_concurrent_requests,
                json: JsonLimits {
                    max_depth: self.json_max_depth,
                    max_string_bytes: self.json_max_string_bytes,
                    max_array_items: self.json_max_array_items,
                    max_object_fields: self.json_max_object_fields,
                },
            },
        }
    }

    pub fn store_options(&self) -> StoreOptions {
        let mut options = StoreOptions::default();
        options.sqlite.synchronous = self.sqlite_synchronous;
        options.sqlite.mmap_bytes = self.sqlite_mmap_mib << 20;
        options.postgres = PgOptions {
            max_connections: self.pg_max_connections,
            acquire_timeout: Duration::from_secs(self.pg_acquire_timeout_seconds),
            statement_timeout: Duration::from_secs(self.pg_statement_timeout_seconds),
        };
        options
    }

    /// TOML, with any password in the database URL and every provider secret replaced.
    pub fn to_redacted_toml(&self) -> String {
        let render = || -> Result<String, toml::ser::Error> {
            let mut table = toml::Table::try_from(self)?;
            let mut messaging = toml::Table::try_from(self.messaging.redacted())?;
            // The configuration takes sender numbers as one comma-separated value.
            if let Some(numbers) = self.messaging.sms_from.as_ref() {
                messaging.insert("sms_from".into(), numbers.join(",").into());
            }
            table.extend(messaging);
            toml::to_string(&table)
        };
        render().unwrap_or_else(|err| format!("# cannot render configuration: {err}\n"))
    }
}

/// The server-wide messaging defaults of a layer, each value checked.
fn messaging_settings(layer: &Layer) -> Result<MessagingSettings, ConfigError> {
    fn choice<T: serde::de::DeserializeOwned>(
        key: &'static str,
        raw: &Option<String>,
        allowed: &str,
    ) -> Result<Option<T>, ConfigError> {
        raw.as_deref()
            .map(|value| {
                parse_choice(value, allowed)
                    .map_err(|message| ConfigError::Invalid { key, message })
            })
            .transpose()
    }
    let settings = MessagingSettings {
        sms_provider: choice("sms_provider", &layer.sms_provider, SMS_PROVIDERS)?,
        twilio_base_url: layer.twilio_base_url.clone(),
        twilio_account_sid: layer.twilio_account_sid.clone(),
        twilio_auth_token: layer.twilio_auth_token.clone(),
        sms_from: layer.sms_from.as_deref().map(parse_sender_numbers),
        email_provider: choice("email_provider", &layer.email_provider, EMAIL_PROVIDERS)?,
        smtp_host: layer.smtp_host.clone(),
        smtp_port: layer.smtp_port,
        smtp_tls: choice("smtp_tls", &layer.smtp_tls, SMTP_TLS_MODES)?,
        smtp_username: layer.smtp_username.clone(),
        smtp_password: layer.smtp_password.clone(),
        email_from: layer.email_from.clone(),
        email_from_name: layer.email_from_name.clone(),
        timezone: layer.timezone.clone(),
        quiet_hours_sms: layer.quiet_hours_sms.clone(),
        quiet_hours_email: layer.quiet_hours_email.clone(),
        sms_per_second: layer.sms_per_second,
        email_per_second: layer.email_per_second,
        ..MessagingSettings::default()
    };
    settings.check().map_err(|err| ConfigError::Invalid {
        key: "messaging",
        message: err.to_string(),
    })?;
    Ok(settings)
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
        assert_eq!(config.store_options().sqlite.mmap_bytes, 1 << 30);
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
    fn protection_defaults_apply_and_reach_the_server_settings() {
        let config = Config::resolve(Layer::default()).unwrap();
        assert_eq!(
            config.server_settings().protection,
            ProtectionSettings::default()
        );
        let off = Layer {
            rate_limit_per_second: Some(0),
            request_timeout_seconds: Some(0),
            max_concurrent_requests: Some(0),
            ..Layer::default()
        };
        let protection = Config::resolve(off).unwrap().server_settings().protection;
        assert_eq!(protection.rate_per_second, 0);
        assert!(protection.request_timeout.is_zero());
        assert_eq!(protection.max_concurrent_requests, 0);
        let no_burst = Layer {
            rate_limit_burst: Some(0),
            ..Layer::default()
        };
        let err = Config::resolve(no_burst).unwrap_err();
        assert!(err.to_string().starts_with("rate_limit_burst:"), "{err}");
        let cuts_sends = Layer {
            request_timeout_seconds: Some(3),
            ..Layer::default()
        };
        let err = Config::resolve(cuts_sends).unwrap_err();
        assert!(
            err.to_string().starts_with("request_timeout_seconds:"),
            "{err}"
        );
    }

    #[test]
    fn json_limits_come_from_the_layers_and_refuse_nonsense() {
        let file: Layer =
            toml::from_str("json_max_string_bytes = 65536\njson_max_depth = 8").unwrap();
        let args = Layer {
            json_max_array_items: Some(5000),
            ..Layer::default()
        };
        let json = Config::resolve(args.over(file))
            .unwrap()
            .server_settings()
            .protection
            .json;
        assert_eq!(
            json,
            JsonLimits {
                max_depth: 8,
                max_string_bytes: 65536,
                max_array_items: 5000,
                ..JsonLimits::default()
            }
        );
        for (layer, key) in [
            (
                Layer {
                    json_max_depth: Some(0),
                    ..Layer::default()
                },
                "json_max_depth:",
            ),
            (
                Layer {
                    json_max_depth: Some(101),
                    ..Layer::default()
                },
                "json_max_depth:",
            ),
            (
                Layer {
                    json_max_object_fields: Some(0),
                    ..Layer::default()
                },
                "json_max_object_fields:",
            ),
            // Just under what the API's own bodies need.
            (
                Layer {
                    json_max_depth: Some(3),
                    ..Layer::default()
                },
                "json_max_depth:",
            ),
            (
                Layer {
                    json_max_string_bytes: Some(4095),
                    ..Layer::default()
                },
                "json_max_string_bytes:",
            ),
            (
                Layer {
                    json_max_array_items: Some(499),
                    ..Layer::default()
                },
                "json_max_array_items:",
            ),
            (
                Layer {
                    json_max_object_fields: Some(255),
                    ..Layer::default()
                },
                "json_max_object_fields:",
            ),
        ] {
            let err = Config::resolve(layer).unwrap_err();
            assert!(err.to_string().starts_with(key), "{err}");
        }
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
