//! The pool of connections to one of the two backends, and how code borrows from it:
//! [`Db::run`] for statements on one connection, [`Db::transaction`] for a transaction.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel_async::pooled_connection::bb8::Pool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures_util::FutureExt;

use super::backend::{Backend, SQLITE_PRAGMAS, sqlite_path};
use super::conn::{Conn, ConnFn, PooledConn, SqliteConn};
use super::{health, sqlite_memory};
use crate::error::{AppError, AppResult};

/// A pool of connections to one of the two backends.
///
/// Connections are not pinged on checkout (`RecyclingMethod::Fast`): a round trip per
/// request is too dear, and a connection that broke (say, a database restart) fails its
/// next query, is marked broken by bb8 and replaced. A failed connection attempt is not
/// retried by the pool (bb8 would back off up to 5 s between attempts, so a database that
/// came back waited that long for its first request): the next checkout makes a new one.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    statements: StatementCounter,
    health: Arc<health::Health>,
    /// What the pool serves (`requests`, `mail`, …): its label in /metrics.
    name: &'static str,
    size: u32,
}

#[derive(Clone)]
enum DbPool {
    Sqlite(Pool<SqliteConn>),
    Postgres(Pool<AsyncPgConnection>),
}

/// Watches the SQL statements every pooled connection runs. It counts them (one atomic
/// add) and keeps the text of each statement a connection prepares for reuse (rare: once
/// per statement and connection; a set, so reconnections do not grow it): tests use
/// them to prove that a page of orders costs a fixed number of queries and that hot
/// statements stay prepared. With metrics on it times each statement into the pool's
/// histogram; with traces on it opens a span per statement (its text without values).
/// Each connection has its own copy (the shared parts are behind `Arc`s).
#[derive(Clone)]
pub(crate) struct StatementCounter {
    started: Arc<AtomicU64>,
    prepared: Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
    backend: &'static str,
    latency: Option<metrics::Histogram>,
    /// When this connection's statement in flight started (with metrics on).
    running: Option<std::time::Instant>,
    /// While traces are on: the span of the work this connection is checked out to,
    /// and the span of its statement in flight.
    trace: Option<TraceSlot>,
}

/// See [`StatementCounter::trace`]. The parent is taken at checkout because SQLite runs
/// statements on the blocking pool, where no span is current.
#[derive(Default)]
struct CheckoutTrace {
    parent: Option<tracing::Span>,
    statement: Option<tracing::Span>,
}

type TraceSlot = Arc<std::sync::Mutex<CheckoutTrace>>;

/// Empties a connection's [`TraceSlot`] when its checkout ends: a span is closed (and
/// exported) only once nothing holds it, and a pooled connection lives on; a statement
/// whose future was dropped never sees its end.
pub(super) struct CheckoutSpan(TraceSlot);

impl Drop for CheckoutSpan {
    fn drop(&mut self) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = CheckoutTrace::default();
        }
    }
}

impl StatementCounter {
    fn new(backend: Backend, pool: &'static str) -> Self {
        StatementCounter {
            started: Arc::default(),
            prepared: Arc::default(),
            backend: match backend {
                Backend::Postgres => "postgresql",
                Backend::Sqlite => "sqlite",
            },
            latency: crate::telemetry::metrics::enabled()
                .then(|| crate::telemetry::metrics::statement_histogram(pool)),
            running: None,
            trace: None,
        }
    }

    pub(crate) fn get(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    /// Opens the statement's span under the checkout's; none outside a traced checkout.
    fn start_span(&self, query: &dyn diesel::connection::DebugQuery) {
        let Some(slot) = &self.trace else {
            return;
        };
        let Ok(mut slot) = slot.lock() else {
            return;
        };
        let Some(parent) = slot.parent.as_ref().and_then(tracing::Span::id) else {
            return;
        };
        let text = statement_text(query);
        let verb = text.split_whitespace().next().unwrap_or("SQL");
        slot.statement = Some(tracing::info_span!(
            target: crate::telemetry::TRACE_ONLY,
            parent: parent,
            "sql",
            otel.name = verb.to_ascii_uppercase(),
            otel.kind = "client",
            db.system = self.backend,
            db.statement = text.as_str(),
        ));
    }

    fn end_span(&self) {
        if let Some(slot) = &self.trace
            && let Ok(mut slot) = slot.lock()
        {
            slot.statement = None;
        }
    }
}

/// A statement's SQL without its values: diesel prints them after the text, and they
/// are the client's data. The printing stops at the marker, so the values are never
/// even formatted.
fn statement_text(query: &dyn diesel::connection::DebugQuery) -> String {
    const BINDS: &str = " -- binds: ";
    struct UntilBinds(String);
    impl std::fmt::Write for UntilBinds {
        fn write_str(&mut self, piece: &str) -> std::fmt::Result {
            self.0.push_str(piece);
            match self.0.find(BINDS) {
                Some(at) => {
                    self.0.truncate(at);
                    Err(std::fmt::Error)
                }
                None => Ok(()),
            }
        }
    }
    let mut text = UntilBinds(String::new());
    let _ = std::fmt::write(&mut text, format_args!("{query}"));
    text.0
}

impl Instrumentation for StatementCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { query, .. } => {
                self.started.fetch_add(1, Ordering::Relaxed);
                if self.latency.is_some() {
                    self.running = Some(std::time::Instant::now());
                }
                if crate::telemetry::traces_enabled() {
                    self.start_span(query);
                }
            }
            InstrumentationEvent::FinishQuery { .. } => {
                if let (Some(started), Some(latency)) = (self.running.take(), &self.latency) {
                    latency.record(started.elapsed());
                }
                self.end_span();
            }
            InstrumentationEvent::CacheQuery { sql, .. } => {
                if let Ok(mut prepared) = self.prepared.lock()
                    && !prepared.contains(sql)
                {
                    prepared.insert(sql.to_owned());
                }
            }
            _ => {}
        }
    }
}

