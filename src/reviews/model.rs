//! A review row and its status.

use async_graphql::Enum;
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::reviews;

/// Most characters of a review's title and body.
pub(crate) const MAX_TITLE_CHARS: usize = 200;
pub(crate) const MAX_BODY_CHARS: usize = 5000;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, diesel::deserialize::FromSqlRow)]
pub(crate) enum ReviewStatus {
    Published,
    Hidden,
}

crate::db::db_text_enum!(ReviewStatus {
    Published => "PUBLISHED",
    Hidden => "HIDDEN",
});

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = reviews)]
pub(crate) struct ReviewRow {
    pub id: i64,
    pub product_id: i64,
    pub user_id: i64,
    pub rating: i32,
    pub title: String,
    pub body: String,
    pub status: ReviewStatus,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl ReviewRow {
    pub(crate) fn is_published(&self) -> bool {
        self.status == ReviewStatus::Published
    }
}

/// What a customer writes: checked by the service (rating 1..5, lengths, trimmed).
#[derive(Debug, Clone)]
pub(crate) struct ReviewContent {
    pub rating: i32,
    pub title: String,
    pub body: String,
}

/// Which reviews a list shows.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ReviewScope {
    /// One product's: published only, or every status (admins).
    Product { id: i64, with_hidden: bool },
    /// The whole shop's (admins), of one status or all.
    Shop { status: Option<ReviewStatus> },
}

/// "Ann L.": the first name, and the last name's first letter with a dot (none when
/// there is no last name). Never the email.
pub(crate) fn author_name(first_name: &str, last_name: &str) -> String {
    let first = first_name.trim();
    match last_name.trim().chars().next() {
        Some(initial) => format!("{first} {initial}."),
        None => first.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::author_name;

    #[test]
    fn author_names_show_an_initial() {
        assert_eq!(author_name("Ann", "Lee"), "Ann L.");
        assert_eq!(author_name("Émile", "Östlund"), "Émile Ö.");
        assert_eq!(author_name("Cher", ""), "Cher");
    }
}
