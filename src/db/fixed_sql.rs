//! Keeping hot UPDATEs, upserts and `pg_notify` prepared.
//!
//! diesel prepares a statement once per connection and reuses it, except where the SQL
//! text of a query type might vary from call to call: every UPDATE (a changeset may skip
//! `None` fields), every upsert, inserts that write DEFAULT for a `None`, and raw SQL.
//! Those are parsed and planned by PostgreSQL on every call, and diesel-async spends an
//! extra round trip preparing them. In a checkout that was six statements of twelve.
//!
//! [`FixedSql`] marks a statement whose text depends only on its shape, never on its
//! values, as safe to keep: diesel then caches it by its SQL text. Wrap nothing whose
//! text grows with its input (IN lists, multi-row inserts), or the cache grows with it.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::QueryResult;

#[derive(Debug, Clone, Copy)]
pub(crate) struct FixedSql<Q>(pub Q);

impl<Q, DB> QueryFragment<DB> for FixedSql<Q>
where
    DB: Backend,
    Q: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

/// No static id: the statement cache keys it by its SQL text (and bind types).
impl<Q> QueryId for FixedSql<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for FixedSql<Q> {
    type SqlType = Q::SqlType;
}
