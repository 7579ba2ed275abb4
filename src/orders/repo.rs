//! Queries of orders, order lines and payments (stock is the catalog's: see
//! `catalog::repo::take_stock`).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::{
    CancellationReason, NewOrder, NewOrderItem, OrderItemRow, OrderListFilter, OrderRow,
    OrderStatus, PaymentMethod, PaymentRow, PaymentStatus,
};
use crate::db::Conn;
use crate::db::fixed_sql::FixedSql;
use crate::db::keyset::{self, Direction, Page};
use crate::db::schema::{order_items, orders, payments};
use crate::db::{db_run, keyset_page};

pub(crate) async fn find_order(conn: &mut Conn<'_>, id: i64) -> QueryResult<Option<OrderRow>> {
    db_run!(conn, c => orders::table
        .find(id)
        .select(OrderRow::as_select())
        .first(c)
        .await
        .optional())
}

pub(crate) async fn orders_by_ids(conn: &mut Conn<'_>, ids: &[i64]) -> QueryResult<Vec<OrderRow>> {
    db_run!(conn, c => orders::table
        .filter(orders::id.eq_any(ids))
        .select(OrderRow::as_select())
        .load(c)
        .await)
}

pub(crate) async fn find_by_idempotency_key(
    conn: &mut Conn<'_>,
    user_id: i64,
    key: &str,
) -> QueryResult<Option<OrderRow>> {
    db_run!(conn, c => orders::table
        .filter(orders::user_id.eq(user_id))
        .filter(orders::idempotency_key.eq(key))
        .select(OrderRow::as_select())
        .first(c)
        .await
        .optional())
}

pub(crate) async fn insert_order(conn: &mut Conn<'_>, new: &NewOrder<'_>) -> QueryResult<OrderRow> {
    db_run!(conn, c => FixedSql(
        diesel::insert_into(orders::table)
            .values(new)
            .returning(OrderRow::as_returning())
    )
    .get_result(c)
    .await)
}

