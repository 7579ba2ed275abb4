//! Every setting, in groups (server, database, auth, limits, media, mail, checkout,
//! telemetry): read from flags,
//! then the environment (and `.env`), then defaults. Each value is checked by its parser
//! and the rest by [`Config::validate`], once at start, so a bad value stops the server
//! with its name. Secrets are [`Secret`]s: no `Debug` or log line prints them.
//!
//! The composition root (`app`) hands each room the part it needs; no feature reads
//! `Config` itself.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AppEnv {
    Development,
    Production,
}

/// Every setting, in groups; each group is what one part of the server reads.
#[derive(Debug, Clone, Args)]
pub struct Config {
    #[command(flatten)]
    pub server: ServerSettings,
    #[command(flatten)]
    pub database: DatabaseSettings,
    #[command(flatten)]
    pub auth: AuthSettings,
    #[command(flatten)]
    pub limits: RequestLimits,
    #[command(flatten)]
    pub media: MediaSettings,
    #[command(flatten)]
    pub mail: MailSettings,
    #[command(flatten)]
    pub checkout: CheckoutSettings,
    #[command(flatten)]
    pub telemetry: TelemetrySettings,
}

/// Listening, connections and what the HTTP edge allows.
#[derive(Debug, Clone, Args)]
pub struct ServerSettings {
    /// Address the HTTP server listens on.
    #[arg(
        long,
        env = "BIND_ADDR",
        default_value = "127.0.0.1:8000",
        global = true
    )]
    pub bind_addr: SocketAddr,
    /// `development` or `production`. Production requires JWT_SECRET and turns off
    /// introspection unless INTROSPECTION=true.
    #[arg(
        long,
        env = "APP_ENV",
        value_enum,
        default_value = "development",
        global = true
    )]
    pub app_env: AppEnv,
    /// Folder for the development secret and other local state.
    #[arg(long, env = "DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,
    /// Threads that run requests (tokio's workers); one per core when unset. On a small
    /// machine shared with the database, fewer can be faster: fewer threads to wake, less
    /// competition with PostgreSQL for the cores (bench/RESULTS.md).
    #[arg(long, env = "WORKER_THREADS", value_parser = clap::value_parser!(u16).range(1..=1024), global = true)]
    pub worker_threads: Option<u16>,
    /// Seconds a connection has to send a request's headers, from its opening or from the
    /// end of its previous response (so also the idle keep-alive timeout). Once more than
    /// half the connection slots are taken, new connections get 2 seconds.
    #[arg(long, env = "HTTP_HEADER_TIMEOUT_SECS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub http_header_timeout_secs: u64,
    /// Most client connections open at once; further ones wait in the kernel's backlog.
    /// Default: what fits below the open-file limit (raised to its hard limit at start).
    #[arg(long, env = "MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub max_connections: Option<u32>,
    /// Comma-separated IP addresses of reverse proxies whose X-Forwarded-For is believed.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',', global = true)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Comma-separated origins allowed to call the API from a browser (CORS); none by
    /// default. `*` allows any origin (never with credentials: the API uses bearer tokens).
    #[arg(long, env = "CORS_ORIGINS", value_delimiter = ',', global = true)]
    pub cors_origins: Vec<String>,
    /// Introspection on or off; default: on in development, off in production.
    #[arg(long, env = "INTROSPECTION", action = clap::ArgAction::Set, global = true)]
    pub introspection: Option<bool>,
}

