//! Order change events, for the `orderUpdated` subscription.
//!
//! An event says which order changed; subscribers read the order afresh. It travels on a
//! database notification channel (`db::notify`), so a subscriber connected to one server
//! process hears about changes made through any other.

use tokio::sync::broadcast;

use crate::db::Db;
use crate::db::notify::{Channel, Message};
use crate::error::AppResult;

const CHANNEL: &str = "order_updated";

/// How far a subscriber may fall behind before it skips events.
const CAPACITY: usize = 1024;

/// Which order changed, and whose it is (to decide who may hear about it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OrderEvent {
    pub order_id: i64,
    pub user_id: i64,
}

impl Message for OrderEvent {
    fn encode(&self) -> String {
        format!("{}:{}", self.order_id, self.user_id)
    }

    fn decode(payload: &str) -> Option<OrderEvent> {
        let (order_id, user_id) = payload.split_once(':')?;
        Some(OrderEvent {
            order_id: order_id.parse().ok()?,
            user_id: user_id.parse().ok()?,
        })
    }
}

#[derive(Clone)]
pub(crate) struct OrderEvents {
    channel: Channel<OrderEvent>,
}

impl OrderEvents {
    /// Opens the channel (on PostgreSQL, starts this process's listener).
    pub(crate) async fn start(db: &Db, database_url: &str) -> AppResult<Self> {
        Ok(OrderEvents {
            channel: Channel::open(db, database_url, CHANNEL, CAPACITY).await?,
        })
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<OrderEvent> {
        self.channel.subscribe()
    }

    /// Tells every subscriber, in every process, that the order changed: the one way
    /// events leave, called after the change has committed. A failure is logged, never
    /// turned into a failed mutation: the change itself stands.
    pub(crate) async fn publish(&self, order_id: i64, user_id: i64) {
        self.channel.send(OrderEvent { order_id, user_id }).await;
    }
}
