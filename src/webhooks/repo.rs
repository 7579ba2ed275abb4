//! Queries of webhooks and their deliveries.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::{DeliveryRow, DeliveryStatus, WebhookRow};
use crate::db::schema::{webhook_deliveries, webhooks};
use crate::db::{Conn, Db, db_run};
use crate::error::AppResult;

/// What a webhook is made of, checked.
pub(crate) struct WebhookFields<'a> {
    pub url: &'a str,
    pub secret: &'a str,
    pub on_order_event: bool,
    pub on_out_of_stock: bool,
    pub is_active: bool,
}

pub(crate) async fn insert(
    conn: &mut Conn<'_>,
    fields: &WebhookFields<'_>,
    now: NaiveDateTime,
) -> QueryResult<WebhookRow> {
    db_run!(conn, c => diesel::insert_into(webhooks::table)
        .values((
            webhooks::url.eq(fields.url),
            webhooks::secret.eq(fields.secret),
            webhooks::on_order_event.eq(fields.on_order_event),
            webhooks::on_out_of_stock.eq(fields.on_out_of_stock),
            webhooks::is_active.eq(fields.is_active),
            webhooks::created_at.eq(now),
            webhooks::updated_at.eq(now),
        ))
        .returning(WebhookRow::as_returning())
        .get_result(c)
        .await)
}

pub(crate) async fn update(
    conn: &mut Conn<'_>,
    id: i64,
    fields: &WebhookFields<'_>,
    now: NaiveDateTime,
) -> QueryResult<Option<WebhookRow>> {
    db_run!(conn, c => diesel::update(webhooks::table.find(id))
        .set((
            webhooks::url.eq(fields.url),
            webhooks::secret.eq(fields.secret),
            webhooks::on_order_event.eq(fields.on_order_event),
            webhooks::on_out_of_stock.eq(fields.on_out_of_stock),
            webhooks::is_active.eq(fields.is_active),
            webhooks::updated_at.eq(now),
        ))
        .returning(WebhookRow::as_returning())
        .get_result(c)
        .await
        .optional())
}

/// Deletes a webhook: its row stays, marked (see the migration), and its pending
/// deliveries are given up. Deliveries a concurrent change still writes for it are given
/// up when claimed.
pub(crate) async fn delete(conn: &mut Conn<'_>, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    let deleted = db_run!(conn, c => diesel::update(
        webhooks::table.find(id).filter(webhooks::deleted_at.is_null())
    )
    .set((
        webhooks::deleted_at.eq(now),
        webhooks::is_active.eq(false),
        webhooks::updated_at.eq(now),
    ))
    .execute(c)
    .await)?;
    if deleted > 0 {
        give_up_pending(conn, &[id]).await?;
    }
    Ok(deleted)
}

/// Marks the pending deliveries of deleted webhooks FAILED.
async fn give_up_pending(conn: &mut Conn<'_>, webhook_ids: &[i64]) -> QueryResult<usize> {
    db_run!(conn, c => diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::webhook_id.eq_any(webhook_ids))
            .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str())),
    )
    .set((
        webhook_deliveries::status.eq(DeliveryStatus::Failed.as_str()),
        webhook_deliveries::next_attempt_at.eq(None::<NaiveDateTime>),
        webhook_deliveries::locked_until.eq(None::<NaiveDateTime>),
        webhook_deliveries::last_error.eq("the webhook was deleted"),
    ))
    .execute(c)
    .await)
}

pub(crate) async fn find(conn: &mut Conn<'_>, id: i64) -> QueryResult<Option<WebhookRow>> {
    db_run!(conn, c => webhooks::table
        .find(id)
        .filter(webhooks::deleted_at.is_null())
        .select(WebhookRow::as_select())
        .first(c)
        .await
        .optional())
}

pub(crate) async fn all(conn: &mut Conn<'_>) -> QueryResult<Vec<WebhookRow>> {
    db_run!(conn, c => webhooks::table
        .filter(webhooks::deleted_at.is_null())
        .select(WebhookRow::as_select())
        .order(webhooks::id.asc())
        .load(c)
        .await)
}

/// Queues a `PRODUCT_OUT_OF_STOCK` delivery to every active webhook that wants one, in
/// the caller's transaction.
pub(crate) async fn queue_out_of_stock(
    conn: &mut Conn<'_>,
    data: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    use diesel::sql_types::{Text, Timestamp};
    db_run!(conn,
        sqlite c => diesel::sql_query(
            "INSERT INTO webhook_deliveries \
               (webhook_id, topic, data, status, attempts, next_attempt_at, created_at) \
             SELECT id, 'PRODUCT_OUT_OF_STOCK', ?, 'PENDING', 0, ?, ? \
             FROM webhooks WHERE is_active AND on_out_of_stock AND deleted_at IS NULL",
        )
        .bind::<Text, _>(data)
        .bind::<Timestamp, _>(now)
        .bind::<Timestamp, _>(now)
        .execute(c)
        .await,
        postgres c => crate::db::fixed_sql::FixedSql(diesel::sql_query(
            "INSERT INTO webhook_deliveries \
               (webhook_id, topic, data, status, attempts, next_attempt_at, created_at) \
             SELECT id, 'PRODUCT_OUT_OF_STOCK', $1, 'PENDING', 0, $2, $2 \
             FROM webhooks WHERE is_active AND on_out_of_stock AND deleted_at IS NULL",
        )
        .bind::<Text, _>(data)
        .bind::<Timestamp, _>(now))
        .execute(c)
        .await
    )
}

