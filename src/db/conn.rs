//! A connection of either backend, and [`db_run!`], the one place where query code is
//! expanded once per backend.

use diesel::SqliteConnection;
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::bb8::PooledConnection;
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;

/// SQLite behind diesel-async's wrapper, which runs each statement on tokio's blocking
/// pool.
pub type SqliteConn = SyncConnectionWrapper<SqliteConnection>;

/// A borrowed connection of either backend: what every repo function takes, both on a
/// pooled connection and inside a transaction. Query code never matches on it: it uses
/// [`db_run!`](crate::db_run), so the backends are named only in this module.
pub(crate) enum Conn<'a> {
    #[doc(hidden)]
    Sqlite(&'a mut SqliteConn),
    #[doc(hidden)]
    Postgres(&'a mut AsyncPgConnection),
}

/// A connection checked out of the pool, back in it when dropped. Queries go through
/// [`Db::run`](super::Db::run) and [`Db::transaction`](super::Db::transaction); holding
/// one is for tests of a full pool.
#[expect(
    clippy::large_enum_variant,
    reason = "one per request, created once and never moved in a hot loop; boxing would add an allocation"
)]
pub enum PooledConn {
    Sqlite(PooledConnection<'static, SqliteConn>),
    Postgres(PooledConnection<'static, AsyncPgConnection>),
}

impl PooledConn {
    pub(super) fn conn(&mut self) -> Conn<'_> {
        match self {
            PooledConn::Sqlite(c) => Conn::Sqlite(c),
            PooledConn::Postgres(c) => Conn::Postgres(c),
        }
    }
}

/// A closure over a borrowed connection whose future can be required to be `Send`, for
/// the requests that run it on a multi-threaded runtime. Async closures have no nameable
/// future type of their own, so this trait gives it a name (`Fut`); every
/// `async |conn| …` closure implements it. (Bounds that use it also name
/// `AsyncFnOnce(&mut Conn) -> R` directly: that is what lets the compiler infer a
/// closure's argument type.)
/// `T` is the argument, `&mut Conn`: generic so that its lifetimes stay the caller's.
pub(crate) trait ConnFn<T, R>:
    AsyncFnOnce(T) -> R + FnOnce(T) -> <Self as ConnFn<T, R>>::Fut
{
    type Fut: Future<Output = R>;
}

impl<T, F, Fut, R> ConnFn<T, R> for F
where
    F: AsyncFnOnce(T) -> R + FnOnce(T) -> Fut,
    Fut: Future<Output = R>,
{
    type Fut = Fut;
}

/// Expands a query once per backend, with a name bound to the concrete connection.
///
/// `db_run!(conn, c => body)` is one body for both backends, type-checked against each;
/// `db_run!(conn, sqlite c => body, postgres c => body)` gives each backend its own, for
/// the rare query whose SQL really differs. It is a `match`, not a closure: a `?` in a
/// body returns from the enclosing function.
macro_rules! db_run {
    ($conn:expr, $c:ident => $body:expr) => {
        $crate::db::db_run!($conn, sqlite $c => $body, postgres $c => $body)
    };
    ($conn:expr, sqlite $s:ident => $sqlite:expr, postgres $p:ident => $postgres:expr $(,)?) => {
        match $conn {
            $crate::db::Conn::Sqlite($s) => {
                let $s: &mut $crate::db::SqliteConn = &mut **$s;
                $sqlite
            }
            $crate::db::Conn::Postgres($p) => {
                let $p: &mut diesel_async::AsyncPgConnection = &mut **$p;
                $postgres
            }
        }
    };
}
pub(crate) use db_run;
