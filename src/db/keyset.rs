//! Keyset pagination: a page is the rows strictly after a position `(sort key, id)` in
//! a list's order, so every page is one range scan of a `(key, id)` index, page 500
//! costs what page 1 costs, and rows inserted meanwhile never shift a page. Cursors (how
//! clients carry a position) are the GraphQL layer's; this module sees typed keys.

use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::dsl::AsExprOf;
use diesel::expression::{
    AppearsOnTable, AsExpression, Expression, MixedAggregates, SelectableExpression, ValidGrouping,
};
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Bool, SqlType};

/// Which way a page is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// `first`/`after`: rows after the position, in the list's order.
    Forward,
    /// `last`/`before`: rows before the position; fetched in reverse, then flipped back.
    Backward,
}

/// A page to read: its direction, its size, and where it starts (`None`: at an end of
/// the list), as the sort key `K` and the id of the row it starts after.
#[derive(Debug, Clone)]
pub(crate) struct Page<K> {
    pub direction: Direction,
    pub limit: usize,
    pub after: Option<(K, i64)>,
}

impl<K> Page<K> {
    /// Rows to fetch: one more than the page, to learn whether another page follows.
    pub(crate) fn fetch_limit(&self) -> i64 {
        self.limit as i64 + 1
    }

    /// The same page with its position's key converted (a cursor's text to a typed key).
    pub(crate) fn try_map_key<L, E>(self, f: impl FnOnce(K) -> Result<L, E>) -> Result<Page<L>, E> {
        Ok(Page {
            direction: self.direction,
            limit: self.limit,
            after: match self.after {
                Some((key, id)) => Some((f(key)?, id)),
                None => None,
            },
        })
    }

    /// Whether rows read in `list_ascending` order come out ascending for this page.
    pub(crate) fn reads_ascending(&self, list_ascending: bool) -> bool {
        list_ascending == (self.direction == Direction::Forward)
    }
}

/// Keyset paging of a boxed diesel query ordered by `($column, $id)`: keeps the rows
/// strictly after `$after` (an `Option<(key, id)>`) in that order, ascending or not, and
/// orders them so.
macro_rules! keyset_page {
    ($query:expr, $column:expr, $id:expr, $after:expr, $ascending:expr) => {{
        let query = match $after {
            Some((key, id)) => $query.filter($crate::db::keyset::past_position(
                $column, $id, key, id, $ascending,
            )),
            None => $query,
        };
        if $ascending {
            query.order(($column.asc(), $id.asc()))
        } else {
            query.order(($column.desc(), $id.desc()))
        }
    }};
}

/// `(column, id) > (key, id)`, or `<` when reading descending: the rows past a position.
///
/// Written as one row comparison rather than `column > key OR (column = key AND id > id)`
/// because both databases take it as a single range of the `(column, id)` index, and
/// PostgreSQL can then plan the statement once: with the OR form its generic plan looked
/// dearer than a fresh one, so it re-planned the catalog page on every execution.
pub(crate) fn past_position<C, I, K, V>(
    column: C,
    id: I,
    key: K,
    id_value: V,
    ascending: bool,
) -> PastPosition<C, I, BoundTo<K, C>, BoundTo<V, I>>
where
    C: Expression,
    I: Expression,
    C::SqlType: SqlType,
    I::SqlType: SqlType,
    K: AsExpression<C::SqlType>,
    V: AsExpression<I::SqlType>,
{
    PastPosition {
        column,
        id,
        key: key.as_expression(),
        id_value: id_value.as_expression(),
        ascending,
    }
}

/// A value bound as a parameter of the SQL type of column `C`.
type BoundTo<T, C> = AsExprOf<T, <C as Expression>::SqlType>;

/// See [`past_position`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct PastPosition<C, I, K, V> {
    column: C,
    id: I,
    key: K,
    id_value: V,
    ascending: bool,
}

impl<C, I, K, V> Expression for PastPosition<C, I, K, V> {
    type SqlType = Bool;
}

impl<C, I, K, V, QS> AppearsOnTable<QS> for PastPosition<C, I, K, V>
where
    C: AppearsOnTable<QS>,
    I: AppearsOnTable<QS>,
    K: AppearsOnTable<QS>,
    V: AppearsOnTable<QS>,
{
}

impl<C, I, K, V, QS> SelectableExpression<QS> for PastPosition<C, I, K, V>
where
    C: SelectableExpression<QS>,
    I: SelectableExpression<QS>,
    K: SelectableExpression<QS>,
    V: SelectableExpression<QS>,
{
}