/// Which database, how many connections to it, and how long facet counts are kept.
#[derive(Debug, Clone, Args)]
pub struct DatabaseSettings {
    /// `sqlite://path/to/file.db` (default, created on first run) or `postgres://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/shop.db",
        global = true
    )]
    pub database_url: String,
    /// Database connections per process.
    #[arg(long, env = "DB_POOL_SIZE", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000), global = true)]
    pub db_pool_size: u32,
    /// How long facet counts are remembered at most, in seconds (0: not at all). Any
    /// catalog change forgets them at once, in every process; this bounds how long a
    /// lost notification could leave them stale.
    #[arg(long, env = "FACET_CACHE_SECS", default_value_t = 60, global = true)]
    pub facet_cache_secs: u64,
    /// SQLite mode: the memory SQLite itself may keep, in MiB, for all connections of the
    /// process together (its soft heap limit: page caches and sort space are recycled to
    /// stay under it). PostgreSQL mode ignores it.
    #[arg(long, env = "SQLITE_MEMORY_MIB", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=65536), global = true)]
    pub sqlite_memory_mib: u32,
}

/// Tokens, passwords, sign-in limits and who may read the catalog.
#[derive(Debug, Clone, Args)]
pub struct AuthSettings {
    /// HMAC secret for access tokens, at least 32 bytes. Required in production; in
    /// development a random one is kept in DATA_DIR.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true, global = true)]
    pub jwt_secret: Option<Secret>,
    /// bcrypt work factor (4..=31); 12 in production, 4 keeps tests fast.
    #[arg(long, env = "BCRYPT_COST", default_value_t = 12, value_parser = clap::value_parser!(u32).range(4..=31), global = true)]
    pub bcrypt_cost: u32,
    /// Access token lifetime, in seconds.
    #[arg(long, env = "ACCESS_TOKEN_TTL_SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub access_token_ttl_secs: u64,
    /// Refresh token (session) lifetime, in seconds.
    #[arg(long, env = "REFRESH_TOKEN_TTL_SECS", default_value_t = 7 * 24 * 3600, value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub refresh_token_ttl_secs: u64,
    /// Requests per minute from one client address to login, register, refreshToken
    /// and changePassword (0: no limit).
    #[arg(
        long,
        env = "RATE_LIMIT_PER_ADDRESS",
        default_value_t = 100,
        global = true
    )]
    pub rate_limit_per_address: u32,
    /// Failed sign-ins per email in 15 minutes before the email is locked (0: no limit).
    #[arg(
        long,
        env = "RATE_LIMIT_LOGIN_FAILURES",
        default_value_t = 10,
        global = true
    )]
    pub rate_limit_login_failures: u32,
    /// Seconds a signed-in user's row (role, active flag) is remembered between requests.
    /// Every change through the API forgets it at once, in every process; this bounds
    /// how long a change made outside the API (SQL by hand) goes unseen. 0: read it on
    /// every request.
    #[arg(long, env = "VIEWER_CACHE_SECS", default_value_t = 5, global = true)]
    pub viewer_cache_secs: u64,
    /// Let anonymous visitors read the catalog.
    #[arg(long, env = "CATALOG_PUBLIC", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub catalog_public: bool,
}

/// What one request may ask: its size, depth, complexity, batch, aliases.
#[derive(Debug, Clone, Args)]
pub struct RequestLimits {
    /// Largest query depth accepted.
    #[arg(long, env = "MAX_QUERY_DEPTH", default_value_t = 12, global = true)]
    pub max_query_depth: usize,
    /// Largest query complexity accepted (a connection counts first/last × its selection).
    #[arg(
        long,
        env = "MAX_QUERY_COMPLEXITY",
        default_value_t = 2000,
        global = true
    )]
    pub max_query_complexity: usize,
    /// Most operations in one batched request.
    #[arg(long, env = "MAX_BATCH_SIZE", default_value_t = 10, global = true)]
    pub max_batch_size: usize,
    /// Largest JSON request body, in bytes.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 1024 * 1024, global = true)]
    pub max_body_bytes: usize,
    /// Largest GraphQL document text, in bytes (refused before parsing; smaller than the
    /// body limit, which also carries variables).
    #[arg(long, env = "MAX_QUERY_BYTES", default_value_t = 256 * 1024, global = true)]
    pub max_query_bytes: usize,
    /// Most lexical tokens in one document (refused before parsing, so that a parsed
    /// document's memory stays bounded).
    #[arg(
        long,
        env = "MAX_QUERY_TOKENS",
        default_value_t = 10_000,
        global = true
    )]
    pub max_query_tokens: usize,
    /// Most aliased fields in one operation (`__typename` costs nothing in the
    /// complexity count, so aliases get their own cap).
    #[arg(long, env = "MAX_ALIASES", default_value_t = 100, global = true)]
    pub max_aliases: usize,
    /// Parsed documents kept in memory, which also serve Apollo's automatic persisted
    /// queries (APQ); 0 turns both off.
    #[arg(long, env = "APQ_CACHE_SIZE", default_value_t = 1000, global = true)]
    pub apq_cache_size: usize,
}

