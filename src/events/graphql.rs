//! The event log part of the schema: `OrderEvent`, `Order.events` (in the orders part),
//! the `orderEvents` query and subscription.

use async_graphql::connection::{Connection, CursorType, Edge};
use async_graphql::{Context, ID, Object, Subscription};
use futures_util::Stream;

use super::EventLog;
use super::log::{EventFilter, EventRow, OrderEventType};
use crate::accounts::model::{Role, UserRow};
use crate::error::AppError;
use crate::graphql::ids::{NodeKind, encode_id, id_of_kind};
use crate::graphql::loaders::loaders;
use crate::graphql::pagination::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MalformedCursor};
use crate::graphql::scalars::DateTime;
use crate::graphql::viewer::{require_user, viewer};
use crate::orders::graphql::Order;
use crate::orders::model::{OrderStatus, PaymentStatus};

fn event_log<'a>(ctx: &Context<'a>) -> &'a EventLog {
    ctx.data_unchecked::<EventLog>()
}

/// A position in the log, as clients see it: its number, as text. Positions are dense
/// and in commit order, so there is nothing to hide in them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventCursor(pub i64);

impl CursorType for EventCursor {
    type Error = MalformedCursor;

    fn decode_cursor(s: &str) -> Result<Self, MalformedCursor> {
        let valid = !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit());
        if !valid {
            return Err(MalformedCursor);
        }
        s.parse().map(EventCursor).map_err(|_| MalformedCursor)
    }

    fn encode_cursor(&self) -> String {
        self.0.to_string()
    }
}

fn position_after(after: Option<&str>) -> Result<Option<i64>, AppError> {
    Ok(after
        .map(EventCursor::decode_cursor)
        .transpose()?
        .map(|c| c.0))
}

pub(crate) struct OrderEvent(pub EventRow);

#[Object]
impl OrderEvent {
    pub(crate) async fn id(&self) -> ID {
        encode_id(NodeKind::OrderEvent, self.0.position)
    }
    #[graphql(name = "type")]
    async fn event_type(&self) -> OrderEventType {
        self.0.event_type
    }
    async fn order(&self, ctx: &Context<'_>) -> async_graphql::Result<Order> {
        let order = loaders(ctx).orders().load_one(self.0.order_id).await?;
        order
            .map(Order)
            .ok_or_else(|| AppError::internal("event without its order").into_graphql())
    }
    /// The order's status and payment status right after this event.
    async fn status(&self) -> OrderStatus {
        self.0.status
    }
    async fn payment_status(&self) -> PaymentStatus {
        self.0.payment_status
    }
    async fn occurred_at(&self) -> DateTime {
        self.0.occurred_at.into()
    }
    /// Pass as `after` to resume right after this event.
    async fn cursor(&self) -> String {
        EventCursor(self.0.position).encode_cursor()
    }
}

/// Whose events `viewer` may read: their own orders', or all for an admin; `order_id`
/// narrows to one order (an ID of another kind names none: `Some(0)`).
fn filter_for(viewer: &UserRow, order_id: Option<&ID>) -> Result<EventFilter, AppError> {
    let order_id = order_id
        .map(|id| id_of_kind(id, NodeKind::Order))
        .transpose()?
        .map(|id| id.unwrap_or(0));
    Ok(EventFilter {
        user_id: (viewer.role() != Role::Admin).then_some(viewer.id),
        order_id,
    })
}

/// `node(id:)` for order events: visible with their order.
pub(crate) async fn order_event_node(
    ctx: &Context<'_>,
    position: i64,
) -> Result<Option<OrderEvent>, AppError> {
    let Some(viewer) = viewer(ctx).await? else {
        return Ok(None);
    };
    let filter = filter_for(viewer, None)?;
    Ok(event_log(ctx).find(position, filter).await?.map(OrderEvent))
}

#[derive(Default)]
pub(crate) struct EventsQuery;

#[Object]
impl EventsQuery {
    /// Events of the orders the viewer may see (own; admins: all), oldest first, after the cursor.
    #[graphql(
        complexity = "crate::graphql::pagination::page_complexity(first, None, child_complexity)"
    )]
    async fn order_events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        order_id: Option<ID>,
    ) -> async_graphql::Result<Connection<EventCursor, OrderEvent>> {
        let viewer = require_user(ctx).await?;
        let limit = match first {
            None => DEFAULT_PAGE_SIZE,
            Some(n) if (0..=MAX_PAGE_SIZE as i32).contains(&n) => n as usize,
            Some(_) => {
                return Err(
                    AppError::bad_input(format!("`first` must be 0 to {MAX_PAGE_SIZE}")).into(),
                );
            }
        };
        let after = position_after(after.as_deref())?;
        let filter = filter_for(viewer, order_id.as_ref())?;
        let mut rows = event_log(ctx)
            .after(after.unwrap_or(0), filter, limit as i64 + 1)
            .await?;
        let has_next = rows.len() > limit;
        rows.truncate(limit);
        let mut connection = Connection::new(after.is_some(), has_next);
        connection.edges.extend(
            rows.into_iter()
                .map(|row| Edge::new(EventCursor(row.position), OrderEvent(row))),
        );
        Ok(connection)
    }
}

#[derive(Default)]
pub(crate) struct EventsSubscription;

#[Subscription]
impl EventsSubscription {
    /// The viewer's order events after the cursor (replayed from the log), then live ones: none missed, none twice, in log order.
    async fn order_events(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        order_id: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = OrderEvent> + use<>> {
        let viewer = require_user(ctx).await?;
        let after = position_after(after.as_deref())?;
        let filter = filter_for(viewer, order_id.as_ref())?;
        let events = event_log(ctx).tail().subscribe(after, filter).await?;
        Ok(futures_util::StreamExt::map(events, OrderEvent))
    }
}
