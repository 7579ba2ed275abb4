//! Queries of the wishlist_items table.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::WishlistItemRow;
use crate::db::schema::wishlist_items;
use crate::db::{Conn, db_run};

/// A customer's wishlist, newest first.
pub(crate) async fn items(conn: &mut Conn<'_>, user_id: i64) -> QueryResult<Vec<WishlistItemRow>> {
    db_run!(conn, c => wishlist_items::table
        .filter(wishlist_items::user_id.eq(user_id))
        .order((wishlist_items::created_at.desc(), wishlist_items::id.desc()))
        .select(WishlistItemRow::as_select())
        .load(c)
        .await)
}

pub(crate) async fn find_own(
    conn: &mut Conn<'_>,
    user_id: i64,
    id: i64,
) -> QueryResult<Option<WishlistItemRow>> {
    db_run!(conn, c => wishlist_items::table
        .filter(wishlist_items::id.eq(id))
        .filter(wishlist_items::user_id.eq(user_id))
        .select(WishlistItemRow::as_select())
        .first(c)
        .await
        .optional())
}

pub(crate) async fn holds(conn: &mut Conn<'_>, user_id: i64, product_id: i64) -> QueryResult<bool> {
    Ok(!wishlisted(conn, user_id, &[product_id]).await?.is_empty())
}

/// Which of these products are on the customer's wishlist.
pub(crate) async fn wishlisted(
    conn: &mut Conn<'_>,
    user_id: i64,
    product_ids: &[i64],
) -> QueryResult<Vec<i64>> {
    db_run!(conn, c => wishlist_items::table
        .filter(wishlist_items::user_id.eq(user_id))
        .filter(wishlist_items::product_id.eq_any(product_ids))
        .select(wishlist_items::product_id)
        .load(c)
        .await)
}

pub(crate) async fn count(conn: &mut Conn<'_>, user_id: i64) -> QueryResult<i64> {
    db_run!(conn, c => wishlist_items::table
        .filter(wishlist_items::user_id.eq(user_id))
        .count()
        .get_result(c)
        .await)
}

pub(crate) async fn insert(
    conn: &mut Conn<'_>,
    user_id: i64,
    product_id: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    db_run!(conn, c => diesel::insert_into(wishlist_items::table)
        .values((
            wishlist_items::user_id.eq(user_id),
            wishlist_items::product_id.eq(product_id),
            wishlist_items::created_at.eq(now),
        ))
        .execute(c)
        .await)
}

pub(crate) async fn delete(
    conn: &mut Conn<'_>,
    user_id: i64,
    product_id: i64,
) -> QueryResult<usize> {
    db_run!(conn, c => diesel::delete(
        wishlist_items::table
            .filter(wishlist_items::user_id.eq(user_id))
            .filter(wishlist_items::product_id.eq(product_id))
    )
    .execute(c)
    .await)
}
