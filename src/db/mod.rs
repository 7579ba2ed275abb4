//! The database: the two backends, their pools, the dispatch macros and migrations.
//!
//! diesel-async has no async `MultiConnection`, so a connection is an enum over the two
//! backends and [`db_run!`]/[`db_transaction!`] expand one body once per backend. The
//! query code above this module is written once and type-checked against both.

pub mod fixed_sql;
pub mod health;
pub mod money;
pub mod schema;
pub mod sqlite_memory;
pub mod text_enum;

diesel::define_sql_function! {
    /// SQL `lower()`, the same on both backends (SQLite folds ASCII only).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// A `LIKE` pattern that finds `needle` anywhere, with `%`, `_` and `\` taken literally
/// (queries use `ESCAPE '\'`).
pub fn contains_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for ch in needle.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use diesel::connection::{Instrumentation, InstrumentationEvent};

use chrono::NaiveDateTime;
use diesel::SqliteConnection;
use diesel_async::pooled_connection::bb8::{Pool, PooledConnection};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;

use anyhow::Context;

use crate::error::AppError;

pub type SqliteConn = SyncConnectionWrapper<SqliteConnection>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Every pooled SQLite connection gets these: WAL lets readers run beside the one
/// writer, the busy timeout makes writers queue instead of failing, and SQLite leaves
/// foreign keys off unless asked.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";

/// Which database a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// The file path of a SQLite URL: `sqlite://data/shop.db`, `sqlite:data/shop.db` or a
/// bare path.
pub fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

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
}

#[derive(Clone)]
enum DbPool {
    Sqlite(Pool<SqliteConn>),
    Postgres(Pool<AsyncPgConnection>),
}

/// Counts the SQL statements every pooled connection starts (cheap: one atomic add),
/// and keeps the text of each statement a connection prepares for reuse (rare: once per
/// statement and connection; a set, so reconnections do not grow it). Tests use them to prove that a page of orders costs a
/// fixed number of queries and that hot statements stay prepared.
#[derive(Clone, Default)]
pub struct StatementCounter {
    started: Arc<AtomicU64>,
    prepared: Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
}

impl StatementCounter {
    pub fn get(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }
}

impl Instrumentation for StatementCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { .. } => {
                self.started.fetch_add(1, Ordering::Relaxed);
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

/// A connection checked out of the pool.
#[expect(
    clippy::large_enum_variant,
    reason = "one per request, created once and never moved in a hot loop; boxing would add an allocation"
)]
pub enum PooledConn {
    Sqlite(PooledConnection<'static, SqliteConn>),
    Postgres(PooledConnection<'static, AsyncPgConnection>),
}

/// A borrowed connection of either backend: what every repo function takes, both on a
/// pooled connection and inside a transaction.
pub enum Conn<'a> {
    Sqlite(&'a mut SqliteConn),
    Postgres(&'a mut AsyncPgConnection),
}

impl PooledConn {
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            PooledConn::Sqlite(c) => Conn::Sqlite(c),
            PooledConn::Postgres(c) => Conn::Postgres(c),
        }
    }
}

/// Runs `$body` with `$c` bound to the concrete connection of each backend.
#[macro_export]
macro_rules! db_run {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::Conn::Sqlite($c) => {
                let $c: &mut $crate::db::SqliteConn = &mut **$c;
                $body
            }
            $crate::db::Conn::Postgres($c) => {
                let $c: &mut diesel_async::AsyncPgConnection = &mut **$c;
                $body
            }
        }
    };
}

/// Runs `$body` in one write transaction, with `$tx` bound to a [`Conn`]. On SQLite the
/// transaction is `BEGIN IMMEDIATE`: a deferred one that later upgrades to a write lock
/// fails with SQLITE_BUSY under concurrency instead of waiting. An `Err` rolls back.
#[macro_export]
macro_rules! db_transaction {
    ($pooled:expr, |$tx:ident| $body:expr) => {
        match $pooled {
            $crate::db::PooledConn::Sqlite(pc) => {
                let pc: &mut $crate::db::SqliteConn = &mut **pc;
                pc.immediate_transaction(async |c: &mut $crate::db::SqliteConn| {
                    let $tx = &mut $crate::db::Conn::Sqlite(c);
                    $body
                })
                .await
            }
            $crate::db::PooledConn::Postgres(pc) => {
                use diesel_async::AsyncConnection as _;
                let pc: &mut diesel_async::AsyncPgConnection = &mut **pc;
                pc.transaction(async |c: &mut diesel_async::AsyncPgConnection| {
                    let $tx = &mut $crate::db::Conn::Postgres(c);
                    $body
                })
                .await
            }
        }
    };
}

