//! Order change events, for the `orderUpdated` subscription.
//!
//! With SQLite (one process) an event goes straight to the in-process channel. With
//! PostgreSQL (possibly several processes behind a load balancer) it is sent with
//! NOTIFY, and every process's listener feeds it to its own channel, so a subscriber
//! hears about changes made through any process.

use tokio::sync::broadcast;

use crate::db::{Backend, Conn, Db};

const CHANNEL: &str = "order_updated";

/// Which order changed, and whose it is (to decide who may hear about it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderEvent {
    pub order_id: i64,
    pub user_id: i64,
}

impl OrderEvent {
    fn encode(self) -> String {
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
pub struct OrderEvents {
    local: broadcast::Sender<OrderEvent>,
}

impl OrderEvents {
    /// Starts the PostgreSQL listener when `db` is PostgreSQL.
    pub fn start(db: &Db, database_url: &str) -> Self {
        // A subscriber that falls this far behind skips events rather than holding memory.
        let (local, _) = broadcast::channel(1024);
        if db.backend() == Backend::Postgres {
            let sender = local.clone();
            crate::db::spawn_listener(database_url.to_owned(), CHANNEL, move |payload| {
                if let Some(event) = OrderEvent::decode(&payload) {
                    let _ = sender.send(event);
                }
            });
        }
        OrderEvents { local }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<OrderEvent> {
        self.local.subscribe()
    }

    /// Tells every subscriber, in every process, that the order changed; on the
    /// connection the change was made on, after its commit. A failure to notify is
    /// logged, never turned into a failed mutation: the change itself stands.
    pub async fn publish(&self, conn: &mut Conn<'_>, order_id: i64, user_id: i64) {
        let event = OrderEvent { order_id, user_id };
        match conn {
            Conn::Sqlite(_) => {
                let _ = self.local.send(event);
            }
            Conn::Postgres(_) => {
                if let Err(e) = crate::db::notify(conn, CHANNEL, &event.encode()).await {
                    tracing::warn!(error = ?e, order_id, "could not publish an order event");
                }
            }
        }
    }
}
