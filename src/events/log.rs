//! The order event log: one row per committed change of an order, in one order that
//! every reader sees.
//!
//! # Positions follow commit order
//!
//! A reader resumes from a position ("everything after 41") and must never miss an event,
//! so when a reader can see position *p* it must already see every position below *p*.
//! A sequence cannot give that on PostgreSQL: a value is taken when a row is inserted, not
//! when its transaction commits, so a transaction that took 42 may commit before the one
//! that took 41, and a reader in between would see 42, move on, and never see 41.
//!
//! So positions come from a counter row, `order_event_head`, and are taken at *commit*:
//! on PostgreSQL a transaction inserts its events without a position, and a deferred
//! constraint trigger (`order_event_number`, in the migration) numbers each one while the
//! transaction commits, by updating the counter. The row lock that UPDATE takes is held
//! until the commit is done:
//!
//! - a second committer waits at the counter until the first has committed (or rolled
//!   back) and then reads the committed value: positions are handed out in commit order,
//!   with no gaps;
//! - PostgreSQL makes a transaction visible before it releases its locks, so whoever can
//!   see position *p* can see every position below it: the visible log is always a prefix
//!   `1..=k`, and `k` is the counter's committed value. A row without a position is never
//!   visible to anyone but its own transaction.
//!
//! The price is that event-writing commits queue at the counter for the length of a commit
//! (the trigger and one WAL flush, about 0.12 ms on this project's machines by
//! `pg_test_fsync`), not for the length of a transaction: a first version took the number
//! with the transaction's last statement, and then the lock was also held across the
//! client's round trip to send COMMIT — on a busy two-core machine that queue halved
//! checkout (bench/RESULTS.md). Alternatives: reading the snapshot's `xmin` to hide events of
//! transactions still in flight (no queueing, but every transaction in the whole cluster,
//! of any database, then delays the log, and a client that has just placed an order may
//! not yet see its event), or numbering events in a background pass (a second write per
//! event and a delay before any reader sees them).
//!
//! A webhook delivery of an event is written in the same transaction with `"cursor":""`
//! in its data; the trigger fills the cursor in, so no reader ever sees it empty.
//!
//! SQLite runs one write transaction at a time, so there the counter is read and moved as
//! the event is appended, which is commit order by construction.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::fixed_sql::FixedSql;
use crate::db::schema::{order_event_head, order_events};
use crate::db::{Conn, db_run};
use crate::orders::model::{OrderStatus, PaymentStatus};

#[derive(
    async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq, diesel::deserialize::FromSqlRow,
)]
pub(crate) enum OrderEventType {
    Placed,
    PaymentSucceeded,
    PaymentFailed,
    Confirmed,
    Shipped,
    Delivered,
    Cancelled,
    Refunded,
}

crate::db::db_text_enum!(OrderEventType {
    Placed => "PLACED",
    PaymentSucceeded => "PAYMENT_SUCCEEDED",
    PaymentFailed => "PAYMENT_FAILED",
    Confirmed => "CONFIRMED",
    Shipped => "SHIPPED",
    Delivered => "DELIVERED",
    Cancelled => "CANCELLED",
    Refunded => "REFUNDED",
});

#[derive(Queryable, Selectable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = order_events)]
pub(crate) struct EventRow {
    pub position: i64,
    pub order_id: i64,
    /// The order's customer: who may read the event (with the admins).
    pub user_id: i64,
    pub event_type: OrderEventType,
    pub status: OrderStatus,
    pub payment_status: PaymentStatus,
    pub occurred_at: NaiveDateTime,
}

/// An event to append: what happened to which order, and the order's state right after.
#[derive(Debug, Clone)]
pub(crate) struct NewEvent {
    pub order_id: i64,
    pub user_id: i64,
    pub event_type: OrderEventType,
    pub status: OrderStatus,
    pub payment_status: PaymentStatus,
    pub occurred_at: NaiveDateTime,
    /// The webhook body's `data` object around the event's cursor, which only the
    /// append knows: `{…"cursor":"` and `",…}` (see `webhooks::payload`).
    pub webhook_data: (String, String),
}