impl<C, I, K, V, GB> ValidGrouping<GB> for PastPosition<C, I, K, V>
where
    C: ValidGrouping<GB>,
    I: ValidGrouping<GB>,
    C::IsAggregate: MixedAggregates<I::IsAggregate>,
{
    type IsAggregate = <C::IsAggregate as MixedAggregates<I::IsAggregate>>::Output;
}

// The direction is a value, not a type: statements are told apart by their SQL text.
impl<C, I, K, V> QueryId for PastPosition<C, I, K, V> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<C, I, K, V, DB> QueryFragment<DB> for PastPosition<C, I, K, V>
where
    DB: Backend,
    C: QueryFragment<DB>,
    I: QueryFragment<DB>,
    K: QueryFragment<DB>,
    V: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("((");
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(", ");
        self.id.walk_ast(out.reborrow())?;
        out.push_sql(if self.ascending { ") > (" } else { ") < (" });
        self.key.walk_ast(out.reborrow())?;
        out.push_sql(", ");
        self.id_value.walk_ast(out.reborrow())?;
        out.push_sql("))");
        Ok(())
    }
}

/// `query LIMIT n`, `n` at least `limit` and written into the SQL text rather than bound.
///
/// PostgreSQL plans a prepared statement once only when that generic plan looks no
/// dearer than planning afresh; with the limit as a parameter its generic estimate
/// assumes a tenth of the table, so every keyset page was planned on every execution.
/// But every distinct text is one more prepared statement on each connection, so the
/// limit is rounded up to one of [`LIMIT_SIZES`]: a client that asks for every page size
/// from 1 to 100 makes four statements per list, not a hundred. The few extra rows are
/// cut by [`PageOf::from_fetched`], which every caller reads its rows through.
pub(crate) fn limited<Q>(query: Q, limit: i64) -> Limited<Q> {
    let limit = LIMIT_SIZES
        .into_iter()
        .find(|&size| size >= limit)
        .unwrap_or(limit);
    Limited { query, limit }
}

/// The limits keyset statements are written with: the usual page sizes (10, 20, 50,
/// 100) and the one row more that tells whether another page follows.
const LIMIT_SIZES: [i64; 4] = [11, 21, 51, 101];

/// See [`limited`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limited<Q> {
    query: Q,
    limit: i64,
}

impl<Q: Query> Query for Limited<Q> {
    type SqlType = Q::SqlType;
}

impl<Q> QueryId for Limited<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, DB> QueryFragment<DB> for Limited<Q>
where
    DB: Backend,
    Q: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_sql(" LIMIT ");
        out.push_sql(&self.limit.to_string());
        Ok(())
    }
}

/// A page of rows, in list order, with the Relay page flags.
pub(crate) struct PageOf<T> {
    pub rows: Vec<T>,
    pub has_previous_page: bool,
    pub has_next_page: bool,
}

impl<T> PageOf<T> {
    /// Cuts the extra row fetched by [`Page::fetch_limit`] and restores list order.
    pub(crate) fn from_fetched<K>(page: &Page<K>, mut rows: Vec<T>) -> Self {
        let more = rows.len() > page.limit;
        rows.truncate(page.limit);
        match page.direction {
            Direction::Forward => PageOf {
                rows,
                has_previous_page: page.after.is_some(),
                has_next_page: more,
            },
            Direction::Backward => {
                rows.reverse();
                PageOf {
                    rows,
                    has_previous_page: more,
                    has_next_page: page.after.is_some(),
                }
            }
        }
    }
}
pub(crate) use keyset_page;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_rounded_up_to_a_few_sizes() {
        let written = |n| limited((), n).limit;
        assert_eq!(
            [1, 11, 12, 21, 22, 51, 101, 150].map(written),
            [11, 11, 21, 21, 51, 51, 101, 150]
        );
    }

    #[test]
    fn extra_rows_are_cut_and_still_tell_of_a_next_page() {
        let page = |direction| Page::<()> {
            direction,
            limit: 2,
            after: None,
        };
        let forward = PageOf::from_fetched(&page(Direction::Forward), vec![1, 2, 3, 4, 5]);
        assert_eq!((forward.rows, forward.has_next_page), (vec![1, 2], true));
        let backward = PageOf::from_fetched(&page(Direction::Backward), vec![5, 4, 3, 2]);
        assert_eq!(
            (backward.rows, backward.has_previous_page),
            (vec![4, 5], true)
        );
    }
}