/// A pool's state at one moment, for /metrics.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolState {
    pub name: &'static str,
    pub connections: u32,
    pub idle_connections: u32,
    pub max_size: u32,
    /// Checkouts so far that had to wait, that gave up, and how long they all waited.
    pub waits: u64,
    pub timeouts: u64,
    pub wait_time: std::time::Duration,
}

/// The pool settings both backends share (see [`Db`]).
fn pool_builder<M>(size: u32, failures: health::ConnectFailures) -> bb8::Builder<M>
where
    M: bb8::ManageConnection,
    M::Error: std::fmt::Display,
{
    bb8::Builder::new()
        .max_size(size)
        .connection_timeout(health::CHECKOUT_TIMEOUT)
        .error_sink(Box::new(failures))
        .retry_connection(false)
}

impl Db {
    /// Opens a pool of `pool_size` connections for `name` (`requests`, or the
    /// background worker it serves); SQLite creates the file (and its folder) on first use.
    pub(crate) async fn connect(
        url: &str,
        pool_size: u32,
        name: &'static str,
    ) -> anyhow::Result<Self> {
        let statements = StatementCounter::new(Backend::from_url(url), name);
        let health = Arc::new(health::Health::default());
        let failures = health::ConnectFailures(health.clone());
        let pool = match Backend::from_url(url) {
            Backend::Postgres => {
                let mut config = ManagerConfig::default();
                config.recycling_method = RecyclingMethod::Fast;
                let counter = statements.clone();
                config.custom_setup = Box::new(move |url| {
                    let (url, counter) = (url.to_owned(), counter.clone());
                    async move {
                        // A host that drops packets would hold a pool slot for the
                        // kernel's connect timeout (minutes) without this bound.
                        let mut conn = tokio::time::timeout(
                            health::CONNECT_TIMEOUT,
                            AsyncPgConnection::establish(&url),
                        )
                        .await
                        .map_err(|_| {
                            diesel::ConnectionError::BadConnection(
                                "connecting timed out".to_owned(),
                            )
                        })??;
                        conn.set_instrumentation(counter);
                        Ok(conn)
                    }
                    .boxed()
                });
                let manager =
                    AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
                let pool = pool_builder(pool_size, failures)
                    .build(manager)
                    .await
                    .context("opening the PostgreSQL pool")?;
                DbPool::Postgres(pool)
            }
            Backend::Sqlite => {
                sqlite_memory::install();
                let path = sqlite_path(url).to_owned();
                if let Some(dir) = std::path::Path::new(&path).parent()
                    && !dir.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                }
                let mut config = ManagerConfig::default();
                config.recycling_method = RecyclingMethod::Fast;
                let counter = statements.clone();
                config.custom_setup = Box::new(move |path| {
                    let (path, counter) = (path.to_owned(), counter.clone());
                    async move {
                        let mut conn = SqliteConn::establish(&path).await?;
                        conn.batch_execute(SQLITE_PRAGMAS)
                            .await
                            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                        conn.set_instrumentation(counter);
                        Ok(conn)
                    }
                    .boxed()
                });
                let manager =
                    AsyncDieselConnectionManager::<SqliteConn>::new_with_config(path, config);
                let pool = pool_builder(pool_size, failures)
                    .build(manager)
                    .await
                    .context("opening the SQLite pool")?;
                DbPool::Sqlite(pool)
            }
        };
        health::spawn_probe(
            Backend::from_url(url),
            url.to_owned(),
            Arc::downgrade(&health),
        );
        Ok(Db {
            pool,
            statements,
            health,
            name,
            size: pool_size,
        })
    }

    pub(crate) fn pool_state(&self) -> PoolState {
        let state = match &self.pool {
            DbPool::Sqlite(pool) => pool.state(),
            DbPool::Postgres(pool) => pool.state(),
        };
        PoolState {
            name: self.name,
            connections: state.connections,
            idle_connections: state.idle_connections,
            max_size: self.size,
            waits: state.statistics.get_waited,
            timeouts: state.statistics.get_timed_out,
            wait_time: state.statistics.get_wait_time,
        }
    }

    /// Statements started so far on this pool's connections.
    pub fn statement_count(&self) -> u64 {
        self.statements.get()
    }

    /// The SQL of every statement this pool's connections have kept prepared.
    pub fn prepared_statements(&self) -> Vec<String> {
        self.statements
            .prepared
            .lock()
            .map(|prepared| prepared.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Runs `f` on a connection from the pool, which goes back to the pool when `f` is
    /// done. A repo call is `db.run(async |c| repo::find_order(c, id).await)`.
    pub(crate) async fn run<R, E, F>(&self, f: F) -> AppResult<R>
    where
        for<'r, 'c> F: AsyncFnOnce(&'r mut Conn<'c>) -> Result<R, E>
            + ConnFn<&'r mut Conn<'c>, Result<R, E>, Fut: Send>,
        E: Into<AppError>,
    {
        let mut pooled = self.get().await?;
        let _span = self.lend_span(&mut pooled);
        f(&mut pooled.conn()).await.map_err(Into::into)
    }

    /// While the current request is traced, gives the connection a slot for the spans
    /// of its statements, under the current span, for as long as the checkout lasts.
    fn lend_span(&self, pooled: &mut PooledConn) -> Option<CheckoutSpan> {
        if !crate::telemetry::traces_enabled() || !crate::telemetry::traces::current_is_sampled() {
            return None;
        }
        let slot = Arc::new(std::sync::Mutex::new(CheckoutTrace {
            parent: Some(tracing::Span::current()),
            statement: None,
        }));
        let mut statements = self.statements.clone();
        statements.trace = Some(slot.clone());
        match pooled {
            PooledConn::Sqlite(conn) => conn.set_instrumentation(statements),
            PooledConn::Postgres(conn) => conn.set_instrumentation(statements),
        }
        Some(CheckoutSpan(slot))
    }

    /// Runs `f` in one write transaction: committed when it returns `Ok`, rolled back
    /// on `Err`. On SQLite the transaction is `BEGIN IMMEDIATE`: a deferred one that
    /// later upgrades to a write lock fails with SQLITE_BUSY under concurrency instead
    /// of waiting.
    pub(crate) async fn transaction<R, E, F>(&self, f: F) -> Result<R, E>
    where
        for<'r, 'c> F: AsyncFnOnce(&'r mut Conn<'c>) -> Result<R, E>
            + ConnFn<&'r mut Conn<'c>, Result<R, E>, Fut: Send>
            + Send,
        R: Send,
        E: From<diesel::result::Error> + From<AppError> + Send,
    {
        let mut pooled = self.get().await?;
        let _span = self.lend_span(&mut pooled);
        match pooled {
            PooledConn::Sqlite(mut pc) => {
                let pc: &mut SqliteConn = &mut pc;
                pc.immediate_transaction(async move |c: &mut SqliteConn| {
                    f(&mut Conn::Sqlite(c)).await
                })
                .await
            }
            PooledConn::Postgres(mut pc) => {
                let pc: &mut AsyncPgConnection = &mut pc;
                pc.transaction(async move |c: &mut AsyncPgConnection| {
                    f(&mut Conn::Postgres(c)).await
                })
                .await
            }
        }
    }

    /// A connection from the pool. While the database is known to be down the wait is
    /// short, so clients get their error at once.
    pub async fn get(&self) -> Result<PooledConn, AppError> {
        let checkout = async {
            match &self.pool {
                DbPool::Sqlite(pool) => pool.get_owned().await.map(PooledConn::Sqlite),
                DbPool::Postgres(pool) => pool.get_owned().await.map(PooledConn::Postgres),
            }
            .map_err(|e| e.to_string())
        };
        let mut checkout = std::pin::pin!(checkout);
        let result = if self.health.is_down() {
            tokio::time::timeout(health::CHECKOUT_TIMEOUT_WHILE_DOWN, &mut checkout).await
        } else {
            // A checkout that began while the database was up waits the short time too
            // once the database is found down meanwhile.
            tokio::select! {
                result = tokio::time::timeout(health::CHECKOUT_TIMEOUT, &mut checkout) => result,
                () = self.health.went_down() => {
                    tokio::time::timeout(health::CHECKOUT_TIMEOUT_WHILE_DOWN, &mut checkout).await
                }
            }
        };
        match result {
            Ok(Ok(conn)) => Ok(conn),
            // Not a sign that the database is down: the pool may only be busy. Failed
            // connection attempts and the probe say that (see `health`).
            Ok(Err(e)) => Err(AppError::internal(format!("database pool: {e}"))),
            Err(_) => Err(AppError::internal("database pool: timed out")),
        }
    }

    /// Whether this is the embedded SQLite database.
    pub(crate) fn is_sqlite(&self) -> bool {
        matches!(self.pool, DbPool::Sqlite(_))
    }

    /// Whether the database answered its last probe (for /readyz; never waits).
    pub(crate) fn is_available(&self) -> bool {
        !self.health.is_down()
    }
}
