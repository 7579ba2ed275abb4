//! Queries of the cart_items table.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;

use super::model::{CartItemRow, CartLine};
use crate::catalog::model::ProductRow;
use crate::catalog::variants::model::VariantRow;
use crate::db::Conn;
use crate::db::db_run;
use crate::db::fixed_sql::FixedSql;
use crate::db::schema::{cart_items, product_variants, products};

/// The user's cart lines with their products and variants, in the order they were added.
pub(crate) async fn lines(conn: &mut Conn<'_>, user_id: i64) -> QueryResult<Vec<CartLine>> {
    let rows: Vec<(CartItemRow, ProductRow, VariantRow)> = db_run!(conn, c => cart_items::table
        .inner_join(products::table)
        .inner_join(product_variants::table)
        .filter(cart_items::user_id.eq(user_id))
        .order(cart_items::id.asc())
        .select((CartItemRow::as_select(), ProductRow::as_select(), VariantRow::as_select()))
        .load(c)
        .await)?;
    Ok(rows
        .into_iter()
        .map(|(item, product, variant)| CartLine {
            item,
            product,
            variant,
        })
        .collect())
}

/// Adds `quantity` units to the user's line of a variant (a new line, or the existing
/// one increased), unless the line would then hold more than `max_line`: `None`, and
/// nothing changed. One statement, so two concurrent adds both count.
pub(crate) async fn add(
    conn: &mut Conn<'_>,
    user_id: i64,
    variant: &VariantRow,
    quantity: i32,
    max_line: i32,
    now: NaiveDateTime,
) -> QueryResult<Option<CartItemRow>> {
    use diesel::query_dsl::methods::FilterDsl;
    db_run!(conn, c => {
        let upsert = diesel::insert_into(cart_items::table)
            .values((
                cart_items::user_id.eq(user_id),
                cart_items::product_id.eq(variant.product_id),
                cart_items::variant_id.eq(variant.id),
                cart_items::quantity.eq(quantity),
                cart_items::created_at.eq(now),
                cart_items::updated_at.eq(now),
            ))
            .on_conflict((cart_items::user_id, cart_items::variant_id))
            .do_update()
            .set((
                cart_items::quantity.eq(cart_items::quantity + excluded(cart_items::quantity)),
                cart_items::updated_at.eq(now),
            ));
        // ON CONFLICT … DO UPDATE … WHERE: the existing line grows only within the limit.
        let upsert = FilterDsl::filter(
            upsert,
            (cart_items::quantity + excluded(cart_items::quantity)).le(max_line),
        );
        FixedSql(upsert.returning(CartItemRow::as_returning()))
            .get_result(c)
            .await
            .optional()
    })
}

/// Units of a variant in the user's cart (0 without a line).
pub(crate) async fn quantity_of(
    conn: &mut Conn<'_>,
    user_id: i64,
    variant_id: i64,
) -> QueryResult<i32> {
    db_run!(conn, c => cart_items::table
        .filter(cart_items::user_id.eq(user_id))
        .filter(cart_items::variant_id.eq(variant_id))
        .select(cart_items::quantity)
        .first(c)
        .await
        .optional()
        .map(Option::unwrap_or_default))
}

/// The user's own line, or `None` (also for another user's line).
pub(crate) async fn find_own(
    conn: &mut Conn<'_>,
    user_id: i64,
    item_id: i64,
) -> QueryResult<Option<CartLine>> {
    let row: Option<(CartItemRow, ProductRow, VariantRow)> = db_run!(conn, c => cart_items::table
        .inner_join(products::table)
        .inner_join(product_variants::table)
        .filter(cart_items::id.eq(item_id))
        .filter(cart_items::user_id.eq(user_id))
        .select((CartItemRow::as_select(), ProductRow::as_select(), VariantRow::as_select()))
        .first(c)
        .await
        .optional())?;
    Ok(row.map(|(item, product, variant)| CartLine {
        item,
        product,
        variant,
    }))
}

pub(crate) async fn set_quantity(
    conn: &mut Conn<'_>,
    item_id: i64,
    quantity: i32,
    now: NaiveDateTime,
) -> QueryResult<CartItemRow> {
    db_run!(conn, c => diesel::update(cart_items::table.find(item_id))
        .set((
            cart_items::quantity.eq(quantity),
            cart_items::updated_at.eq(now)
        ))
        .returning(CartItemRow::as_returning())
        .get_result(c)
        .await)
}

pub(crate) async fn remove(conn: &mut Conn<'_>, user_id: i64, item_id: i64) -> QueryResult<usize> {
    db_run!(conn, c => diesel::delete(
        cart_items::table
            .filter(cart_items::id.eq(item_id))
            .filter(cart_items::user_id.eq(user_id))
    )
    .execute(c)
    .await)
}

/// Empties the cart and returns what it held: the first step of placing an order, so
/// two concurrent checkouts of one cart cannot both take it.
pub(crate) async fn take_all(conn: &mut Conn<'_>, user_id: i64) -> QueryResult<Vec<CartItemRow>> {
    db_run!(conn, c => diesel::delete(
        cart_items::table.filter(cart_items::user_id.eq(user_id))
    )
    .returning(CartItemRow::as_returning())
    .get_results(c)
    .await)
}

/// Takes a product out of every cart (the catalog archived or deleted it).
pub(crate) async fn remove_product(conn: &mut Conn<'_>, product_id: i64) -> QueryResult<usize> {
    db_run!(conn, c => diesel::delete(
        cart_items::table.filter(cart_items::product_id.eq(product_id))
    )
    .execute(c)
    .await)
}

/// Takes a variant out of every cart (the catalog archived or deleted it).
pub(crate) async fn remove_variant(conn: &mut Conn<'_>, variant_id: i64) -> QueryResult<usize> {
    db_run!(conn, c => diesel::delete(
        cart_items::table.filter(cart_items::variant_id.eq(variant_id))
    )
    .execute(c)
    .await)
}
