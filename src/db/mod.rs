//! The database, and the only module that knows there are two backends.
//!
//! diesel-async has no async `MultiConnection` (0.9; upstream's groundwork, diesel#5099
//! and diesel_async#295, is not released), so a connection is an enum over the two
//! backends and [`db_run!`] expands one body once per backend. The query code above this
//! module is written once and type-checked against both.
//!
//! Who may use what: repos (`*/repo.rs`) take a [`Conn`] and return `QueryResult`;
//! feature handles hold a [`Db`] and call repos through [`Db::run`] and
//! [`Db::transaction`]. Nothing here knows GraphQL.

mod backend;
mod conn;
pub(crate) mod fixed_sql;
pub(crate) mod health;
pub(crate) mod keyset;
mod migrate;
pub(crate) mod money;
pub(crate) mod notify;
mod pool;
pub(crate) mod schema;
pub mod sqlite_memory;
pub(crate) mod text_enum;
pub(crate) mod writer_lock;

pub(crate) use conn::{Conn, db_run};
pub use conn::{PooledConn, SqliteConn};
pub(crate) use keyset::keyset_page;
pub use migrate::run_migrations;
pub use pool::Db;
pub(crate) use text_enum::db_text_enum;

use chrono::NaiveDateTime;

diesel::define_sql_function! {
    /// SQL `lower()`, the same on both backends (SQLite folds ASCII only).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// A `LIKE` pattern that finds `needle` anywhere, with `%`, `_` and `\` taken literally
/// (queries use `ESCAPE '\'`).
pub(crate) fn contains_pattern(needle: &str) -> String {
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

/// Now, in UTC, at the precision both databases keep (microseconds).
pub(crate) fn now() -> NaiveDateTime {
    use chrono::{DurationRound, TimeDelta};
    let t = chrono::Utc::now().naive_utc();
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}

/// A timestamp as microseconds since the epoch: how cursors carry it.
pub(crate) fn time_to_micros(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_micros()
}

/// The timestamp of [`time_to_micros`]; `None` out of chrono's range.
pub(crate) fn micros_to_time(micros: i64) -> Option<NaiveDateTime> {
    chrono::DateTime::from_timestamp_micros(micros).map(|t| t.naive_utc())
}

/// The kind of constraint a write violated, the same on both backends.
pub(crate) fn is_unique_violation(err: &diesel::result::Error) -> bool {
    matches!(
        err,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}
