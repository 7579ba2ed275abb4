//! Queries of coupons, the carts' applied coupons, and coupon uses.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::{CouponRow, DiscountType};
use crate::db::keyset::{self, Direction, Page};
use crate::db::schema::{cart_coupons, coupons, orders};
use crate::db::{Conn, db_run, keyset_page};
use crate::orders::model::OrderStatus;

/// A coupon's settings, checked.
pub(crate) struct CouponFields {
    pub discount_type: DiscountType,
    pub value_hundredths: i64,
    pub min_subtotal_cents: Option<i64>,
    pub starts_at: Option<NaiveDateTime>,
    pub ends_at: Option<NaiveDateTime>,
    pub usage_limit: Option<i32>,
    pub per_customer_limit: Option<i32>,
    pub is_active: bool,
}

pub(crate) async fn insert(
    conn: &mut Conn<'_>,
    code: &str,
    fields: &CouponFields,
    now: NaiveDateTime,
) -> QueryResult<CouponRow> {
    db_run!(conn, c => diesel::insert_into(coupons::table)
        .values((
            coupons::code.eq(code),
            coupons::discount_type.eq(fields.discount_type.as_str()),
            coupons::value_hundredths.eq(fields.value_hundredths),
            coupons::min_subtotal_cents.eq(fields.min_subtotal_cents),
            coupons::starts_at.eq(fields.starts_at),
            coupons::ends_at.eq(fields.ends_at),
            coupons::usage_limit.eq(fields.usage_limit),
            coupons::per_customer_limit.eq(fields.per_customer_limit),
            coupons::is_active.eq(fields.is_active),
            coupons::created_at.eq(now),
            coupons::updated_at.eq(now),
        ))
        .returning(CouponRow::as_returning())
        .get_result(c)
        .await)
}

pub(crate) async fn update(
    conn: &mut Conn<'_>,
    id: i64,
    fields: &CouponFields,
    now: NaiveDateTime,
) -> QueryResult<CouponRow> {
    db_run!(conn, c => diesel::update(coupons::table.find(id))
        .set((
            coupons::value_hundredths.eq(fields.value_hundredths),
            coupons::min_subtotal_cents.eq(fields.min_subtotal_cents),
            coupons::starts_at.eq(fields.starts_at),
            coupons::ends_at.eq(fields.ends_at),
            coupons::usage_limit.eq(fields.usage_limit),
            coupons::per_customer_limit.eq(fields.per_customer_limit),
            coupons::is_active.eq(fields.is_active),
            coupons::updated_at.eq(now),
        ))
        .returning(CouponRow::as_returning())
        .get_result(c)
        .await)
}

pub(crate) async fn find(conn: &mut Conn<'_>, id: i64) -> QueryResult<Option<CouponRow>> {
    db_run!(conn, c => coupons::table
        .find(id)
        .select(CouponRow::as_select())
        .first(c)
        .await
        .optional())
}

/// The coupon with `code` (already upper case).
pub(crate) async fn by_code(conn: &mut Conn<'_>, code: &str) -> QueryResult<Option<CouponRow>> {
    db_run!(conn, c => coupons::table
        .filter(coupons::code.eq(code))
        .select(CouponRow::as_select())
        .first(c)
        .await
        .optional())
}

/// A page of coupons by code (`search`: a substring of it, already upper case).
pub(crate) async fn list(
    conn: &mut Conn<'_>,
    search: Option<&str>,
    page: &Page<String>,
) -> QueryResult<Vec<CouponRow>> {
    let pattern = search.map(like_pattern);
    db_run!(conn, c => {
        let mut query = coupons::table.select(CouponRow::as_select()).into_boxed();
        if let Some(pattern) = &pattern {
            query = query.filter(coupons::code.like(pattern).escape('\\'));
        }
        let backward = page.direction == Direction::Backward;
        let after = page.after.as_ref().map(|(code, id)| (code.as_str(), *id));
        let query = keyset_page!(query, coupons::code, coupons::id, after, !backward);
        keyset::limited(query, page.fetch_limit()).load(c).await
    })
}

