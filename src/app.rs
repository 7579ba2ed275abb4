//! The composition root: reads the settings, builds every room's handle over one
//! database pool, assembles the schema and the router, and serves. Only the entry
//! points import it: `main` and the commands in `cli`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::accounts::password_reset::ResetMail;
use crate::accounts::passwords::Hasher;
use crate::accounts::rate_limit::RateLimits;
use crate::accounts::tokens::TokenKeys;
use crate::accounts::viewer_cache::ViewerCache;
use crate::accounts::{Accounts, SessionTtls};
use crate::addresses::Addresses;
use crate::cart::Cart;
use crate::catalog::Catalog;
use crate::catalog::facet_cache::FacetCache;
use crate::catalog::images::Images;
use crate::config::Config;
use crate::db::{self, Db};
use crate::events::EventLog;
use crate::graphql::documents::checked_schema;
use crate::graphql::http::{GraphqlEndpoint, TransportLimits, graphql_get, graphql_post};
use crate::graphql::schema::Handles;
use crate::graphql::ws::graphql_ws;
use crate::mail::MailQueue;
use crate::mail::sealed::TokenSeal;
use crate::mail::transport::Transport;
use crate::mail::worker::MailWorker;
use crate::orders::Orders;
use crate::orders::events::OrderEvents;
use crate::orders::service::OrderRoom;
use crate::promotions::Promotions;
use crate::reviews::Reviews;
use crate::telemetry::metrics::Metrics;
use crate::telemetry::scrape::Scrape;
use crate::webhooks::Webhooks;
use crate::webhooks::delivery::{DeliveryQueue, WebhookWorker};
use crate::webhooks::target::TargetPolicy;
use crate::wishlist::Wishlist;

/// The assembled application: the settings, the database, every room's handle and the
/// GraphQL endpoint built over them.
#[derive(Clone)]
pub struct App {
    pub config: Arc<Config>,
    pub db: Db,
    pub hasher: Hasher,
    pub handles: Handles,
    pub(crate) endpoint: GraphqlEndpoint,
    /// Made by `build`, started by `serve`: the background work of this process.
    mail: MailWorker,
    webhooks: WebhookWorker,
    /// The orders room on a pool of its own, for the expiry sweeper.
    sweeper: Option<Orders>,
    /// The recorder, when METRICS_ENABLED, and every pool a scrape reports on.
    metrics: Option<Metrics>,
    pools: Vec<Db>,
}

