//! One writer at a time for data whose invariants span many rows (the category tree:
//! no cycle, at most 8 levels), where a row lock has no single row to take.

use diesel::QueryResult;
use diesel_async::RunQueryDsl;

use super::{Conn, db_run};

/// What a [`lock`] serialises. The number is the PostgreSQL advisory-lock key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Writers {
    CategoryTree = 7_140_001,
}

/// Holds `writers` until the transaction ends. PostgreSQL: an advisory transaction lock
/// (concurrent holders wait; under READ COMMITTED each later statement then sees what
/// the previous holder committed). SQLite: nothing to do, its write transactions
/// (`BEGIN IMMEDIATE`) already exclude each other.
pub(crate) async fn lock(conn: &mut Conn<'_>, writers: Writers) -> QueryResult<()> {
    db_run!(conn,
        sqlite _c => Ok(()),
        postgres c => diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(writers as i64)
            .execute(c)
            .await
            .map(|_| ())
    )
}
