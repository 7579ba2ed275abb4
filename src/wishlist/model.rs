//! A wishlist line.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::wishlist_items;

/// Most products one wishlist holds.
pub(crate) const MAX_WISHLIST_ITEMS: i64 = 200;

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = wishlist_items)]
pub(crate) struct WishlistItemRow {
    pub id: i64,
    pub product_id: i64,
    pub created_at: NaiveDateTime,
}
