//! Notifications between the processes that share a database: PostgreSQL's
//! LISTEN/NOTIFY, so that several server processes behind a load balancer hear of each
//! other's changes; on SQLite (one process by design) an in-process channel.

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use tokio::sync::broadcast;

use super::backend::Backend;
use super::{Db, fixed_sql::FixedSql};

/// What a channel carries: text on the wire, so that other processes can read it.
pub trait Message: Clone + Send + 'static {
    fn encode(&self) -> String;
    fn decode(payload: &str) -> Option<Self>;
}

/// A named channel every process on the database hears; each process hands what it
/// hears to its own subscribers.
pub struct Channel<M> {
    name: &'static str,
    local: broadcast::Sender<M>,
    /// Where NOTIFY goes, on PostgreSQL; `None` on SQLite, where the local channel is
    /// every subscriber there is.
    postgres: Option<Db>,
}

impl<M> Clone for Channel<M> {
    fn clone(&self) -> Self {
        Channel {
            name: self.name,
            local: self.local.clone(),
            postgres: self.postgres.clone(),
        }
    }
}

impl<M: Message> Channel<M> {
    /// Opens the channel `name` on `db`; on PostgreSQL a listener on a connection of its
    /// own runs for as long as the process does. A subscriber that falls `capacity`
    /// messages behind skips messages rather than holding memory.
    pub fn open(db: &Db, database_url: &str, name: &'static str, capacity: usize) -> Self {
        let (local, _) = broadcast::channel(capacity);
        let postgres = (Backend::from_url(database_url) == Backend::Postgres).then(|| {
            let sender = local.clone();
            spawn_listener(database_url.to_owned(), name, move |payload| {
                if let Some(message) = M::decode(&payload) {
                    let _ = sender.send(message);
                }
            });
            db.clone()
        });
        Channel {
            name,
            local,
            postgres,
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<M> {
        self.local.subscribe()
    }

    /// Tells every subscriber in every process. Call it after the change it announces
    /// has committed. A failure is logged, never returned: the change itself stands.
    pub async fn send(&self, message: M) {
        let Some(db) = &self.postgres else {
            let _ = self.local.send(message);
            return;
        };
        let payload = message.encode();
        let sent = db
            .run(async |conn| {
                crate::db_run!(conn, c => FixedSql(
                    diesel::sql_query("SELECT pg_notify($1, $2)")
                        .bind::<diesel::sql_types::Text, _>(self.name)
                        .bind::<diesel::sql_types::Text, _>(&payload),
                )
                .execute(c)
                .await)
            })
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = ?e, channel = self.name, "could not send a notification");
        }
    }
}

/// Listens on a PostgreSQL channel on a dedicated connection and hands every payload to
/// `deliver`, for as long as the process runs. When the connection drops (a database
/// restart, a network cut) it reconnects with backoff and listens again; the consumers
/// never notice beyond the payloads sent while it was away.
fn spawn_listener(url: String, channel: &'static str, deliver: impl Fn(String) + Send + 'static) {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            match AsyncPgConnection::establish(&url).await {
                Ok(mut conn) => match conn.batch_execute(&format!("LISTEN {channel}")).await {
                    Ok(()) => {
                        tracing::info!(channel, "listening for notifications");
                        backoff = Duration::from_millis(100);
                        let mut stream = std::pin::pin!(conn.notifications_stream());
                        while let Some(item) = futures_util::StreamExt::next(&mut stream).await {
                            match item {
                                Ok(notification) => deliver(notification.payload),
                                Err(e) => {
                                    tracing::warn!(error = %e, "notification stream failed");
                                    break;
                                }
                            }
                        }
                        tracing::warn!(channel, "notification connection lost; reconnecting");
                    }
                    Err(e) => tracing::warn!(error = %e, "LISTEN failed"),
                },
                Err(e) => tracing::warn!(error = %e, "notification connection failed"),
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    });
}
