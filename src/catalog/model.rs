//! Rows of the products table and what lists of them are filtered and sorted by.

use async_graphql::Enum;
use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::variants::model::SelectedOption;
use crate::db::keyset::{Page, PageOf};
use crate::db::schema::products;

#[derive(Queryable, QueryableByName, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = products)]
pub(crate) struct ProductRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub price_cents: i64,
    pub stock: i32,
    pub image_path: Option<String>,
    pub is_archived: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The published reviews' count and rating sum (the `reviews` room keeps them).
    pub review_count: i32,
    pub rating_sum: i64,
}

#[derive(Insertable)]
#[diesel(table_name = products)]
pub(crate) struct NewProduct<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub search_text: String,
    pub price_cents: i64,
    pub stock: i32,
    pub is_archived: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl ProductRow {
    pub(crate) fn rating(&self) -> Rating {
        Rating {
            sum: self.rating_sum,
            count: self.review_count,
        }
    }
}

/// A product's published ratings in aggregate: their sum and count, exact integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Rating {
    pub sum: i64,
    pub count: i32,
}

impl Rating {
    /// The aggregate with one published rating more (`sign` 1) or less (-1).
    pub(crate) fn with(self, rating: i32, sign: i32) -> Rating {
        Rating {
            sum: self.sum + i64::from(sign * rating),
            count: self.count + sign,
        }
    }

    /// The mean the RATING sort orders by (stored as `products.rating_mean`, and
    /// carried by cursors); `None` without ratings. A quotient of two integers rounded
    /// once to the nearest double: equal means give the same double, and two different
    /// means (their difference at least 1 / (count₁·count₂)) give different ones for any
    /// count a shop sees, so the order is that of the exact means.
    pub(crate) fn mean(self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / f64::from(self.count))
    }

    /// `averageRating`: the mean rounded half up to one decimal, in integer arithmetic
    /// (tenths = ⌊(20·sum + count) / (2·count)⌋), so 4.25 is 4.3 and never 4.2.
    pub(crate) fn rounded(self) -> Option<f64> {
        (self.count > 0).then(|| {
            let count = i64::from(self.count);
            let tenths = (20 * self.sum + count) / (2 * count);
            tenths as f64 / 10.0
        })
    }
}

/// What `search` matches against: name and description, lower-cased (full Unicode).
pub(crate) fn search_text(name: &str, description: &str) -> String {
    format!("{name} {description}").to_lowercase()
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub(crate) enum ProductSortField {
    #[default]
    CreatedAt,
    Name,
    Price,
    /// By average rating; products without reviews come last in both directions.
    Rating,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum SortDirection {
    Asc,
    Desc,
}

/// A validated `products(filter:)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct ProductListFilter {
    /// Lower-cased words, each of which must occur.
    pub words: Vec<String>,
    pub min_price_cents: Option<i64>,
    pub max_price_cents: Option<i64>,
    pub in_stock: Option<bool>,
    pub include_archived: bool,
    /// Only products in this category's subtree (0, an id no category has, for an id
    /// of another kind: nothing matches).
    pub category_id: Option<i64>,
    /// Only products with an active variant that has all these values (each name once).
    pub options: Vec<SelectedOption>,
}

impl ProductListFilter {
    /// Whether a product matches only through one of its variants: then stock is
    /// looked at per variant (the variant must also be in stock), not per product.
    pub(crate) fn matches_per_variant(&self) -> bool {
        !self.options.is_empty()
    }
}

/// A page of products in one sort, with its position's key of that sort's type (a
/// timestamp, a name, cents).
#[derive(Debug, Clone)]
pub(crate) enum ProductPage {
    CreatedAt(Page<NaiveDateTime>, SortDirection),
    Name(Page<String>, SortDirection),
    Price(Page<i64>, SortDirection),
    /// The key is the mean rating, `None` in the section of unrated products.
    Rating(Page<Option<f64>>, SortDirection),
}

impl ProductPage {
    /// The rows fetched for this page, cut to the page and in list order.
    pub(crate) fn fetched(&self, rows: Vec<ProductRow>) -> PageOf<ProductRow> {
        match self {
            ProductPage::CreatedAt(page, _) => PageOf::from_fetched(page, rows),
            ProductPage::Name(page, _) => PageOf::from_fetched(page, rows),
            ProductPage::Price(page, _) => PageOf::from_fetched(page, rows),
            ProductPage::Rating(page, _) => PageOf::from_fetched(page, rows),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct ProductOrder {
    pub field: ProductSortField,
    pub direction: SortDirection,
}

impl Default for ProductOrder {
    /// Newest first.
    fn default() -> Self {
        ProductOrder {
            field: ProductSortField::CreatedAt,
            direction: SortDirection::Desc,
        }
    }
}
