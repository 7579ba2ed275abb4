//! Rows of the categories table, and the name and slug rules.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::categories;

/// The deepest a category may be, a root being level 1.
pub(crate) const MAX_LEVELS: i64 = 8;
pub(crate) const MAX_CATEGORIES_PER_PRODUCT: usize = 20;
pub(crate) const MAX_NAME_CHARS: usize = 100;
pub(crate) const MAX_DESCRIPTION_CHARS: usize = 2_000;
pub(crate) const MAX_SLUG_CHARS: usize = 64;

#[derive(Queryable, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = categories)]
pub(crate) struct CategoryRow {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub position: i32,
    pub parent_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = categories)]
pub(crate) struct NewCategory<'a> {
    pub name: &'a str,
    pub slug: &'a str,
    pub description: &'a str,
    pub position: i32,
    pub parent_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The slug derived from a name: ASCII letters and digits lower-cased, every other run
/// of characters one hyphen, no hyphen at either end, at most 64 characters;
/// `category` when nothing is left.
pub(crate) fn slug_from_name(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    let mut gap = false;
    for ch in name.chars() {
        if ch.is_ascii_alphanumeric() {
            if gap && !slug.is_empty() {
                slug.push('-');
            }
            gap = false;
            slug.push(ch.to_ascii_lowercase());
        } else {
            gap = true;
        }
    }
    slug.truncate(MAX_SLUG_CHARS);
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "category".to_owned()
    } else {
        slug.to_owned()
    }
}

/// `slug` with `-n` appended, cut so that the whole stays within 64 characters.
pub(crate) fn numbered_slug(slug: &str, n: u32) -> String {
    let suffix = format!("-{n}");
    let mut base = slug[..slug.len().min(MAX_SLUG_CHARS - suffix.len())].to_owned();
    while base.ends_with('-') {
        base.pop();
    }
    format!("{base}{suffix}")
}

/// 1 to 64 of a-z and 0-9 with single hyphens between them.
pub(crate) fn is_valid_slug(slug: &str) -> bool {
    (1..=MAX_SLUG_CHARS).contains(&slug.len())
        && slug.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_come_from_names() {
        assert_eq!(slug_from_name("Men's T-Shirts!"), "men-s-t-shirts");
        assert_eq!(slug_from_name("  Café  Crème "), "caf-cr-me");
        assert_eq!(slug_from_name("!!!"), "category");
        assert_eq!(slug_from_name(&"a".repeat(80)).len(), 64);
        assert_eq!(
            slug_from_name(&format!("{}-b", "a".repeat(63))),
            "a".repeat(63)
        );
        assert_eq!(
            numbered_slug(&"a".repeat(64), 2),
            format!("{}-2", "a".repeat(62))
        );
    }

    #[test]
    fn slugs_are_checked() {
        assert!(is_valid_slug("t-shirts-2"));
        for bad in ["", "-a", "a-", "a--b", "A", "a_b", &"a".repeat(65)] {
            assert!(!is_valid_slug(bad), "{bad:?}");
        }
    }
}
