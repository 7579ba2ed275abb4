//! Whether the database is known to answer, kept by a background probe on a connection of
//! its own and by the pool's failed connection attempts (never by a checkout that merely
//! waited: a busy pool is not a database that is down), so that `/readyz` answers from the
//! last known state at once, and so that requests fail fast while the database is down
//! instead of each waiting the pool's full checkout timeout (10 s) for a connection that
//! cannot be made.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use tokio::sync::Notify;

use super::SqliteConn;
use super::backend::{Backend, sqlite_path};

/// A checkout may wait this long while the database is up (the pool is busy).
pub(super) const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(10);
/// ...and this long once a connection attempt has failed: enough to make a connection to
/// a database that is back, not enough to hold clients for long when it is not.
pub(super) const CHECKOUT_TIMEOUT_WHILE_DOWN: Duration = Duration::from_millis(500);

/// How often the probe asks while the database answers, and while it does not.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);
const PROBE_INTERVAL_WHILE_DOWN: Duration = Duration::from_millis(250);
/// How long one probe (connecting included) may take before it counts as a failure: a
/// loaded database answers `SELECT 1` well within it.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest a new PostgreSQL connection may take to open.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Default)]
pub(crate) struct Health {
    down: AtomicBool,
    /// Wakes checkouts already waiting when the database is found down.
    went_down: Notify,
}

impl Health {
    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// Records the state; logs only the changes.
    pub(crate) fn set_down(&self, down: bool) {
        let was_down = self.down.swap(down, Ordering::Relaxed);
        match (was_down, down) {
            (false, true) => {
                tracing::warn!("the database does not answer");
                self.went_down.notify_waiters();
            }
            (true, false) => tracing::info!("the database answers again"),
            _ => {}
        }
    }

    /// Resolves when the database is next found down.
    pub(crate) async fn went_down(&self) {
        self.went_down.notified().await;
    }
}

/// Told by the pool of every connection attempt that failed: the database is down (or
/// unreachable) from that moment, before the probe's next round.
#[derive(Clone)]
pub(super) struct ConnectFailures(pub(super) Arc<Health>);

impl std::fmt::Debug for ConnectFailures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnectFailures")
    }
}

impl<E: std::fmt::Display> bb8::ErrorSink<E> for ConnectFailures {
    fn sink(&self, error: E) {
        tracing::debug!(error = %error, "database connection attempt failed");
        self.0.set_down(true);
    }

    fn boxed_clone(&self) -> Box<dyn bb8::ErrorSink<E>> {
        Box::new(self.clone())
    }
}

/// The probe's own connection, outside the pool: a pool busy with requests must not look
/// like a database that is down.
#[expect(
    clippy::large_enum_variant,
    reason = "one per process, made once and never moved"
)]
enum ProbeConn {
    Sqlite(SqliteConn),
    Postgres(AsyncPgConnection),
}

impl ProbeConn {
    async fn open(backend: Backend, url: &str) -> Option<ProbeConn> {
        match backend {
            Backend::Sqlite => SqliteConn::establish(sqlite_path(url))
                .await
                .ok()
                .map(ProbeConn::Sqlite),
            Backend::Postgres => AsyncPgConnection::establish(url)
                .await
                .ok()
                .map(ProbeConn::Postgres),
        }
    }

    async fn answers(&mut self) -> bool {
        match self {
            ProbeConn::Sqlite(c) => c.batch_execute("SELECT 1").await.is_ok(),
            ProbeConn::Postgres(c) => c.batch_execute("SELECT 1").await.is_ok(),
        }
    }
}

/// Probes the database for as long as `health` lives.
pub(super) fn spawn_probe(backend: Backend, url: String, health: Weak<Health>) {
    tokio::spawn(async move {
        let mut conn: Option<ProbeConn> = None;
        loop {
            let Some(state) = health.upgrade() else {
                return;
            };
            let probe = async {
                if conn.is_none() {
                    conn = ProbeConn::open(backend, &url).await;
                }
                match conn.as_mut() {
                    Some(c) => c.answers().await,
                    None => false,
                }
            };
            let answers = matches!(tokio::time::timeout(PROBE_TIMEOUT, probe).await, Ok(true));
            if !answers {
                conn = None;
            }
            state.set_down(!answers);
            drop(state);
            let interval = if answers {
                PROBE_INTERVAL
            } else {
                PROBE_INTERVAL_WHILE_DOWN
            };
            tokio::time::sleep(interval).await;
        }
    });
}