/// Appends `event` in the caller's transaction, and one `ORDER_EVENT` delivery per
/// active webhook that wants it. Its position is given at commit (see the module doc).
pub(crate) async fn append(conn: &mut Conn<'_>, event: &NewEvent) -> QueryResult<()> {
    use diesel::sql_types::{BigInt, Text, Timestamp};
    let (data_head, data_tail) = &event.webhook_data;
    db_run!(conn,
        sqlite c => {
            // In-process: several statements cost no round trips.
            let position: i64 = diesel::update(order_event_head::table.find(1))
                .set(order_event_head::position.eq(order_event_head::position + 1))
                .returning(order_event_head::position)
                .get_result(c)
                .await?;
            let id: i64 = diesel::insert_into(order_events::table)
                .values((
                    order_events::position.eq(position),
                    order_events::order_id.eq(event.order_id),
                    order_events::user_id.eq(event.user_id),
                    order_events::event_type.eq(event.event_type.as_str()),
                    order_events::status.eq(event.status.as_str()),
                    order_events::payment_status.eq(event.payment_status.as_str()),
                    order_events::occurred_at.eq(event.occurred_at),
                ))
                .returning(order_events::id)
                .get_result(c)
                .await?;
            diesel::sql_query(
                "INSERT INTO webhook_deliveries \
                   (webhook_id, topic, event_id, data, status, attempts, next_attempt_at, created_at) \
                 SELECT id, 'ORDER_EVENT', ?, ? || ? || ?, 'PENDING', 0, ?, ? \
                 FROM webhooks WHERE is_active AND on_order_event AND deleted_at IS NULL",
            )
            .bind::<BigInt, _>(id)
            .bind::<Text, _>(data_head)
            .bind::<Text, _>(position.to_string())
            .bind::<Text, _>(data_tail)
            .bind::<Timestamp, _>(event.occurred_at)
            .bind::<Timestamp, _>(event.occurred_at)
            .execute(c)
            .await?;
            Ok(())
        },
        postgres c => {
            // One round trip: the event and its deliveries (the cursor left empty for
            // the commit trigger to fill in).
            FixedSql(diesel::sql_query(
                "WITH event AS ( \
                   INSERT INTO order_events \
                     (order_id, user_id, event_type, status, payment_status, occurred_at) \
                   VALUES ($1, $2, $3, $4, $5, $6) \
                   RETURNING id \
                 ) \
                 INSERT INTO webhook_deliveries \
                   (webhook_id, topic, event_id, data, status, attempts, next_attempt_at, created_at) \
                 SELECT webhooks.id, 'ORDER_EVENT', event.id, $7 || $8, 'PENDING', 0, $6, $6 \
                 FROM webhooks, event \
                 WHERE webhooks.is_active AND webhooks.on_order_event \
                   AND webhooks.deleted_at IS NULL",
            )
            .bind::<BigInt, _>(event.order_id)
            .bind::<BigInt, _>(event.user_id)
            .bind::<Text, _>(event.event_type.as_str())
            .bind::<Text, _>(event.status.as_str())
            .bind::<Text, _>(event.payment_status.as_str())
            .bind::<Timestamp, _>(event.occurred_at)
            .bind::<Text, _>(data_head)
            .bind::<Text, _>(data_tail))
            .execute(c)
            .await?;
            Ok(())
        }
    )
}

/// The last committed position (0 for an empty log): everything at or below it is
/// visible, nothing above it is yet.
pub(crate) async fn head(conn: &mut Conn<'_>) -> QueryResult<i64> {
    db_run!(conn, c => order_event_head::table
        .find(1)
        .select(order_event_head::position)
        .first(c)
        .await)
}

/// Whose events a reader may see, and which.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct EventFilter {
    /// Only this customer's orders (always set for customers).
    pub user_id: Option<i64>,
    pub order_id: Option<i64>,
}

impl EventFilter {
    pub(crate) fn admits(&self, event: &EventRow) -> bool {
        self.user_id.is_none_or(|id| id == event.user_id)
            && self.order_id.is_none_or(|id| id == event.order_id)
    }
}

/// Up to `limit` events after `after`, oldest first.
pub(crate) async fn after(
    conn: &mut Conn<'_>,
    after: i64,
    filter: EventFilter,
    limit: i64,
) -> QueryResult<Vec<EventRow>> {
    db_run!(conn, c => {
        let mut query = order_events::table
            .filter(order_events::position.gt(after))
            .select(EventRow::as_select())
            .order(order_events::position.asc())
            .limit(limit)
            .into_boxed();
        if let Some(user_id) = filter.user_id {
            query = query.filter(order_events::user_id.eq(user_id));
        }
        if let Some(order_id) = filter.order_id {
            query = query.filter(order_events::order_id.eq(order_id));
        }
        query.load(c).await
    })
}

/// The events of some orders, each order's oldest first.
pub(crate) async fn of_orders(
    conn: &mut Conn<'_>,
    order_ids: &[i64],
) -> QueryResult<Vec<EventRow>> {
    db_run!(conn, c => order_events::table
        .filter(order_events::order_id.eq_any(order_ids))
        .select(EventRow::as_select())
        .order(order_events::position.asc())
        .load(c)
        .await)
}

pub(crate) async fn find(conn: &mut Conn<'_>, position: i64) -> QueryResult<Option<EventRow>> {
    db_run!(conn, c => order_events::table
        .filter(order_events::position.eq(position))
        .select(EventRow::as_select())
        .first(c)
        .await
        .optional())
}