/// A page of a webhook's deliveries, newest first: after the id `after` (exclusive).
pub(crate) async fn deliveries(
    conn: &mut Conn<'_>,
    webhook_id: i64,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<DeliveryRow>> {
    db_run!(conn, c => {
        let mut query = webhook_deliveries::table
            .filter(webhook_deliveries::webhook_id.eq(webhook_id))
            .select(DeliveryRow::as_select())
            .order(webhook_deliveries::id.desc())
            .limit(limit)
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(webhook_deliveries::id.lt(after));
        }
        query.load(c).await
    })
}

pub(crate) async fn find_delivery(
    conn: &mut Conn<'_>,
    id: i64,
) -> QueryResult<Option<DeliveryRow>> {
    db_run!(conn, c => webhook_deliveries::table
        .find(id)
        .select(DeliveryRow::as_select())
        .first(c)
        .await
        .optional())
}

/// The ids of due, unclaimed deliveries, oldest first.
macro_rules! due {
    ($now:expr, $limit:expr) => {
        webhook_deliveries::table
            .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()))
            .filter(webhook_deliveries::next_attempt_at.le($now))
            .filter(
                webhook_deliveries::locked_until
                    .is_null()
                    .or(webhook_deliveries::locked_until.lt($now)),
            )
            .select(webhook_deliveries::id)
            .order(webhook_deliveries::id.asc())
            .limit($limit)
    };
}

/// A claimed delivery with what sending it needs.
pub(crate) struct Claimed {
    pub delivery: DeliveryRow,
    pub url: String,
    pub secret: String,
}

/// Claims up to `limit` due deliveries until `lease_until` (the mail outbox's scheme:
/// a plain read first, then `FOR UPDATE SKIP LOCKED` on PostgreSQL), counting the
/// attempt. No other worker takes them before the lease ends.
pub(crate) async fn claim(
    db: &Db,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> AppResult<Vec<Claimed>> {
    let any_due: Vec<i64> = db
        .run(async |c| db_run!(c, c => due!(now, 1).load(c).await))
        .await?;
    if any_due.is_empty() {
        return Ok(Vec::new());
    }
    db.transaction(async |tx| {
        let ids: Vec<i64> = db_run!(tx,
            sqlite c => due!(now, limit).load(c).await,
            postgres c => due!(now, limit).for_update().skip_locked().load(c).await
        )?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let claimed: Vec<DeliveryRow> = db_run!(tx, c => diesel::update(
            webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(&ids))
        )
        .set((
            webhook_deliveries::locked_until.eq(lease_until),
            webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
        ))
        .returning(DeliveryRow::as_returning())
        .get_results(c)
        .await)?;
        let hook_ids: Vec<i64> = claimed.iter().map(|d| d.webhook_id).collect();
        let hooks: Vec<(i64, String, String)> = db_run!(tx, c => webhooks::table
            .filter(webhooks::id.eq_any(&hook_ids))
            .filter(webhooks::deleted_at.is_null())
            .select((webhooks::id, webhooks::url, webhooks::secret))
            .load(c)
            .await)?;
        let gone: Vec<i64> = hook_ids
            .iter()
            .copied()
            .filter(|id| !hooks.iter().any(|h| h.0 == *id))
            .collect();
        if !gone.is_empty() {
            give_up_pending(tx, &gone).await?;
        }
        let mut claimed: Vec<Claimed> = claimed
            .into_iter()
            .filter_map(|delivery| {
                let (_, url, secret) = hooks.iter().find(|h| h.0 == delivery.webhook_id)?;
                Some(Claimed {
                    url: url.clone(),
                    secret: secret.clone(),
                    delivery,
                })
            })
            .collect();
        claimed.sort_by_key(|c| c.delivery.id);
        Ok(claimed)
    })
    .await
}

/// The outcome of an attempt: `Succeeded`, due again at `retry_at`, or `Failed` for good.
pub(crate) struct Outcome<'a> {
    pub status: DeliveryStatus,
    pub response_status: Option<i32>,
    pub error: Option<&'a str>,
    pub retry_at: Option<NaiveDateTime>,
}

/// Records an attempt's outcome, as long as the claim's lease is still `delivery`'s (a
/// worker that overran it changes nothing).
pub(crate) async fn record(
    conn: &mut Conn<'_>,
    delivery: &DeliveryRow,
    outcome: &Outcome<'_>,
) -> QueryResult<usize> {
    db_run!(conn, c => diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::id.eq(delivery.id))
            .filter(webhook_deliveries::locked_until.eq(delivery.locked_until))
    )
    .set((
        webhook_deliveries::status.eq(outcome.status.as_str()),
        webhook_deliveries::last_response_status.eq(outcome.response_status),
        webhook_deliveries::last_error.eq(outcome.error),
        webhook_deliveries::next_attempt_at.eq(outcome.retry_at),
        webhook_deliveries::locked_until.eq(None::<NaiveDateTime>),
    ))
    .execute(c)
    .await)
}

/// Deliveries still to be made (for /metrics; counted from the partial index of
/// pending ones).
pub(crate) async fn pending_count(conn: &mut Conn<'_>) -> QueryResult<i64> {
    db_run!(conn, c => webhook_deliveries::table
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()))
        .count()
        .get_result(c)
        .await)
}
