//! The webhook worker: a task in every server process that sends the deliveries the
//! outbox holds, signed, and records each attempt.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use tokio::sync::{Notify, Semaphore};

use super::model::DeliveryStatus;
use super::payload::{body, signature};
use super::repo::{self, Claimed, Outcome};
use super::target::{TargetPolicy, parse_url, resolver};
use crate::db::{Db, now};
use crate::error::AppResult;

/// How long a receiver has to answer.
pub(crate) const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries claimed at once.
const BATCH: i64 = 20;
/// Attempts in flight at once in one process.
const IN_FLIGHT: usize = 32;
/// How often the outbox is read when nothing wakes the worker.
const POLL: Duration = Duration::from_secs(1);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);

/// Wakes this process's webhook worker after a commit that queued deliveries.
#[derive(Clone, Default, Debug)]
pub(crate) struct DeliveryQueue {
    wake: std::sync::Arc<Notify>,
}

impl DeliveryQueue {
    pub(crate) fn queued(&self) {
        self.wake.notify_one();
    }
}

#[derive(Clone)]
pub(crate) struct WebhookWorker {
    /// A pool of its own, like the mail worker's.
    pub db: Db,
    pub client: reqwest::Client,
    pub queue: DeliveryQueue,
    pub policy: TargetPolicy,
    pub retry_base: Duration,
    pub max_attempts: u32,
}

impl WebhookWorker {
    fn backoff(&self) -> crate::outbox::Backoff {
        crate::outbox::Backoff {
            base: self.retry_base,
            max: MAX_BACKOFF,
        }
    }

    pub(crate) fn new(
        db: Db,
        queue: DeliveryQueue,
        policy: TargetPolicy,
        retry_base: Duration,
        max_attempts: u32,
    ) -> anyhow::Result<Self> {
        let mut client = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .connect_timeout(ATTEMPT_TIMEOUT)
            // A redirect could lead anywhere, past the address checks.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!(
                "mini-ecommerce-webhooks/",
                env!("CARGO_PKG_VERSION")
            ));
        if let Some(resolver) = resolver(policy) {
            client = client.dns_resolver(resolver);
        }
        Ok(WebhookWorker {
            db,
            client: client.build()?,
            queue,
            policy,
            retry_base,
            max_attempts,
        })
    }

    /// Runs until the process ends: claims due deliveries while it has room for them
    /// and sends each on a task of its own, so that a slow receiver holds only its own
    /// attempts.
    pub(crate) fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let slots = Arc::new(Semaphore::new(IN_FLIGHT));
            loop {
                let room = slots.available_permits().min(BATCH as usize);
                if room == 0 {
                    // Every slot is taken: wait for one to come free.
                    drop(slots.acquire().await);
                    continue;
                }
                let claimed = match self.claim(room as i64).await {
                    Ok(claimed) => claimed,
                    Err(error) => {
                        tracing::warn!(?error, "reading the webhook outbox failed");
                        Vec::new()
                    }
                };
                let full = claimed.len() == room;
                for delivery in claimed {
                    let Ok(slot) = slots.clone().acquire_owned().await else {
                        return;
                    };
                    let worker = self.clone();
                    tokio::spawn(async move {
                        if let Err(error) = worker.attempt(&delivery).await {
                            tracing::warn!(
                                ?error,
                                id = delivery.delivery.id,
                                "recording a webhook attempt failed"
                            );
                        }
                        drop(slot);
                    });
                }
                if !full {
                    tokio::select! {
                        () = self.queue.wake.notified() => {}
                        () = tokio::time::sleep(POLL) => {}
                    }
                }
            }
        })
    }

    /// Claims up to `limit` due deliveries, leased for as long as an attempt may take.
    async fn claim(&self, limit: i64) -> AppResult<Vec<Claimed>> {
        let now = now();
        // An attempt is cut off at twice ATTEMPT_TIMEOUT (lookups and the request).
        let lease = ATTEMPT_TIMEOUT * 4;
        let lease_until = now + TimeDelta::from_std(lease).unwrap_or(TimeDelta::MAX);
        repo::claim(&self.db, now, lease_until, limit).await
    }

    async fn attempt(&self, claimed: &Claimed) -> AppResult<()> {
        let delivery = &claimed.delivery;
        // The request has its own timeout; this one also covers the name lookups.
        let sent = tokio::time::timeout(ATTEMPT_TIMEOUT * 2, self.send(claimed))
            .await
            .unwrap_or_else(|_| Err("timed out".to_owned()));
        let (response_status, error) = match sent {
            Ok(status) if (200..300).contains(&status) => (Some(i32::from(status)), None),
            Ok(status) => (
                Some(i32::from(status)),
                Some(format!("the receiver answered {status}")),
            ),
            Err(error) => (None, Some(error)),
        };
        let now = now();
        crate::telemetry::metrics::webhook_delivery(match &error {
            None => "delivered",
            Some(_) if delivery.attempts >= self.max_attempts as i32 => "failed",
            Some(_) => "retry",
        });
        let outcome = match &error {
            None => Outcome {
                status: DeliveryStatus::Succeeded,
                response_status,
                error: None,
                retry_at: None,
            },
            Some(error) if delivery.attempts >= self.max_attempts as i32 => {
                tracing::warn!(id = delivery.id, attempts = delivery.attempts, %error, "webhook delivery failed for good");
                Outcome {
                    status: DeliveryStatus::Failed,
                    response_status,
                    error: Some(error),
                    retry_at: None,
                }
            }
            Some(error) => {
                let retry_at = self.backoff().retry_at(now, delivery.attempts);
                tracing::info!(id = delivery.id, attempts = delivery.attempts, %error, %retry_at, "webhook delivery will be retried");
                Outcome {
                    status: DeliveryStatus::Pending,
                    response_status,
                    error: Some(error),
                    retry_at: Some(retry_at),
                }
            }
        };
        self.db
            .run(async |c| repo::record(c, delivery, &outcome).await)
            .await?;
        Ok(())
    }

    /// One POST; the receiver's HTTP status, or why there was none.
    async fn send(&self, claimed: &Claimed) -> Result<u16, String> {
        let url = parse_url(&claimed.url)?;
        // Again at every attempt: the name may point elsewhere by now (and an address
        // literal never reaches the resolver).
        self.policy.check(&url).await?;
        let body = body(&claimed.delivery);
        let timestamp = chrono::Utc::now().timestamp();
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header(
                "x-shop-webhook-id",
                crate::graphql::ids::encode_id(
                    crate::graphql::ids::NodeKind::WebhookDelivery,
                    claimed.delivery.id,
                )
                .0,
            )
            .header("x-shop-timestamp", timestamp.to_string())
            .header(
                "x-shop-signature",
                signature(&claimed.secret, timestamp, &body),
            )
            .body(body)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        Ok(response.status().as_u16())
    }
}

/// A transport error in a line, without the URL (which the delivery log already shows).
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut text = kind.to_owned();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text = format!("{text}: {inner}");
        source = inner.source();
    }
    text
}
