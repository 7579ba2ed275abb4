//! Keyset pagination: a page is the rows strictly after a position `(sort key, id)` in
//! a list's order, so every page is one range scan of a `(key, id)` index, page 500
//! costs what page 1 costs, and rows inserted meanwhile never shift a page. Cursors (how
//! clients carry a position) are the GraphQL layer's; this module sees typed keys.

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
        // The first bound (column >= key) is redundant but sargable: without it
        // PostgreSQL cannot turn the OR into an index range and filters every row
        // before the cursor, so deep pages got slower than the first.
        let query = match $after {
            Some((key, id)) if $ascending => $query
                .filter($column.ge(key))
                .filter($column.gt(key).or($column.eq(key).and($id.gt(id)))),
            Some((key, id)) => $query
                .filter($column.le(key))
                .filter($column.lt(key).or($column.eq(key).and($id.lt(id)))),
            None => $query,
        };
        if $ascending {
            query.order(($column.asc(), $id.asc()))
        } else {
            query.order(($column.desc(), $id.desc()))
        }
    }};
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