/// All lines of an order. PostgreSQL gets them in one multi-row INSERT (one round trip);
/// SQLite runs in-process, where a statement per line costs no round trip, and diesel's
/// async SQLite wrapper has no multi-row INSERT.
pub(crate) async fn insert_items(
    conn: &mut Conn<'_>,
    new: &[NewOrderItem<'_>],
) -> QueryResult<usize> {
    db_run!(conn,
        sqlite c => {
            let mut inserted = 0;
            for item in new {
                inserted += diesel::insert_into(order_items::table).values(item).execute(c).await?;
            }
            Ok(inserted)
        },
        postgres c => diesel::insert_into(order_items::table).values(new).execute(c).await
    )
}

/// A new order with its lines and its pending payment of the order's total. PostgreSQL
/// writes all three in one statement (one round trip whatever the number of lines);
/// SQLite runs in-process, one statement each. `items`' order ids are set here.
pub(crate) async fn insert_placed(
    conn: &mut Conn<'_>,
    new: &NewOrder<'_>,
    items: &[NewOrderItem<'_>],
) -> QueryResult<OrderRow> {
    if let Conn::Postgres(c) = conn {
        use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamp};
        let c: &mut diesel_async::AsyncPgConnection = c;
        let column = |f: fn(&NewOrderItem<'_>) -> i64| items.iter().map(f).collect::<Vec<_>>();
        let text =
            |f: for<'i> fn(&NewOrderItem<'i>) -> &'i str| items.iter().map(f).collect::<Vec<_>>();
        let query = FixedSql(
            diesel::sql_query(
                "WITH new_order AS ( \
                   INSERT INTO orders (order_number, user_id, status, total_cents, \
                     shipping_address, payment_method, idempotency_key, created_at, updated_at, \
                     address, subtotal_cents, discount_cents, coupon_code, payment_due_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                   RETURNING * \
                 ), lines AS ( \
                   INSERT INTO order_items (order_id, product_id, product_name, \
                     unit_price_cents, quantity, variant_id, sku, variant_title) \
                   SELECT new_order.id, l.* FROM new_order, \
                     unnest($15::int8[], $16::text[], $17::int8[], $18::int4[], $19::int8[], \
                       $20::text[], $21::text[]) AS l \
                 ), payment AS ( \
                   INSERT INTO payments (order_id, amount_cents, method, status, created_at, \
                     updated_at) \
                   SELECT id, total_cents, payment_method, $22, created_at, created_at \
                   FROM new_order \
                 ) \
                 SELECT * FROM new_order",
            )
            .bind::<Text, _>(new.order_number)
            .bind::<BigInt, _>(new.user_id)
            .bind::<Text, _>(new.status)
            .bind::<BigInt, _>(new.total_cents)
            .bind::<Text, _>(new.shipping_address)
            .bind::<Text, _>(new.payment_method)
            .bind::<Nullable<Text>, _>(new.idempotency_key)
            .bind::<Timestamp, _>(new.created_at)
            .bind::<Timestamp, _>(new.updated_at)
            .bind::<Nullable<Text>, _>(new.address)
            .bind::<BigInt, _>(new.subtotal_cents)
            .bind::<BigInt, _>(new.discount_cents)
            .bind::<Nullable<Text>, _>(new.coupon_code)
            .bind::<Nullable<Timestamp>, _>(new.payment_due_at)
            .bind::<Array<BigInt>, _>(column(|i| i.product_id))
            .bind::<Array<Text>, _>(text(|i| i.product_name))
            .bind::<Array<BigInt>, _>(column(|i| i.unit_price_cents))
            .bind::<Array<Integer>, _>(items.iter().map(|i| i.quantity).collect::<Vec<_>>())
            .bind::<Array<Nullable<BigInt>>, _>(
                items.iter().map(|i| i.variant_id).collect::<Vec<_>>(),
            )
            .bind::<Array<Text>, _>(text(|i| i.sku))
            .bind::<Array<Text>, _>(text(|i| i.variant_title))
            .bind::<Text, _>(PaymentStatus::Pending.as_str()),
        );
        return query.get_result(c).await;
    }
    let order = insert_order(conn, new).await?;
    let items: Vec<NewOrderItem<'_>> = items
        .iter()
        .map(|item| NewOrderItem {
            order_id: order.id,
            ..item.clone()
        })
        .collect();
    insert_items(conn, &items).await?;
    let method = order.payment_method();
    insert_payment(conn, order.id, order.total_cents, method, new.created_at).await?;
    Ok(order)
}

/// Sets an order's discount and total, and its payment's amount to the total (the
/// coupon changed while the order was being placed).
pub(crate) async fn set_discount(
    conn: &mut Conn<'_>,
    order_id: i64,
    discount_cents: i64,
    total_cents: i64,
) -> QueryResult<OrderRow> {
    db_run!(conn, c => diesel::update(payments::table.filter(payments::order_id.eq(order_id)))
        .set(payments::amount_cents.eq(total_cents))
        .execute(c)
        .await)?;
    db_run!(conn, c => diesel::update(orders::table.find(order_id))
        .set((
            orders::discount_cents.eq(discount_cents),
            orders::total_cents.eq(total_cents),
        ))
        .returning(OrderRow::as_returning())
        .get_result(c)
        .await)
}

pub(crate) async fn set_total(
    conn: &mut Conn<'_>,
    order_id: i64,
    total_cents: i64,
) -> QueryResult<OrderRow> {
    db_run!(conn, c => diesel::update(orders::table.find(order_id))
        .set((
            orders::total_cents.eq(total_cents),
            orders::subtotal_cents.eq(total_cents),
        ))
        .returning(OrderRow::as_returning())
        .get_result(c)
        .await)
}

pub(crate) async fn insert_payment(
    conn: &mut Conn<'_>,
    order_id: i64,
    amount_cents: i64,
    method: PaymentMethod,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    db_run!(conn, c => diesel::insert_into(payments::table)
        .values((
            payments::order_id.eq(order_id),
            payments::amount_cents.eq(amount_cents),
            payments::method.eq(method.as_str()),
            payments::status.eq(PaymentStatus::Pending.as_str()),
            payments::created_at.eq(now),
            payments::updated_at.eq(now),
        ))
        .execute(c)
        .await)
}

/// Moves an order to `to` only if it is still in one of `from`: of two racing changes,
/// exactly one wins. `None` when the order was not in `from`.
pub(crate) async fn move_status(
    conn: &mut Conn<'_>,
    order_id: i64,
    from: &[OrderStatus],
    to: OrderStatus,
    now: NaiveDateTime,
) -> QueryResult<Option<OrderRow>> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    db_run!(conn, c => diesel::update(
        orders::table
            .find(order_id)
            .filter(orders::status.eq_any(&from))
    )
    .set((orders::status.eq(to.as_str()), orders::updated_at.eq(now)))
    .returning(OrderRow::as_returning())
    .get_result(c)
    .await
    .optional())
}

/// Cancels an order if it is still in one of `from`, saying why: of two racing
/// cancellations (or a cancellation and another change), exactly one wins.
pub(crate) async fn cancel(
    conn: &mut Conn<'_>,
    order_id: i64,
    from: &[OrderStatus],
    reason: CancellationReason,
    now: NaiveDateTime,
) -> QueryResult<Option<OrderRow>> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    db_run!(conn, c => diesel::update(
        orders::table
            .find(order_id)
            .filter(orders::status.eq_any(&from))
    )
    .set((
        orders::status.eq(OrderStatus::Cancelled.as_str()),
        orders::cancellation_reason.eq(reason.as_str()),
        orders::updated_at.eq(now),
    ))
    .returning(OrderRow::as_returning())
    .get_result(c)
    .await
    .optional())
}

/// The order, locked for the rest of the transaction (PostgreSQL; SQLite's write
/// transactions run one at a time): a payment and the expiry sweeper take it before they
/// look at the payment, as a cancellation does, so that they see each other's outcome.
pub(crate) async fn lock_order(
    conn: &mut Conn<'_>,
    order_id: i64,
) -> QueryResult<Option<OrderRow>> {
    db_run!(conn,
        sqlite c => orders::table
            .find(order_id)
            .select(OrderRow::as_select())
            .first(c)
            .await
            .optional(),
        postgres c => orders::table
            .find(order_id)
            .select(OrderRow::as_select())
            .for_no_key_update()
            .first(c)
            .await
            .optional()
    )
}