/// Product images: where they live and how large they may be.
#[derive(Debug, Clone, Args)]
pub struct MediaSettings {
    /// Folder where product images are stored and served from at /media.
    #[arg(long, env = "MEDIA_DIR", default_value = "data/media", global = true)]
    pub media_dir: PathBuf,
    /// Largest product image accepted, in bytes.
    #[arg(long, env = "MAX_IMAGE_BYTES", default_value_t = 5 * 1024 * 1024, global = true)]
    pub max_image_bytes: usize,
}

/// Outgoing mail (password resets, order mails) and the password reset link.
#[derive(Debug, Clone, Args)]
pub struct MailSettings {
    /// SMTP server: `smtp://[user:password@]host[:port]` (port 587 by default; STARTTLS
    /// when the server offers it, required with a password or `?tls=required`) or
    /// `smtps://…` (TLS from
    /// the start, port 465). Unset: development writes mail to the log; production
    /// refuses to start unless MAIL_DISABLED=true.
    #[arg(long, env = "SMTP_URL", hide_env_values = true, global = true)]
    pub smtp_url: Option<Secret>,
    /// The sender of every mail, e.g. `Shop <shop@example.com>`.
    #[arg(
        long,
        env = "MAIL_FROM",
        default_value = "mini-ecommerce <no-reply@localhost>",
        global = true
    )]
    pub mail_from: String,
    /// Production without SMTP_URL: send no mail at all (it is dropped, with a log line).
    #[arg(long, env = "MAIL_DISABLED", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub mail_disabled: bool,
    /// Milliseconds before the first retry of a mail the SMTP server did not take; each
    /// further retry waits twice as long, up to an hour.
    #[arg(long, env = "MAIL_RETRY_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub mail_retry_ms: u64,
    /// The link of the password reset mail; `{token}` is replaced by the token.
    #[arg(
        long,
        env = "PASSWORD_RESET_URL",
        default_value = "http://localhost:8000/reset-password?token={token}",
        global = true
    )]
    pub password_reset_url: String,
    /// How long a password reset token is valid, in seconds.
    #[arg(long, env = "PASSWORD_RESET_TTL_SECS", default_value_t = 1800, value_parser = clap::value_parser!(u64).range(1..=7 * 24 * 3600), global = true)]
    pub password_reset_ttl_secs: u64,
}

/// Unpaid-order expiry and outgoing webhooks.
#[derive(Debug, Clone, Args)]
pub struct CheckoutSettings {
    /// Seconds a card order may stay unpaid before it is cancelled (0: never).
    #[arg(long, env = "ORDER_PAYMENT_TIMEOUT_SECS", default_value_t = 1800, value_parser = clap::value_parser!(u64).range(0..=30 * 24 * 3600), global = true)]
    pub order_payment_timeout_secs: u64,
    /// Seconds before the first retry of a webhook delivery; each retry waits twice as
    /// long, at most 6 hours.
    #[arg(long, env = "WEBHOOK_RETRY_BASE_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub webhook_retry_base_secs: u64,
    /// Attempts before a webhook delivery is FAILED.
    #[arg(long, env = "WEBHOOK_MAX_ATTEMPTS", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=30), global = true)]
    pub webhook_max_attempts: u32,
    /// Production: let webhooks reach loopback, private, link-local and multicast
    /// addresses (refused by default, so that a webhook cannot probe the internal network).
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE_NETWORKS", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub webhook_allow_private_networks: bool,
}