pub(crate) async fn count(conn: &mut Conn<'_>, search: Option<&str>) -> QueryResult<i64> {
    let pattern = search.map(like_pattern);
    db_run!(conn, c => {
        let mut query = coupons::table.count().into_boxed();
        if let Some(pattern) = &pattern {
            query = query.filter(coupons::code.like(pattern).escape('\\'));
        }
        query.get_result(c).await
    })
}

/// `%text%` with LIKE's wildcards in `text` escaped.
fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// The coupon applied to a customer's cart.
pub(crate) async fn of_cart(conn: &mut Conn<'_>, user_id: i64) -> QueryResult<Option<CouponRow>> {
    db_run!(conn, c => cart_coupons::table
        .inner_join(coupons::table)
        .filter(cart_coupons::user_id.eq(user_id))
        .select(CouponRow::as_select())
        .first(c)
        .await
        .optional())
}

/// Applies `coupon_id` to the customer's cart, replacing any other.
pub(crate) async fn apply(
    conn: &mut Conn<'_>,
    user_id: i64,
    coupon_id: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    db_run!(conn, c => diesel::insert_into(cart_coupons::table)
        .values((
            cart_coupons::user_id.eq(user_id),
            cart_coupons::coupon_id.eq(coupon_id),
            cart_coupons::applied_at.eq(now),
        ))
        .on_conflict(cart_coupons::user_id)
        .do_update()
        .set((
            cart_coupons::coupon_id.eq(coupon_id),
            cart_coupons::applied_at.eq(now),
        ))
        .execute(c)
        .await)
}

/// Takes the coupon off the customer's cart; the id of the one it held.
pub(crate) async fn take_off(conn: &mut Conn<'_>, user_id: i64) -> QueryResult<Option<i64>> {
    db_run!(conn, c => diesel::delete(cart_coupons::table.find(user_id))
        .returning(cart_coupons::coupon_id)
        .get_result(c)
        .await
        .optional())
}

/// The customer's orders that hold a use of the coupon now (not cancelled).
pub(crate) async fn uses_by(conn: &mut Conn<'_>, code: &str, user_id: i64) -> QueryResult<i64> {
    db_run!(conn, c => orders::table
        .filter(orders::coupon_code.eq(code))
        .filter(orders::user_id.eq(user_id))
        .filter(orders::status.ne(OrderStatus::Cancelled.as_str()))
        .count()
        .get_result(c)
        .await)
}

/// Takes one use of the coupon if it is active, valid at `now` and under its total limit:
/// one conditional UPDATE, so that of N concurrent orders at most the limit's worth get
/// one (on PostgreSQL the row lock also queues them, so each sees the others' uses).
/// `None` when the coupon does not apply.
pub(crate) async fn take_use(
    conn: &mut Conn<'_>,
    coupon_id: i64,
    now: NaiveDateTime,
) -> QueryResult<Option<CouponRow>> {
    db_run!(conn, c => diesel::update(
        coupons::table
            .find(coupon_id)
            .filter(coupons::is_active.eq(true))
            .filter(coupons::starts_at.is_null().or(coupons::starts_at.le(now)))
            .filter(coupons::ends_at.is_null().or(coupons::ends_at.gt(now)))
            .filter(
                coupons::usage_limit
                    .is_null()
                    .or(coupons::usage_count.lt(coupons::usage_limit.assume_not_null())),
            ),
    )
    .set(coupons::usage_count.eq(coupons::usage_count + 1))
    .returning(CouponRow::as_returning())
    .get_result(c)
    .await
    .optional())
}

/// Gives a use back (an order holding one was cancelled).
pub(crate) async fn give_back(conn: &mut Conn<'_>, code: &str) -> QueryResult<usize> {
    db_run!(conn, c => diesel::update(
        coupons::table
            .filter(coupons::code.eq(code))
            .filter(coupons::usage_count.gt(0)),
    )
    .set(coupons::usage_count.eq(coupons::usage_count - 1))
    .execute(c)
    .await)
}
