//! Relay cursor connections over keyset pagination (`db::keyset`): the paging
//! arguments checked, and cursors, which carry a row's position (its sort key as text and
//! its id) to the client and back. A list's resolver turns the key text into the typed
//! key its repo sorts by; a cursor that does not parse is `BAD_USER_INPUT`.

use async_graphql::connection::CursorType;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::db::keyset::{Direction, Page};
use crate::db::micros_to_time;
use crate::error::AppError;

pub(crate) const DEFAULT_PAGE_SIZE: usize = 20;
pub(crate) const MAX_PAGE_SIZE: usize = 100;

/// The complexity of a connection: its page size times its selection. A page size out of
/// range counts as one row, so that the resolver answers it with `BAD_USER_INPUT` instead
/// of the complexity limit refusing a rich selection first.
pub(crate) fn page_complexity(
    first: Option<i32>,
    last: Option<i32>,
    child_complexity: usize,
) -> usize {
    let in_range = |n: i32| usize::try_from(n).is_ok_and(|n| n <= MAX_PAGE_SIZE);
    if first.into_iter().chain(last).any(|n| !in_range(n)) {
        return child_complexity;
    }
    let rows = first.or(last).map_or(DEFAULT_PAGE_SIZE, |n| n as usize);
    rows * child_complexity
}

/// A position in an ordered list: the sort key of a row (as text) and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub id: i64,
    pub key: String,
}

impl Cursor {
    pub(crate) fn new(id: i64, key: impl ToString) -> Self {
        Cursor {
            id,
            key: key.to_string(),
        }
    }
}

/// The key text of a cursor made for a numeric sort.
pub(crate) fn numeric_key(key: String) -> Result<i64, AppError> {
    key.parse().map_err(|_| MalformedCursor.into())
}

/// The key text of a cursor made for a sort by time (microseconds since the epoch).
pub(crate) fn time_key(key: String) -> Result<chrono::NaiveDateTime, AppError> {
    micros_to_time(numeric_key(key)?).ok_or_else(|| MalformedCursor.into())
}

/// A cursor that this server did not write.
#[derive(Debug)]
pub(crate) struct MalformedCursor;

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
        let mut id = itoa::Buffer::new();
        let id = id.format(self.id);
        let mut text = String::with_capacity(id.len() + 1 + self.key.len());
        text.push_str(id);
        text.push(':');
        text.push_str(&self.key);
        URL_SAFE_NO_PAD.encode(text)
    }
}

/// Checks Relay's paging arguments: a page of `first` rows after `after`, or of `last`
/// rows before `before`, its position's key still text.
pub(crate) fn page_of(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> Result<Page<String>, AppError> {
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
    // Both cursors are checked, also the one a page does not use: a malformed cursor
    // is the client's mistake whichever it is.
    let position = |cursor: Option<String>| -> Result<Option<(String, i64)>, AppError> {
        Ok(cursor
            .as_deref()
            .map(Cursor::decode_cursor)
            .transpose()?
            .map(|c| (c.key, c.id)))
    };
    let (after, before) = (position(after)?, position(before)?);
    // (Relay lets a client pass both `after` and `before`; the opposite bound is not
    // applied.)
    match (first, last) {
        (Some(_), Some(_)) => Err(AppError::bad_input(
            "pass either `first` or `last`, not both",
        )),
        (None, Some(n)) => Ok(Page {
            direction: Direction::Backward,
            limit: size(n, "last")?,
            after: before,
        }),
        (first, None) if first.is_some() || before.is_none() || after.is_some() => Ok(Page {
            direction: Direction::Forward,
            limit: first
                .map(|n| size(n, "first"))
                .transpose()?
                .unwrap_or(DEFAULT_PAGE_SIZE),
            after,
        }),
        // Only `before`: the page just before it.
        (_, None) => Ok(Page {
            direction: Direction::Backward,
            limit: DEFAULT_PAGE_SIZE,
            after: before,
        }),
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
        assert!(page_of(Some(101), None, None, None).is_err());
        assert!(page_of(Some(-1), None, None, None).is_err());
        assert!(page_of(Some(1), None, Some(1), None).is_err());
        assert_eq!(page_of(None, None, None, None).unwrap().limit, 20);
        let after = Cursor::new(7, "k").encode_cursor();
        let page = page_of(Some(2), Some(after), None, None).unwrap();
        assert_eq!(page.after, Some(("k".to_owned(), 7)));
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