/// How the server is watched: logs, metrics and traces.
#[derive(Debug, Clone, Args)]
pub struct TelemetrySettings {
    /// `text` (for people) or `json` (one object per line, for log collectors).
    #[arg(
        long,
        env = "LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
    /// Prometheus metrics at /metrics.
    #[arg(long, env = "METRICS_ENABLED", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub metrics_enabled: bool,
    /// Bearer token that /metrics requires. In production /metrics is not served on
    /// BIND_ADDR without one.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true, global = true)]
    pub metrics_token: Option<Secret>,
    /// A second, private address that serves only /metrics; /metrics then leaves BIND_ADDR.
    #[arg(long, env = "METRICS_BIND_ADDR", global = true)]
    pub metrics_bind_addr: Option<SocketAddr>,
    /// OTLP/HTTP collector (e.g. `http://127.0.0.1:4318`) that receives traces; unset: no
    /// tracing.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", global = true)]
    pub otel_exporter_otlp_endpoint: Option<String>,
    /// The service name traces carry.
    #[arg(
        long,
        env = "OTEL_SERVICE_NAME",
        default_value = "mini-ecommerce",
        global = true
    )]
    pub otel_service_name: String,
    /// Share of new traces that are kept (0..=1); a request that arrives with a
    /// `traceparent` keeps its caller's trace id and is kept or not by it (the
    /// caller's own sampling flag is not followed).
    #[arg(long, env = "TRACE_SAMPLE_RATIO", default_value_t = 1.0, global = true)]
    pub trace_sample_ratio: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// A secret setting: its `Debug` never shows it, so a logged or printed `Config` cannot
/// leak it; `expose` is the one way to the text.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Self {
        Secret(text.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Secret::new(text))
    }
}

/// A setting that cannot be used, named so the operator knows what to fix.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// The shortest HMAC secret accepted: 256 bits, the strength of HS256.
pub(crate) const MIN_SECRET_BYTES: usize = 32;

/// The shortest metrics token accepted: 128 bits of a random token's text.
const MIN_METRICS_TOKEN_BYTES: usize = 16;