impl App {
    /// Checks the settings, migrates the database and assembles the application.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        config.validate()?;
        let secret = config.resolve_jwt_secret()?;
        let database = &config.database;
        // Before the pools: their connections look up their statement histogram once.
        let metrics = if config.telemetry.metrics_enabled {
            Some(crate::telemetry::metrics::install()?)
        } else {
            None
        };
        db::run_migrations(&database.database_url).await?;
        let db = Db::connect(&database.database_url, database.db_pool_size, "requests").await?;
        let mut pools = vec![db.clone()];
        if db.is_sqlite() {
            db::sqlite_memory::limit_to_mib(database.sqlite_memory_mib);
        }
        let hasher = {
            let cost = config.auth.bcrypt_cost;
            tokio::task::spawn_blocking(move || Hasher::new(cost))
                .await
                .context("starting the password hasher")?
        };
        let mail = {
            let settings = &config.mail;
            let transport = Transport::from_settings(settings).map_err(anyhow::Error::msg)?;
            match transport {
                Transport::Log => tracing::warn!(
                    "SMTP_URL is not set: mail is written to the log, not sent (development only)"
                ),
                Transport::Disabled => tracing::warn!("MAIL_DISABLED=true: no mail is sent"),
                Transport::Smtp(_) => {}
            }
            let db = Db::connect(&database.database_url, 1, "mail").await?;
            pools.push(db.clone());
            MailWorker {
                db,
                transport: Arc::new(transport),
                from: settings
                    .mail_from
                    .parse()
                    .context("MAIL_FROM is not a mail address")?,
                queue: MailQueue::default(),
                seal: TokenSeal::from_secret(&secret),
                retry_base: Duration::from_millis(settings.mail_retry_ms),
                reset_ttl: Duration::from_secs(settings.password_reset_ttl_secs),
            }
        };
        let auth = &config.auth;
        let viewers = ViewerCache::start(
            &db,
            &database.database_url,
            Duration::from_secs(auth.viewer_cache_secs),
        )
        .await
        .map_err(|e| anyhow::anyhow!("opening the user change channel: {e:?}"))?;
        let accounts = Accounts::new(
            db.clone(),
            hasher.clone(),
            TokenKeys::new(&secret),
            RateLimits::new(
                db.clone(),
                auth.rate_limit_per_address,
                auth.rate_limit_login_failures,
            ),
            SessionTtls {
                access_secs: auth.access_token_ttl_secs,
                refresh_secs: auth.refresh_token_ttl_secs,
            },
            ResetMail {
                seal: mail.seal.clone(),
                url: config.mail.password_reset_url.clone(),
                ttl_secs: config.mail.password_reset_ttl_secs,
                queue: mail.queue.clone(),
            },
            viewers,
        );
        spawn_pruning(accounts.rate_limits());
        let events = OrderEvents::start(&db, &database.database_url)
            .await
            .map_err(|e| anyhow::anyhow!("opening the order event channel: {e:?}"))?;
        let facets = FacetCache::start(
            &db,
            &database.database_url,
            Duration::from_secs(database.facet_cache_secs),
        )
        .await
        .map_err(|e| anyhow::anyhow!("opening the catalog change channel: {e:?}"))?;
        let checkout = &config.checkout;
        let policy = TargetPolicy {
            allow_private: !config.is_production() || checkout.webhook_allow_private_networks,
        };
        let deliveries = DeliveryQueue::default();
        let webhook_db = Db::connect(&database.database_url, 1, "webhooks").await?;
        pools.push(webhook_db.clone());
        let webhooks = WebhookWorker::new(
            webhook_db,
            deliveries.clone(),
            policy,
            Duration::from_secs(checkout.webhook_retry_base_secs),
            checkout.webhook_max_attempts,
        )
        .context("building the webhook client")?;
        let payment_timeout = match checkout.order_payment_timeout_secs {
            0 => None,
            secs => Some(chrono::TimeDelta::seconds(secs as i64)),
        };
        let room = OrderRoom {
            events: events.clone(),
            facets: facets.clone(),
            mail: mail.queue.clone(),
            deliveries,
            payment_timeout,
        };
        let sweeper = match payment_timeout {
            Some(_) => {
                let db = Db::connect(&database.database_url, 1, "expiry").await?;
                pools.push(db.clone());
                Some(Orders::new(db, room.clone()))
            }
            None => None,
        };
        let media = &config.media;
        let handles = Handles {
            catalog: Catalog::new(
                db.clone(),
                Images::new(media.media_dir.clone(), media.max_image_bytes),
                facets.clone(),
            ),
            cart: Cart::new(db.clone()),
            wishlist: Wishlist::new(db.clone()),
            addresses: Addresses::new(db.clone()),
            reviews: Reviews::new(db.clone()),
            orders: Orders::new(db.clone(), room),
            promotions: Promotions::new(db.clone()),
            events: EventLog::new(db.clone(), events),
            webhooks: Webhooks::new(db.clone(), policy),
            accounts,
        };
        let endpoint = GraphqlEndpoint {
            schema: checked_schema(&config, &handles),
            accounts: handles.accounts.clone(),
            db: db.clone(),
            limits: Arc::new(TransportLimits {
                max_body_bytes: config.limits.max_body_bytes,
                max_image_bytes: config.media.max_image_bytes,
                max_batch_size: config.limits.max_batch_size,
                trusted_proxies: config.server.trusted_proxies.clone(),
            }),
        };
        Ok(App {
            config: Arc::new(config),
            db,
            hasher,
            handles,
            endpoint,
            mail,
            webhooks,
            sweeper,
            metrics,
            pools,
        })
    }

    /// `/metrics` for a router, when metrics are on and `public` (BIND_ADDR's router)
    /// may serve them: not when METRICS_BIND_ADDR takes them elsewhere, nor in
    /// production without METRICS_TOKEN.
    fn scrape(&self, public: bool) -> Option<Router> {
        let metrics = self.metrics.clone()?;
        let telemetry = &self.config.telemetry;
        if public
            && (telemetry.metrics_bind_addr.is_some()
                || (self.config.is_production() && telemetry.metrics_token.is_none()))
        {
            return None;
        }
        let scrape = Scrape::new(
            metrics,
            self.pools.clone(),
            telemetry.metrics_token.as_ref(),
        );
        Some(scrape.router())
    }

    pub fn router(&self) -> Router {
        let config = &self.config;
        let mut security_headers = vec![
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "no-referrer"),
        ];
        if config.is_production() {
            // Production runs behind TLS: browsers should never fall back to plain HTTP.
            security_headers.push(("strict-transport-security", "max-age=63072000"));
        }
        let graphql = Router::new()
            .route("/graphql", get(graphql_get).post(graphql_post))
            .route("/graphql/ws", get(graphql_ws))
            // Behind an Arc: axum clones the state for every request.
            .with_state(Arc::new(self.endpoint.clone()));
        let db = self.db.clone();
        let mut router = Router::new()
            .merge(graphql)
            .merge(crate::graphql::graphiql::router())
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(move || readyz(db)))
            .nest_service("/media", media_service(&config.media.media_dir));
        if let Some(scrape) = self.scrape(true) {
            router = router.merge(scrape);
        }
        for (name, value) in security_headers {
            router = router.layer(SetResponseHeaderLayer::if_not_present(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            ));
        }
        if let Some(cors) = cors_layer(&config.server.cors_origins) {
            router = router.layer(cors);
        }
        // A client that stalls in the middle of a body holds a connection slot; the
        // GraphQL endpoint also bounds the whole body (`graphql::http`).
        router
            .layer(RequestBodyTimeoutLayer::new(BODY_IDLE_TIMEOUT))
            .layer(axum::middleware::from_fn(
                crate::telemetry::request::observe,
            ))
    }

    /// Serves on `listener` until `shutdown` resolves, then lets requests in flight end.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let server = &self.config.server;
        let fit = crate::server::raise_open_file_limit();
        let max_connections = server.max_connections.map_or(fit, |n| n as usize);
        if max_connections > fit {
            tracing::warn!(
                max_connections,
                fit,
                "MAX_CONNECTIONS is above what the open-file limit allows"
            );
        }
        let limits = crate::server::ConnectionLimits {
            header_timeout: std::time::Duration::from_secs(server.http_header_timeout_secs),
            max_connections,
        };
        let telemetry = &self.config.telemetry;
        if self.metrics.is_some()
            && self.config.is_production()
            && telemetry.metrics_token.is_none()
            && telemetry.metrics_bind_addr.is_none()
        {
            tracing::warn!(
                "/metrics is not served: production needs METRICS_TOKEN or METRICS_BIND_ADDR"
            );
        }
        let mut background = vec![self.mail.clone().spawn(), self.webhooks.clone().spawn()];
        if let Some(addr) = self.config.telemetry.metrics_bind_addr
            && let Some(scrape) = self.scrape(false)
        {
            let private = TcpListener::bind(addr).await.map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("METRICS_BIND_ADDR: cannot listen on {addr}: {e}"),
                )
            })?;
            tracing::info!("metrics at http://{addr}/metrics");
            let scrape = scrape.layer(axum::middleware::from_fn(
                crate::telemetry::request::observe,
            ));
            background.push(tokio::spawn(async move {
                if let Err(e) = axum::serve(private, scrape).await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            }));
        }
        if let Some(orders) = self.sweeper.clone() {
            background.push(crate::orders::expiry::spawn(orders));
        }
        let served = crate::server::serve(self.router(), listener, limits, shutdown).await;
        for task in background {
            task.abort();
        }
        served
    }
}