/// Card orders still pending whose payment is due by `now`, soonest first (paid ones
/// among them are left alone by the sweeper).
pub(crate) async fn overdue(
    conn: &mut Conn<'_>,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<i64>> {
    db_run!(conn, c => orders::table
        .filter(orders::status.eq(OrderStatus::Pending.as_str()))
        .filter(orders::payment_due_at.le(now))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            payments::table
                .filter(payments::order_id.eq(orders::id))
                .filter(payments::status.eq(PaymentStatus::Paid.as_str())),
        )))
        .select(orders::id)
        .order(orders::payment_due_at.asc())
        .limit(limit)
        .load(c)
        .await)
}

/// Sets the payment of an order to `to` if it is in one of `from`.
pub(crate) async fn move_payment(
    conn: &mut Conn<'_>,
    order_id: i64,
    from: &[PaymentStatus],
    to: PaymentStatus,
    transaction_id: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<Option<PaymentRow>> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    db_run!(conn, c => {
        let target = payments::table
            .filter(payments::order_id.eq(order_id))
            .filter(payments::status.eq_any(&from));
        match transaction_id {
            Some(txn) => diesel::update(target)
                .set((
                    payments::status.eq(to.as_str()),
                    payments::transaction_id.eq(txn),
                    payments::updated_at.eq(now),
                ))
                .returning(PaymentRow::as_returning())
                .get_result(c)
                .await
                .optional(),
            None => diesel::update(target)
                .set((
                    payments::status.eq(to.as_str()),
                    payments::updated_at.eq(now),
                ))
                .returning(PaymentRow::as_returning())
                .get_result(c)
                .await
                .optional(),
        }
    })
}

pub(crate) async fn touch_order(
    conn: &mut Conn<'_>,
    order_id: i64,
    now: NaiveDateTime,
) -> QueryResult<OrderRow> {
    db_run!(conn, c => diesel::update(orders::table.find(order_id))
        .set(orders::updated_at.eq(now))
        .returning(OrderRow::as_returning())
        .get_result(c)
        .await)
}

pub(crate) async fn items_of(
    conn: &mut Conn<'_>,
    order_ids: &[i64],
) -> QueryResult<Vec<OrderItemRow>> {
    db_run!(conn, c => order_items::table
        .filter(order_items::order_id.eq_any(order_ids))
        .order(order_items::id.asc())
        .select(OrderItemRow::as_select())
        .load(c)
        .await)
}

pub(crate) async fn find_item(conn: &mut Conn<'_>, id: i64) -> QueryResult<Option<OrderItemRow>> {
    db_run!(conn, c => order_items::table
        .find(id)
        .select(OrderItemRow::as_select())
        .first(c)
        .await
        .optional())
}

pub(crate) async fn find_payment(conn: &mut Conn<'_>, id: i64) -> QueryResult<Option<PaymentRow>> {
    db_run!(conn, c => payments::table
        .find(id)
        .select(PaymentRow::as_select())
        .first(c)
        .await
        .optional())
}

pub(crate) async fn payments_of(
    conn: &mut Conn<'_>,
    order_ids: &[i64],
) -> QueryResult<Vec<PaymentRow>> {
    db_run!(conn, c => payments::table
        .filter(payments::order_id.eq_any(order_ids))
        .select(PaymentRow::as_select())
        .load(c)
        .await)
}

/// Applies an [`OrderListFilter`] to a boxed orders query.
macro_rules! filter_orders {
    ($query:expr, $filter:expr) => {{
        let mut query = $query;
        if let Some(user_id) = $filter.user_id {
            query = query.filter(orders::user_id.eq(user_id));
        }
        if let Some(status) = $filter.status {
            query = query.filter(orders::status.eq(status.as_str()));
        }
        query
    }};
}

/// One page of orders, newest first (created_at, then id).
pub(crate) async fn list_orders(
    conn: &mut Conn<'_>,
    filter: &OrderListFilter,
    page: &Page<NaiveDateTime>,
) -> QueryResult<Vec<OrderRow>> {
    db_run!(conn, c => {
        let query = filter_orders!(
            orders::table.select(OrderRow::as_select()).into_boxed(),
            filter
        );
        // Newest first: reading forward is descending.
        let backward = page.direction == Direction::Backward;
        let query = keyset_page!(query, orders::created_at, orders::id, page.after, backward);
        keyset::limited(query, page.fetch_limit()).load(c).await
    })
}

pub(crate) async fn count_orders(
    conn: &mut Conn<'_>,
    filter: &OrderListFilter,
) -> QueryResult<i64> {
    db_run!(conn, c => filter_orders!(
        orders::table.count().into_boxed(),
        filter
    )
    .get_result(c)
    .await)
}