impl Config {
    /// Defaults only (no flags); environment variables still apply.
    pub fn from_env() -> Self {
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            config: Config,
        }
        <Only as clap::Parser>::parse_from(["mini-ecommerce"]).config
    }

    /// The checks that need more than one value's parser: run once at start.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        self.check_jwt_secret()?;
        self.check_mail()?;
        self.check_telemetry()?;
        for origin in &self.server.cors_origins {
            let plausible = origin == "*"
                || ((origin.starts_with("https://") || origin.starts_with("http://"))
                    && !origin.ends_with('/')
                    && axum::http::HeaderValue::from_str(origin).is_ok());
            if !plausible {
                return Err(ConfigError(format!(
                    "CORS_ORIGINS: {origin:?} is not an origin such as https://shop.example.com"
                )));
            }
        }
        Ok(())
    }

    /// JWT_SECRET, when set, is long enough; production insists on one.
    fn check_jwt_secret(&self) -> Result<(), ConfigError> {
        match &self.auth.jwt_secret {
            Some(secret) if secret.expose().len() < MIN_SECRET_BYTES => Err(ConfigError(format!(
                "JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes long"
            ))),
            None if self.is_production() => Err(ConfigError(
                "JWT_SECRET is required when APP_ENV=production".to_owned(),
            )),
            _ => Ok(()),
        }
    }

    /// The sender and reset link are usable; production has somewhere to send mail.
    fn check_mail(&self) -> Result<(), ConfigError> {
        let mail = &self.mail;
        if mail.mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError(format!(
                "MAIL_FROM: {:?} is not an address such as Shop <shop@example.com>",
                mail.mail_from
            )));
        }
        if !mail.password_reset_url.contains("{token}") {
            return Err(ConfigError(
                "PASSWORD_RESET_URL must contain {token}, where the token goes".to_owned(),
            ));
        }
        if let Some(url) = &mail.smtp_url {
            crate::mail::transport::check_url(url.expose()).map_err(ConfigError)?;
        } else if self.is_production() && !mail.mail_disabled {
            return Err(ConfigError(
                "SMTP_URL is required when APP_ENV=production (or set MAIL_DISABLED=true)"
                    .to_owned(),
            ));
        }
        Ok(())
    }

    /// The trace collector is a URL and the sample ratio a share; a metrics token is long
    /// enough not to be guessed.
    fn check_telemetry(&self) -> Result<(), ConfigError> {
        let telemetry = &self.telemetry;
        if let Some(endpoint) = &telemetry.otel_exporter_otlp_endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            return Err(ConfigError(format!(
                "OTEL_EXPORTER_OTLP_ENDPOINT: {endpoint:?} is not a URL such as http://127.0.0.1:4318"
            )));
        }
        if !(0.0..=1.0).contains(&telemetry.trace_sample_ratio) {
            return Err(ConfigError(
                "TRACE_SAMPLE_RATIO must be between 0 and 1".to_owned(),
            ));
        }
        if let Some(token) = &telemetry.metrics_token
            && token.expose().len() < MIN_METRICS_TOKEN_BYTES
        {
            return Err(ConfigError(format!(
                "METRICS_TOKEN must be at least {MIN_METRICS_TOKEN_BYTES} bytes long"
            )));
        }
        Ok(())
    }

    pub(crate) fn is_production(&self) -> bool {
        self.server.app_env == AppEnv::Production
    }

    pub(crate) fn introspection_enabled(&self) -> bool {
        self.server.introspection.unwrap_or(!self.is_production())
    }

    /// The secret that signs access tokens. Production insists on JWT_SECRET; development
    /// makes one up once and keeps it, so tokens survive restarts.
    pub(crate) fn resolve_jwt_secret(&self) -> Result<Vec<u8>, ConfigError> {
        self.check_jwt_secret()?;
        if let Some(secret) = &self.auth.jwt_secret {
            return Ok(secret.expose().as_bytes().to_vec());
        }
        let path = self.server.data_dir.join("jwt_secret");
        if let Ok(existing) = std::fs::read_to_string(&path) {
            let existing = existing.trim();
            if existing.len() >= MIN_SECRET_BYTES {
                return Ok(existing.as_bytes().to_vec());
            }
        }
        let secret = crate::random::random_token();
        std::fs::create_dir_all(&self.server.data_dir)
            .and_then(|()| write_private(&path, &secret))
            .map_err(|e| {
                ConfigError(format!(
                    "DATA_DIR: cannot keep the development secret at {}: {e}",
                    path.display()
                ))
            })?;
        tracing::warn!(
            path = %path.display(),
            "JWT_SECRET is not set: using a random development secret (never do this in production)"
        );
        Ok(secret.into_bytes())
    }
}

fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_secret() {
        let mut config = Config::from_env();
        config.auth.jwt_secret = Some(Secret::new("a-very-secret-value-of-32-bytes!!"));
        let printed = format!("{config:?}");
        assert!(!printed.contains("a-very-secret"), "{printed}");
        assert!(printed.contains("Secret(***)"));
    }

    #[test]
    fn cors_origins_are_checked_with_the_settings() {
        let mut config = Config::from_env();
        config.server.cors_origins = vec!["https://shop.example".to_owned(), "*".to_owned()];
        assert!(config.validate().is_ok());
        for bad in ["shop.example", "https://shop.example/", "ftp://x"] {
            config.server.cors_origins = vec![bad.to_owned()];
            let error = config.validate().unwrap_err();
            assert!(error.0.contains("CORS_ORIGINS"), "{bad}: {error}");
        }
    }
}
