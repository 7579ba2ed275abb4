//! Registering webhooks (admins), and reading their delivery log.

use super::model::{DeliveryRow, WebhookRow, WebhookTopic};
use super::repo::{self, WebhookFields};
use super::target::{TargetPolicy, parse_url};
use crate::db::{Db, now};
use crate::error::{AppError, AppResult, UserErrorCode};

pub(crate) const MIN_SECRET_BYTES: usize = 16;
const MAX_SECRET_BYTES: usize = 256;

/// The webhooks room: the `webhooks` table; deliveries are written by the rooms whose
/// changes they report (the event log, the catalog's stock) and sent by the worker.
#[derive(Clone)]
pub(crate) struct Webhooks {
    db: Db,
    policy: TargetPolicy,
}

/// A webhook as given to create or update it (`None`: unchanged).
#[derive(Default)]
pub(crate) struct WebhookChanges {
    pub url: Option<String>,
    pub topics: Option<Vec<WebhookTopic>>,
    pub secret: Option<String>,
    pub is_active: Option<bool>,
}

fn not_found() -> AppError {
    AppError::input(UserErrorCode::NotFound, "id", "no such webhook")
}

impl Webhooks {
    pub(crate) fn new(db: Db, policy: TargetPolicy) -> Self {
        Webhooks { db, policy }
    }

    async fn checked_url(&self, text: &str) -> AppResult<String> {
        let invalid = |message: String| AppError::input(UserErrorCode::InvalidUrl, "url", message);
        let url = parse_url(text).map_err(invalid)?;
        self.policy.check(&url).await.map_err(invalid)?;
        Ok(url.to_string())
    }

    fn checked_secret(secret: &str) -> AppResult<()> {
        if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&secret.len()) {
            return Err(AppError::input(
                UserErrorCode::InvalidInput,
                "secret",
                format!("the secret must be {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes"),
            ));
        }
        Ok(())
    }

    fn checked_topics(topics: &[WebhookTopic]) -> AppResult<(bool, bool)> {
        if topics.is_empty() {
            return Err(AppError::input(
                UserErrorCode::InvalidInput,
                "topics",
                "give at least one topic",
            ));
        }
        Ok((
            topics.contains(&WebhookTopic::OrderEvent),
            topics.contains(&WebhookTopic::ProductOutOfStock),
        ))
    }

    pub(crate) async fn create(&self, changes: WebhookChanges) -> AppResult<WebhookRow> {
        let url = self
            .checked_url(changes.url.as_deref().unwrap_or_default())
            .await?;
        let (on_order_event, on_out_of_stock) =
            Self::checked_topics(changes.topics.as_deref().unwrap_or_default())?;
        let secret = changes.secret.unwrap_or_default();
        Self::checked_secret(&secret)?;
        let fields = WebhookFields {
            url: &url,
            secret: &secret,
            on_order_event,
            on_out_of_stock,
            is_active: changes.is_active.unwrap_or(true),
        };
        let now = now();
        self.db
            .run(async |c| repo::insert(c, &fields, now).await)
            .await
    }

    pub(crate) async fn update(
        &self,
        id: Option<i64>,
        changes: WebhookChanges,
    ) -> AppResult<WebhookRow> {
        let id = id.ok_or_else(not_found)?;
        let url = match &changes.url {
            Some(url) => Some(self.checked_url(url).await?),
            None => None,
        };
        let topics = changes
            .topics
            .as_deref()
            .map(Self::checked_topics)
            .transpose()?;
        if let Some(secret) = &changes.secret {
            Self::checked_secret(secret)?;
        }
        let now = now();
        self.db
            .transaction(async |tx| {
                let current = repo::find(tx, id).await?.ok_or_else(not_found)?;
                let (on_order_event, on_out_of_stock) =
                    topics.unwrap_or((current.on_order_event, current.on_out_of_stock));
                let fields = WebhookFields {
                    url: url.as_deref().unwrap_or(&current.url),
                    secret: changes.secret.as_deref().unwrap_or(&current.secret),
                    on_order_event,
                    on_out_of_stock,
                    is_active: changes.is_active.unwrap_or(current.is_active),
                };
                repo::update(tx, id, &fields, now)
                    .await?
                    .ok_or_else(not_found)
            })
            .await
    }

    pub(crate) async fn delete(&self, id: Option<i64>) -> AppResult<i64> {
        let id = id.ok_or_else(not_found)?;
        let now = now();
        let deleted = self
            .db
            .transaction(async |tx| AppResult::Ok(repo::delete(tx, id, now).await?))
            .await?;
        if deleted == 0 {
            return Err(not_found());
        }
        Ok(id)
    }

    pub(crate) async fn all(&self) -> AppResult<Vec<WebhookRow>> {
        self.db.run(async |c| repo::all(c).await).await
    }

    pub(crate) async fn find(&self, id: i64) -> AppResult<Option<WebhookRow>> {
        self.db.run(async |c| repo::find(c, id).await).await
    }

    /// A page of a webhook's deliveries, newest first.
    pub(crate) async fn deliveries(
        &self,
        webhook_id: i64,
        before_id: Option<i64>,
        limit: i64,
    ) -> AppResult<Vec<DeliveryRow>> {
        self.db
            .run(async |c| repo::deliveries(c, webhook_id, before_id, limit).await)
            .await
    }

    pub(crate) async fn delivery(&self, id: i64) -> AppResult<Option<DeliveryRow>> {
        self.db
            .run(async |c| repo::find_delivery(c, id).await)
            .await
    }
}
