//! `GET /metrics`: the Prometheus text, behind `METRICS_TOKEN` when one is set. Served
//! on BIND_ADDR, or alone on METRICS_BIND_ADDR (a private interface) when that is set.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::metrics::{Metrics, QueueDepths};
use crate::config::Secret;
use crate::db::Db;

/// How long a scrape waits for the queue counts before it answers without them.
const QUEUE_COUNT_TIMEOUT: Duration = Duration::from_secs(2);

/// What a scrape reads: the recorder, every pool of the process (the first serves
/// requests and counts the queues) and the token it asks for.
pub(crate) struct Scrape {
    pub metrics: Metrics,
    pub pools: Vec<Db>,
    /// SHA-256 of METRICS_TOKEN: compared digest to digest, so the time a comparison
    /// takes says nothing about the token.
    pub token_digest: Option<[u8; 32]>,
}

impl Scrape {
    pub(crate) fn new(metrics: Metrics, pools: Vec<Db>, token: Option<&Secret>) -> Self {
        Scrape {
            metrics,
            pools,
            token_digest: token.map(|t| Sha256::digest(t.expose().as_bytes()).into()),
        }
    }

    pub(crate) fn router(self) -> Router {
        Router::new()
            .route("/metrics", get(metrics))
            .with_state(Arc::new(self))
    }

    fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.token_digest else {
            return true;
        };
        // The scheme's name is case-insensitive (RFC 9110).
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token);
        given.is_some_and(|given| Sha256::digest(given.as_bytes()).as_slice() == expected)
    }
}

async fn metrics(State(scrape): State<Arc<Scrape>>, headers: HeaderMap) -> Response {
    if !scrape.allows(&headers) {
        let mut refused =
            (StatusCode::UNAUTHORIZED, "metrics need METRICS_TOKEN\n").into_response();
        refused.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"metrics\""),
        );
        return refused;
    }
    let queues = match scrape.pools.first() {
        Some(db) => tokio::time::timeout(QUEUE_COUNT_TIMEOUT, queue_depths(db))
            .await
            .ok()
            .flatten(),
        None => None,
    };
    let pools: Vec<&Db> = scrape.pools.iter().collect();
    let body = scrape.metrics.render(&pools, queues);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// The outboxes' pending rows; `None` when the database does not answer (the scrape
/// still reports the rest).
async fn queue_depths(db: &Db) -> Option<QueueDepths> {
    let counted = db
        .run(async |c| {
            let mail = crate::mail::outbox::pending_count(c).await?;
            let webhooks = crate::webhooks::repo::pending_count(c).await?;
            Ok::<_, diesel::result::Error>(QueueDepths { mail, webhooks })
        })
        .await;
    counted.ok()
}