impl Db {
    /// Opens a pool; SQLite creates the file (and its folder) on first use.
    pub async fn connect(url: &str, pool_size: u32) -> anyhow::Result<Self> {
        let timeout = health::CHECKOUT_TIMEOUT;
        let statements = StatementCounter::default();
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
                let pool = Pool::builder()
                    .max_size(pool_size)
                    .connection_timeout(timeout)
                    .error_sink(Box::new(failures))
                    .retry_connection(false)
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
                let pool = Pool::builder()
                    .max_size(pool_size)
                    .connection_timeout(timeout)
                    .error_sink(Box::new(failures))
                    .retry_connection(false)
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
        })
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

    pub fn backend(&self) -> Backend {
        match self.pool {
            DbPool::Sqlite(_) => Backend::Sqlite,
            DbPool::Postgres(_) => Backend::Postgres,
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

    /// Whether the database answered its last probe (for /readyz; never waits).
    pub fn is_available(&self) -> bool {
        !self.health.is_down()
    }
}

/// Sends `payload` on a PostgreSQL notification channel (every process LISTENing on the
/// database gets it); nothing on SQLite.
pub async fn notify(conn: &mut Conn<'_>, channel: &str, payload: &str) -> Result<(), AppError> {
    if let Conn::Postgres(c) = conn {
        use diesel_async::RunQueryDsl;
        fixed_sql::FixedSql(
            diesel::sql_query("SELECT pg_notify($1, $2)")
                .bind::<diesel::sql_types::Text, _>(channel)
                .bind::<diesel::sql_types::Text, _>(payload),
        )
        .execute(&mut **c)
        .await?;
    }
    Ok(())
}

/// Listens on a PostgreSQL channel on a dedicated connection and hands every payload to
/// `deliver`, for as long as the process runs. When the connection drops (a database
/// restart, a network cut) it reconnects with backoff and listens again; the consumers
/// never notice beyond the payloads sent while it was away.
pub fn spawn_listener(
    url: String,
    channel: &'static str,
    deliver: impl Fn(String) + Send + 'static,
) {
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

/// Applies pending migrations of the backend that `url` selects.
pub async fn run_migrations(url: &str) -> anyhow::Result<()> {
    let url = url.to_owned();
    // diesel's migration harness is synchronous; on SQLite it runs on a plain connection
    // in a blocking task, on PostgreSQL through diesel-async's harness. Its errors are
    // boxed without Send, so they become text here.
    match Backend::from_url(&url) {
        Backend::Sqlite => tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            use diesel::Connection;
            sqlite_memory::install();
            let path = sqlite_path(&url);
            if let Some(dir) = std::path::Path::new(path).parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            let mut conn = SqliteConnection::establish(path)
                .with_context(|| format!("opening the SQLite database {path}"))?;
            diesel::connection::SimpleConnection::batch_execute(&mut conn, SQLITE_PRAGMAS)
                .context("setting SQLite's pragmas")?;
            conn.run_pending_migrations(SQLITE_MIGRATIONS)
                .map_err(|e| anyhow::anyhow!("SQLite migrations: {e}"))?;
            Ok(())
        })
        .await
        .context("the migration task")?,
        Backend::Postgres => {
            let conn = AsyncPgConnection::establish(&url)
                .await
                .context("connecting to PostgreSQL for migrations")?;
            let mut harness = diesel_async::AsyncMigrationHarness::new(conn);
            harness
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map_err(|e| anyhow::anyhow!("PostgreSQL migrations: {e}"))?;
            Ok(())
        }
    }
}

/// Now, in UTC, at the precision both databases keep (microseconds).
pub fn now() -> NaiveDateTime {
    use chrono::{DurationRound, TimeDelta};
    let t = chrono::Utc::now().naive_utc();
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}

/// A timestamp as microseconds since the epoch: how cursors carry it.
pub fn time_to_micros(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_micros()
}

pub fn micros_to_time(micros: i64) -> Result<NaiveDateTime, AppError> {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.naive_utc())
        .ok_or_else(|| AppError::bad_input("malformed cursor"))
}

/// The kind of constraint a write violated, the same on both backends.
pub fn is_unique_violation(err: &diesel::result::Error) -> bool {
    matches!(
        err,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

pub fn is_check_violation(err: &diesel::result::Error) -> bool {
    matches!(
        err,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::CheckViolation, _)
    )
}
