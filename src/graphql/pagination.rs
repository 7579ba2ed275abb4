//! Relay cursor connections over keyset pagination.
//!
//! A cursor carries the sort key and the row id, so every page is one indexed range
//! scan: page 500 costs what page 1 costs, and rows inserted meanwhile never shift a page.

use async_graphql::connection::CursorType;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::AppError;

pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;

/// The complexity of a connection: its page size times its selection. A page size out of
/// range counts as one row, so that the resolver answers it with `BAD_USER_INPUT` instead
/// of the complexity limit refusing a rich selection first.
pub fn page_complexity(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let in_range = |n: i32| usize::try_from(n).is_ok_and(|n| n <= MAX_PAGE_SIZE);
    if first.into_iter().chain(last).any(|n| !in_range(n)) {
        return child_complexity;
    }
    let rows = first.or(last).map_or(DEFAULT_PAGE_SIZE, |n| n as usize);
    rows * child_complexity
}

/// A position in an ordered list: the sort key of a row (as text) and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub id: i64,
    pub key: String,
}

impl Cursor {
    pub fn new(id: i64, key: impl ToString) -> Self {
        Cursor {
            id,
            key: key.to_string(),
        }
    }

    /// The key as a number, for numeric sorts; a cursor of another sort is malformed.
    pub fn key_i64(&self) -> Result<i64, AppError> {
        self.key
            .parse()
            .map_err(|_| AppError::bad_input("malformed cursor"))
    }
}

/// A cursor that this server did not write.
#[derive(Debug)]
pub struct MalformedCursor;

impl std::fmt::Display for MalformedCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("malformed cursor")
    }
}

impl From<MalformedCursor> for AppError {
    fn from(_: MalformedCursor) -> Self {
        AppError::bad_input("malformed cursor")
    }
}

impl CursorType for Cursor {
    type Error = MalformedCursor;

    fn decode_cursor(s: &str) -> Result<Self, MalformedCursor> {
        let malformed = || MalformedCursor;
        if s.len() > 1024 {
            return Err(malformed());
        }
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| malformed())?;
        let text = String::from_utf8(bytes).map_err(|_| malformed())?;
        let (id, key) = text.split_once(':').ok_or_else(malformed)?;
        Ok(Cursor {
            id: id.parse().map_err(|_| malformed())?,
            key: key.to_owned(),
        })
    }

    fn encode_cursor(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.id, self.key))
    }
}

/// Which way a page is read, and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Direction {
    /// `first`/`after`: rows after the cursor, in the list's order.
    Forward,
    /// `last`/`before`: rows before the cursor; fetched in reverse, then flipped back.
    Backward,
}

/// Validated paging arguments.
#[derive(Debug, Clone)]
pub struct Page {
    pub direction: Direction,
    pub limit: usize,
    /// `after` when reading forward, `before` when reading backward. (Relay lets a
    /// client pass both; the opposite bound is not applied.)
    pub cursor: Option<Cursor>,
}

impl Page {
    pub fn from_args(
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Self, AppError> {
        let size = |n: i32, name: &str| -> Result<usize, AppError> {
            if n < 0 {
                return Err(AppError::bad_input(format!(
                    "`{name}` must not be negative"
                )));
            }
            let n = n as usize;
            if n > MAX_PAGE_SIZE {
                return Err(AppError::bad_input(format!(
                    "`{name}` must be at most {MAX_PAGE_SIZE}"
                )));
            }
            Ok(n)
        };
        let after = after.as_deref().map(Cursor::decode_cursor).transpose()?;
        let before = before.as_deref().map(Cursor::decode_cursor).transpose()?;
        match (first, last) {
            (Some(_), Some(_)) => Err(AppError::bad_input(
                "pass either `first` or `last`, not both",
            )),
            (None, Some(n)) => Ok(Page {
                direction: Direction::Backward,
                limit: size(n, "last")?,
                cursor: before,
            }),
            (first, None) if first.is_some() || before.is_none() || after.is_some() => Ok(Page {
                direction: Direction::Forward,
                limit: first
                    .map(|n| size(n, "first"))
                    .transpose()?
                    .unwrap_or(DEFAULT_PAGE_SIZE),
                cursor: after,
            }),
            // Only `before`: the page just before it.
            (_, None) => Ok(Page {
                direction: Direction::Backward,
                limit: DEFAULT_PAGE_SIZE,
                cursor: before,
            }),
        }
    }

    /// Rows to fetch: one more than the page, to learn whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        self.limit as i64 + 1
    }
}

/// Keyset paging of a boxed diesel query ordered by `($column, $id)`: keeps the rows
/// strictly after `$cursor` (an `Option<(key, id)>`) in that order, ascending or not, and
/// orders them so. One range scan of a `(column, id)` index, whatever the page's depth.
#[macro_export]
macro_rules! keyset_page {
    ($query:expr, $column:expr, $id:expr, $cursor:expr, $ascending:expr) => {{
        // The first bound (column >= key) is redundant but sargable: without it
        // PostgreSQL cannot turn the OR into an index range and filters every row
        // before the cursor, so deep pages got slower than the first.
        let query = match $cursor {
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
pub struct PageOf<T> {
    pub rows: Vec<T>,
    pub has_previous_page: bool,
    pub has_next_page: bool,
}

impl<T> PageOf<T> {
    /// Cuts the extra row fetched by [`Page::fetch_limit`] and restores list order.
    pub fn from_fetched(page: &Page, mut rows: Vec<T>) -> Self {
        let more = rows.len() > page.limit;
        rows.truncate(page.limit);
        match page.direction {
            Direction::Forward => PageOf {
                rows,
                has_previous_page: page.cursor.is_some(),
                has_next_page: more,
            },
            Direction::Backward => {
                rows.reverse();
                PageOf {
                    rows,
                    has_previous_page: more,
                    has_next_page: page.cursor.is_some(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let c = Cursor::new(7, "a:b");
        assert_eq!(Cursor::decode_cursor(&c.encode_cursor()).unwrap(), c);
        assert!(Cursor::decode_cursor("%%%").is_err());
    }

    #[test]
    fn page_arguments_are_checked() {
        assert!(Page::from_args(Some(101), None, None, None).is_err());
        assert!(Page::from_args(Some(-1), None, None, None).is_err());
        assert!(Page::from_args(Some(1), None, Some(1), None).is_err());
        assert_eq!(Page::from_args(None, None, None, None).unwrap().limit, 20);
    }

    proptest::proptest! {
        #[test]
        fn decoding_arbitrary_cursors_never_panics(text in "\\PC{0,2000}") {
            let _ = Cursor::decode_cursor(&text);
        }

        #[test]
        fn cursors_round_trip_any_key(id in proptest::num::i64::ANY, key in "\\PC{0,100}") {
            let cursor = Cursor::new(id, &key);
            proptest::prop_assert_eq!(Cursor::decode_cursor(&cursor.encode_cursor()).unwrap(), cursor);
        }
    }
}
