//! The order event log (`log`): every committed change of an order, in commit order, for
//! `Order.events`, the `orderEvents` query and subscription (`tail`), and the webhooks
//! that report them. The orders room appends; this room reads.

pub(crate) mod graphql;
pub(crate) mod log;
pub(crate) mod tail;

use chrono::NaiveDateTime;

use crate::db::Db;
use crate::error::AppResult;
use crate::orders::events::OrderEvents;
use crate::orders::model::{OrderRow, OrderStatus, PaymentStatus};
use log::{EventFilter, EventRow, NewEvent, OrderEventType};
use tail::EventTail;

/// The event log's handle: reads and subscriptions.
#[derive(Clone)]
pub(crate) struct EventLog {
    db: Db,
    tail: EventTail,
}

impl EventLog {
    pub(crate) fn new(db: Db, changes: OrderEvents) -> Self {
        EventLog {
            tail: EventTail::new(db.clone(), changes),
            db,
        }
    }

    pub(crate) fn tail(&self) -> &EventTail {
        &self.tail
    }

    /// Up to `limit` events `filter` admits after `after`, oldest first.
    pub(crate) async fn after(
        &self,
        after: i64,
        filter: EventFilter,
        limit: i64,
    ) -> AppResult<Vec<EventRow>> {
        self.db
            .run(async |c| log::after(c, after, filter, limit).await)
            .await
    }

    /// The event at `position`, if `filter` admits it.
    pub(crate) async fn find(
        &self,
        position: i64,
        filter: EventFilter,
    ) -> AppResult<Option<EventRow>> {
        let event = self.db.run(async |c| log::find(c, position).await).await?;
        Ok(event.filter(|e| filter.admits(e)))
    }
}

/// The event of `order`'s change: its state is the order's as it now is (`order` read
/// after the change) with `payment`.
pub(crate) fn event_of(
    order: &OrderRow,
    event_type: OrderEventType,
    payment: PaymentStatus,
    now: NaiveDateTime,
) -> NewEvent {
    let status: OrderStatus = order.status();
    NewEvent {
        order_id: order.id,
        user_id: order.user_id,
        event_type,
        status,
        payment_status: payment,
        occurred_at: now,
        webhook_data: crate::webhooks::payload::order_event_data(order, event_type, payment),
    }
}
