//! Notifications between the processes that share a database: PostgreSQL's
//! LISTEN/NOTIFY, so that several server processes behind a load balancer hear of each
//! other's changes; on SQLite (one process by design) an in-process channel.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use tokio::sync::broadcast;

use super::backend::Backend;
use super::{Db, fixed_sql::FixedSql};
use crate::error::AppResult;

/// What a channel carries: text on the wire, so that other processes can read it.
pub(crate) trait Message: Clone + Send + 'static {
    fn encode(&self) -> String;
    fn decode(payload: &str) -> Option<Self>;
}

/// A named channel every process on the database hears; each process hands what it
/// hears to its own subscribers.
pub(crate) struct Channel<M> {
    /// The name NOTIFY and LISTEN use: the channel's, qualified by the database schema
    /// (see [`Channel::open`]).
    name: Arc<str>,
    local: broadcast::Sender<M>,
    /// Where NOTIFY goes, on PostgreSQL; `None` on SQLite, where the local channel is
    /// every subscriber there is.
    postgres: Option<Db>,
    /// Which connection of the listener is hearing the channel: 0 while none is (not yet
    /// connected, or reconnecting), then 1, 2, … for each connection in turn. A cache
    /// that relies on hearing every change compares it with the one it stored under:
    /// messages sent while the listener was away are lost.
    listening: Arc<AtomicU64>,
}

impl<M> Clone for Channel<M> {
    fn clone(&self) -> Self {
        Channel {
            name: self.name.clone(),
            local: self.local.clone(),
            postgres: self.postgres.clone(),
            listening: self.listening.clone(),
        }
    }
}

impl<M: Message> Channel<M> {
    /// Opens the channel `name` on `db`; on PostgreSQL a listener on a connection of its
    /// own runs for as long as the process does. A subscriber that falls `capacity`
    /// messages behind skips messages rather than holding memory.
    ///
    /// PostgreSQL's channels belong to the whole database, but a shop's tables live in
    /// one schema (the connection's `search_path`): two shops in two schemas of one
    /// database (or two test runs) would hear each other's messages, whose ids mean
    /// other rows. So the name on the wire is qualified by the schema.
    pub(crate) async fn open(
        db: &Db,
        database_url: &str,
        name: &'static str,
        capacity: usize,
    ) -> AppResult<Self> {
        let (local, _) = broadcast::channel(capacity);
        if Backend::from_url(database_url) != Backend::Postgres {
            // In-process only: nothing can be missed.
            return Ok(Channel {
                name: name.into(),
                local,
                postgres: None,
                listening: Arc::new(AtomicU64::new(1)),
            });
        }
        let schema = db
            .run(async |c| {
                crate::db::db_run!(c, c => diesel::select(current_schema()).get_result::<String>(c).await)
            })
            .await?;
        let qualified: Arc<str> = qualified_name(name, &schema).into();
        let sender = local.clone();
        let listening = Arc::new(AtomicU64::new(0));
        spawn_listener(
            database_url.to_owned(),
            qualified.clone(),
            listening.clone(),
            move |payload| {
                if let Some(message) = M::decode(&payload) {
                    let _ = sender.send(message);
                }
            },
        );
        Ok(Channel {
            name: qualified,
            local,
            postgres: Some(db.clone()),
            listening,
        })
    }

    /// The listener's current connection (see the field), `None` while it has none.
    pub(crate) fn listening(&self) -> Option<u64> {
        match AtomicU64::load(&self.listening, Ordering::SeqCst) {
            0 => None,
            connection => Some(connection),
        }
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<M> {
        self.local.subscribe()
    }

    /// Tells every subscriber in every process. Call it after the change it announces
    /// has committed. A failure is logged, never returned: the change itself stands.
    pub(crate) async fn send(&self, message: M) {
        let Some(db) = &self.postgres else {
            let _ = self.local.send(message);
            return;
        };
        let payload = message.encode();
        let sent = db
            .run(async |conn| {
                crate::db::db_run!(conn, c => FixedSql(
                    diesel::sql_query("SELECT pg_notify($1, $2)")
                        .bind::<diesel::sql_types::Text, _>(&*self.name)
                        .bind::<diesel::sql_types::Text, _>(&payload),
                )
                .execute(c)
                .await)
            })
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = ?e, channel = &*self.name, "could not send a notification");
        }
    }
}

/// Listens on a PostgreSQL channel on a dedicated connection and hands every payload to
/// `deliver`, for as long as the process runs. When the connection drops (a database
/// restart, a network cut) it reconnects with backoff and listens again; the consumers
/// never notice beyond the payloads sent while it was away; `listening` says which
/// connection is hearing the channel, 0 while none is.
fn spawn_listener(
    url: String,
    channel: Arc<str>,
    listening: Arc<AtomicU64>,
    deliver: impl Fn(String) + Send + 'static,
) {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        let mut connections = 0;
        let listen = format!("LISTEN \"{}\"", channel.replace('"', "\"\""));
        loop {
            match AsyncPgConnection::establish(&url).await {
                Ok(mut conn) => match conn.batch_execute(&listen).await {
                    Ok(()) => {
                        tracing::info!(channel = &*channel, "listening for notifications");
                        connections += 1;
                        listening.store(connections, Ordering::SeqCst);
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
                        listening.store(0, Ordering::SeqCst);
                        tracing::warn!(
                            channel = &*channel,
                            "notification connection lost; reconnecting"
                        );
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

diesel::define_sql_function! {
    /// PostgreSQL's `current_schema()`: the first schema of the search path.
    fn current_schema() -> diesel::sql_types::Text;
}

/// Longest channel name PostgreSQL keeps (NAMEDATALEN - 1).
const MAX_CHANNEL_BYTES: usize = 63;

/// `name.schema`, or `name.` and a hash of the schema when that would be too long.
fn qualified_name(name: &str, schema: &str) -> String {
    let plain = format!("{name}.{schema}");
    if plain.len() <= MAX_CHANNEL_BYTES {
        return plain;
    }
    use sha2::{Digest, Sha256};
    let digest = hex::encode(Sha256::digest(schema.as_bytes()));
    format!("{name}.{}", &digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_are_qualified_and_short() {
        assert_eq!(
            qualified_name("order_updated", "public"),
            "order_updated.public"
        );
        let long = qualified_name("order_updated", &"s".repeat(80));
        assert!(long.len() <= MAX_CHANNEL_BYTES, "{long}");
        assert_ne!(long, qualified_name("order_updated", &"t".repeat(80)));
    }
}