/// Product images. Their names are random and never reused, so clients and proxies may
/// cache them for good; the Content-Type comes from the extension chosen from the bytes.
fn media_service(media_dir: &std::path::Path) -> Router {
    Router::new()
        .fallback_service(ServeDir::new(media_dir))
        .layer(SetResponseHeaderLayer::overriding(
            axum::http::header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ))
}

/// The longest pause between two parts of a request body.
const BODY_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Request headers a browser may send cross-origin: ours, those Apollo Client, Relay
/// and urql add (client awareness, CSRF prevention, operation names), and W3C trace
/// context.
const CORS_ALLOWED_HEADERS: [&str; 11] = [
    "content-type",
    "authorization",
    "accept",
    "apollographql-client-name",
    "apollographql-client-version",
    "apollo-require-preflight",
    "x-apollo-operation-name",
    // Ours: asking for the cost, and the browser's own trace and request id.
    "x-include-query-cost",
    "x-request-id",
    "traceparent",
    "tracestate",
];

/// CORS for the configured origins (none: no CORS headers, same-origin only). Never
/// with credentials: the API authenticates with bearer tokens, not cookies.
fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(CORS_ALLOWED_HEADERS.map(HeaderName::from_static))
        // So that browser code can quote the id of a request that went wrong.
        .expose_headers([crate::telemetry::request::REQUEST_ID])
        .max_age(std::time::Duration::from_secs(600));
    Some(if origins.iter().any(|o| o == "*") {
        layer.allow_origin(AllowOrigin::any())
    } else {
        layer.allow_origin(AllowOrigin::list(
            origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()),
        ))
    })
}

/// Forgets recovered rate-limit keys once a minute, for as long as the limits live
/// (every process does it; a row deleted twice is deleted once).
fn spawn_pruning(limits: std::sync::Weak<RateLimits>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            let Some(limits) = limits.upgrade() else {
                return;
            };
            if let Err(error) = limits.prune().await {
                tracing::warn!(?error, "forgetting old rate-limit keys failed");
            }
        }
    });
}

/// 200 when the database answered its last probe (at most a second ago), 503 otherwise;
/// from memory, so a load balancer's check never waits for a database that is gone.
async fn readyz(db: Db) -> (StatusCode, &'static str) {
    if db.is_available() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down; finishing requests in flight");
}
