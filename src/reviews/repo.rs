//! Queries of the reviews table, and whether a customer received a product.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::{ReviewContent, ReviewRow, ReviewScope, ReviewStatus};
use crate::db::keyset::{self, Page, keyset_page};
use crate::db::schema::{order_items, orders, reviews};
use crate::db::{Conn, db_run};
use crate::orders::model::OrderStatus;

/// A boxed query of the reviews in `scope`, selecting `$select`.
macro_rules! in_scope {
    ($scope:expr, $select:expr) => {{
        let mut query = reviews::table.select($select).into_boxed();
        match $scope {
            ReviewScope::Product { id, with_hidden } => {
                query = query.filter(reviews::product_id.eq(id));
                if !with_hidden {
                    query = query.filter(reviews::status.eq(ReviewStatus::Published.as_str()));
                }
            }
            ReviewScope::Shop { status } => {
                if let Some(status) = status {
                    query = query.filter(reviews::status.eq(status.as_str()));
                }
            }
        }
        query
    }};
}

/// A page of the reviews in `scope`, newest first (the page's key: `created_at`).
pub(crate) async fn list(
    conn: &mut Conn<'_>,
    scope: ReviewScope,
    page: &Page<NaiveDateTime>,
) -> QueryResult<Vec<ReviewRow>> {
    let ascending = page.reads_ascending(false);
    db_run!(conn, c => {
        let query = in_scope!(scope, ReviewRow::as_select());
        let query = keyset_page!(query, reviews::created_at, reviews::id, page.after, ascending);
        keyset::limited(query, page.fetch_limit()).load(c).await
    })
}

pub(crate) async fn count(conn: &mut Conn<'_>, scope: ReviewScope) -> QueryResult<i64> {
    db_run!(conn, c => in_scope!(scope, diesel::dsl::count_star()).get_result(c).await)
}

pub(crate) async fn find(conn: &mut Conn<'_>, id: i64) -> QueryResult<Option<ReviewRow>> {
    db_run!(conn, c => reviews::table
        .find(id)
        .select(ReviewRow::as_select())
        .first(c)
        .await
        .optional())
}

/// The product a review is of (a review never changes product).
pub(crate) async fn product_of(conn: &mut Conn<'_>, id: i64) -> QueryResult<Option<i64>> {
    db_run!(conn, c => reviews::table
        .find(id)
        .select(reviews::product_id)
        .first(c)
        .await
        .optional())
}

/// One author's reviews of these products (at most one each).
pub(crate) async fn by_author(
    conn: &mut Conn<'_>,
    user_id: i64,
    product_ids: &[i64],
) -> QueryResult<Vec<ReviewRow>> {
    db_run!(conn, c => reviews::table
        .filter(reviews::user_id.eq(user_id))
        .filter(reviews::product_id.eq_any(product_ids))
        .select(ReviewRow::as_select())
        .load(c)
        .await)
}

/// Whether the customer has a delivered order with the product (any of its variants).
pub(crate) async fn received(
    conn: &mut Conn<'_>,
    user_id: i64,
    product_id: i64,
) -> QueryResult<bool> {
    db_run!(conn, c => diesel::select(diesel::dsl::exists(
        order_items::table
            .inner_join(orders::table)
            .filter(orders::user_id.eq(user_id))
            .filter(orders::status.eq(OrderStatus::Delivered.as_str()))
            .filter(order_items::product_id.eq(product_id)),
    ))
    .get_result(c)
    .await)
}

pub(crate) async fn insert(
    conn: &mut Conn<'_>,
    product_id: i64,
    user_id: i64,
    content: &ReviewContent,
    now: NaiveDateTime,
) -> QueryResult<ReviewRow> {
    db_run!(conn, c => diesel::insert_into(reviews::table)
        .values((
            reviews::product_id.eq(product_id),
            reviews::user_id.eq(user_id),
            reviews::rating.eq(content.rating),
            reviews::title.eq(&content.title),
            reviews::body.eq(&content.body),
            reviews::status.eq(ReviewStatus::Published.as_str()),
            reviews::created_at.eq(now),
            reviews::updated_at.eq(now),
        ))
        .returning(ReviewRow::as_returning())
        .get_result(c)
        .await)
}

/// Replaces rating, title and body; the id, status and `createdAt` stay.
pub(crate) async fn rewrite(
    conn: &mut Conn<'_>,
    id: i64,
    content: &ReviewContent,
    now: NaiveDateTime,
) -> QueryResult<ReviewRow> {
    db_run!(conn, c => diesel::update(reviews::table.find(id))
        .set((
            reviews::rating.eq(content.rating),
            reviews::title.eq(&content.title),
            reviews::body.eq(&content.body),
            reviews::updated_at.eq(now),
        ))
        .returning(ReviewRow::as_returning())
        .get_result(c)
        .await)
}

pub(crate) async fn set_status(
    conn: &mut Conn<'_>,
    id: i64,
    status: ReviewStatus,
    now: NaiveDateTime,
) -> QueryResult<ReviewRow> {
    db_run!(conn, c => diesel::update(reviews::table.find(id))
        .set((
            reviews::status.eq(status.as_str()),
            reviews::updated_at.eq(now),
        ))
        .returning(ReviewRow::as_returning())
        .get_result(c)
        .await)
}

pub(crate) async fn delete(conn: &mut Conn<'_>, id: i64) -> QueryResult<usize> {
    db_run!(conn, c => diesel::delete(reviews::table.find(id)).execute(c).await)
}
