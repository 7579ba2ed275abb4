//! Queries of the product_variants and variant_options tables, variant stock included.
//!
//! Every function that changes a variant expects its product's row to be written first
//! in the same transaction (see the module doc of `catalog::variants`).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::{NewVariant, OptionRow, SelectedOption, Variant, VariantRow};
use crate::catalog::model::ProductRow;
use crate::db::fixed_sql::FixedSql;
use crate::db::schema::{order_items, product_variants, products, variant_options};
use crate::db::{Conn, db_run, lower};

/// The variants of these products with their options, by product then creation.
pub(crate) async fn variants_of(
    conn: &mut Conn<'_>,
    product_ids: &[i64],
) -> QueryResult<Vec<Variant>> {
    let rows: Vec<VariantRow> = db_run!(conn, c => product_variants::table
        .filter(product_variants::product_id.eq_any(product_ids))
        .order((product_variants::product_id, product_variants::id))
        .select(VariantRow::as_select())
        .load(c)
        .await)?;
    let options: Vec<OptionRow> = db_run!(conn, c => variant_options::table
        .filter(variant_options::product_id.eq_any(product_ids))
        .select(OptionRow::as_select())
        .load(c)
        .await)?;
    Ok(Variant::assemble(rows, options))
}

/// The variants with these ids, with their options.
pub(crate) async fn find_variants(conn: &mut Conn<'_>, ids: &[i64]) -> QueryResult<Vec<Variant>> {
    let rows: Vec<VariantRow> = db_run!(conn, c => product_variants::table
        .filter(product_variants::id.eq_any(ids))
        .select(VariantRow::as_select())
        .load(c)
        .await)?;
    let options: Vec<OptionRow> = db_run!(conn, c => variant_options::table
        .filter(variant_options::variant_id.eq_any(ids))
        .select(OptionRow::as_select())
        .load(c)
        .await)?;
    Ok(Variant::assemble(rows, options))
}

pub(crate) async fn find_variant(conn: &mut Conn<'_>, id: i64) -> QueryResult<Option<Variant>> {
    Ok(find_variants(conn, &[id]).await?.pop())
}

/// A variant with its product, in one statement (no options: the cart needs none).
pub(crate) async fn find_with_product(
    conn: &mut Conn<'_>,
    variant_id: i64,
) -> QueryResult<Option<(VariantRow, ProductRow)>> {
    db_run!(conn, c => product_variants::table
        .inner_join(products::table)
        .filter(product_variants::id.eq(variant_id))
        .select((VariantRow::as_select(), ProductRow::as_select()))
        .first(c)
        .await
        .optional())
}

/// The active variants of a product, by creation (no options).
pub(crate) async fn active_rows(
    conn: &mut Conn<'_>,
    product_id: i64,
) -> QueryResult<Vec<VariantRow>> {
    db_run!(conn, c => product_variants::table
        .filter(product_variants::product_id.eq(product_id))
        .filter(product_variants::is_archived.eq(false))
        .order(product_variants::id)
        .select(VariantRow::as_select())
        .load(c)
        .await)
}

/// Every active variant of a product for sale, with its product's name, by id (demo
/// data: the carts and order history drawn from the whole catalog).
pub(crate) async fn for_sale(conn: &mut Conn<'_>) -> QueryResult<Vec<(VariantRow, String)>> {
    db_run!(conn, c => product_variants::table
        .inner_join(products::table)
        .filter(product_variants::is_archived.eq(false))
        .filter(products::is_archived.eq(false))
        .order(product_variants::id)
        .select((VariantRow::as_select(), products::name))
        .load(c)
        .await)
}

/// Whether another variant (any product's) has this SKU, compared case-insensitively.
pub(crate) async fn sku_taken(
    conn: &mut Conn<'_>,
    sku: &str,
    except: Option<i64>,
) -> QueryResult<bool> {
    let sku = sku.to_lowercase();
    let except = except.unwrap_or(0);
    db_run!(conn, c => diesel::select(diesel::dsl::exists(
        product_variants::table
            .filter(lower(product_variants::sku).eq(&sku))
            .filter(product_variants::id.ne(except))
    ))
    .get_result(c)
    .await)
}

pub(crate) async fn count_variants(conn: &mut Conn<'_>, product_id: i64) -> QueryResult<i64> {
    db_run!(conn, c => product_variants::table
        .filter(product_variants::product_id.eq(product_id))
        .count()
        .get_result(c)
        .await)
}

/// Inserts a variant and its options (in the given order, which is the product's).
pub(crate) async fn insert_variant(
    conn: &mut Conn<'_>,
    new: &NewVariant<'_>,
    options: &[SelectedOption],
) -> QueryResult<VariantRow> {
    let row: VariantRow = db_run!(conn, c => diesel::insert_into(product_variants::table)
        .values(new)
        .returning(VariantRow::as_returning())
        .get_result(c)
        .await)?;
    insert_options(conn, &row, options).await?;
    Ok(row)
}

/// Inserts many variants without options (the demo-data loader and product creation
/// in bulk), one per product of `rows`.
pub(crate) async fn insert_variants(
    conn: &mut Conn<'_>,
    rows: &[NewVariant<'_>],
) -> QueryResult<Vec<VariantRow>> {
    db_run!(conn,
        sqlite c => {
            let mut inserted = Vec::with_capacity(rows.len());
            for row in rows {
                inserted.push(diesel::insert_into(product_variants::table)
                    .values(row)
                    .returning(VariantRow::as_returning())
                    .get_result(c)
                    .await?);
            }
            Ok(inserted)
        },
        postgres c => {
            let mut inserted = Vec::with_capacity(rows.len());
            for chunk in rows.chunks(1000) {
                inserted.extend(diesel::insert_into(product_variants::table)
                    .values(chunk)
                    .returning(VariantRow::as_returning())
                    .get_results(c)
                    .await?);
            }
            Ok(inserted)
        }
    )
}

/// Option rows in bulk: a statement per row on SQLite (no round trips there, and no
/// multi-row INSERT in its async wrapper), multi-row INSERTs on PostgreSQL.
pub(crate) async fn insert_option_rows(conn: &mut Conn<'_>, rows: &[OptionRow]) -> QueryResult<()> {
    db_run!(conn,
        sqlite c => {
            for row in rows {
                diesel::insert_into(variant_options::table).values(row).execute(c).await?;
            }
        },
        postgres c => {
            for chunk in rows.chunks(1000) {
                diesel::insert_into(variant_options::table).values(chunk).execute(c).await?;
            }
        }
    );
    Ok(())
}

async fn insert_options(
    conn: &mut Conn<'_>,
    variant: &VariantRow,
    options: &[SelectedOption],
) -> QueryResult<()> {
    let rows: Vec<OptionRow> = options
        .iter()
        .zip(0..)
        .map(|(o, position)| OptionRow {
            variant_id: variant.id,
            product_id: variant.product_id,
            position,
            name: o.name.clone(),
            value: o.value.clone(),
        })
        .collect();
    insert_option_rows(conn, &rows).await
}

/// Replaces a variant's options (in the product's order).
pub(crate) async fn replace_options(
    conn: &mut Conn<'_>,
    variant: &VariantRow,
    options: &[SelectedOption],
) -> QueryResult<()> {
    db_run!(conn, c => diesel::delete(
        variant_options::table.filter(variant_options::variant_id.eq(variant.id))
    )
    .execute(c)
    .await)?;
    insert_options(conn, variant, options).await
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = product_variants)]
pub(crate) struct VariantChanges<'a> {
    pub sku: Option<&'a str>,
    pub title: Option<&'a str>,
    pub price_cents: Option<i64>,
    pub stock: Option<i32>,
    pub is_archived: Option<bool>,
    pub updated_at: Option<NaiveDateTime>,
}

pub(crate) async fn update_variant(
    conn: &mut Conn<'_>,
    id: i64,
    changes: &VariantChanges<'_>,
) -> QueryResult<VariantRow> {
    db_run!(conn, c => diesel::update(product_variants::table.find(id))
        .set(changes)
        .returning(VariantRow::as_returning())
        .get_result(c)
        .await)
}

pub(crate) async fn delete_variant(conn: &mut Conn<'_>, id: i64) -> QueryResult<usize> {
    db_run!(conn, c => diesel::delete(product_variants::table.find(id))
        .execute(c)
        .await)
}

/// Whether any order line refers to the variant (then it can only be archived).
pub(crate) async fn is_ordered(conn: &mut Conn<'_>, id: i64) -> QueryResult<bool> {
    db_run!(conn, c => diesel::select(diesel::dsl::exists(
        order_items::table.filter(order_items::variant_id.eq(id))
    ))
    .get_result(c)
    .await)
}

/// Takes `quantity` units of an active variant of a product that is for sale, if that
/// many are left: two conditional UPDATEs, the product's derived stock first (its row
/// lock orders concurrent takers of one product), then the variant's own. `None` when
/// nothing may be taken; the caller then rolls back, undoing a product row already
/// written. Returns the rows as they are now, for the order line's snapshot.
pub(crate) async fn take_stock(
    conn: &mut Conn<'_>,
    product_id: i64,
    variant_id: i64,
    quantity: i32,
    now: NaiveDateTime,
) -> QueryResult<Option<(ProductRow, VariantRow)>> {
    let product: Option<ProductRow> = db_run!(conn, c => FixedSql(
        diesel::update(
            products::table
                .find(product_id)
                .filter(products::stock.ge(quantity))
                .filter(products::is_archived.eq(false))
        )
        .set((
            products::stock.eq(products::stock - quantity),
            products::updated_at.eq(now)
        ))
        .returning(ProductRow::as_returning())
    )
    .get_result(c)
    .await
    .optional())?;
    let Some(product) = product else {
        return Ok(None);
    };
    let variant: Option<VariantRow> = db_run!(conn, c => FixedSql(
        diesel::update(
            product_variants::table
                .find(variant_id)
                .filter(product_variants::product_id.eq(product_id))
                .filter(product_variants::stock.ge(quantity))
                .filter(product_variants::is_archived.eq(false))
        )
        .set((
            product_variants::stock.eq(product_variants::stock - quantity),
            product_variants::updated_at.eq(now)
        ))
        .returning(VariantRow::as_returning())
    )
    .get_result(c)
    .await
    .optional())?;
    Ok(variant.map(|variant| (product, variant)))
}

/// A cart line's units, taken: the variant as it is now and its product's name, for the
/// order line's snapshot.
#[derive(QueryableByName)]
pub(crate) struct Taken {
    #[diesel(embed)]
    pub variant: VariantRow,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub product_name: String,
}

/// One line to take: (product, variant, quantity).
pub(crate) type Wanted = (i64, i64, i32);

/// Takes every line's units if each is for sale and has that many left, the way
/// [`take_stock`] takes one; `lines` sorted by product then variant, each variant once.
/// Returns what was taken, in line order; fewer than `lines` when a line could not be
/// taken (the first line missing is the refused one) and the caller then rolls back.
///
/// On PostgreSQL this is one statement for any number of lines: the products are locked
/// in id order first (every writer of stock locks products before variants, in id
/// order, so two checkouts never deadlock), then both conditional UPDATEs run over the
/// locked rows; a row changed by a concurrent checkout is re-checked on its newest
/// version (READ COMMITTED's rule for UPDATE), so stock never goes below zero. SQLite
/// runs in-process, where a statement per line costs no round trip.
pub(crate) async fn take_stock_all(
    conn: &mut Conn<'_>,
    lines: &[Wanted],
    now: NaiveDateTime,
) -> QueryResult<Vec<Taken>> {
    if let Conn::Postgres(c) = conn {
        use diesel::sql_types::{Array, BigInt, Integer, Timestamp};
        let c: &mut diesel_async::AsyncPgConnection = c;
        let products: Vec<i64> = lines.iter().map(|l| l.0).collect();
        let variants: Vec<i64> = lines.iter().map(|l| l.1).collect();
        let quantities: Vec<i32> = lines.iter().map(|l| l.2).collect();
        let query = FixedSql(
            diesel::sql_query(
                "WITH wanted AS ( \
               SELECT * FROM unnest($1::int8[], $2::int8[], $3::int4[]) \
                 AS w(product_id, variant_id, quantity) \
             ), locked AS MATERIALIZED ( \
               SELECT id FROM products WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE \
             ), per_product AS ( \
               SELECT product_id, SUM(quantity)::int4 AS quantity FROM wanted GROUP BY product_id \
             ), taken_products AS ( \
               UPDATE products p SET stock = p.stock - w.quantity, updated_at = $4 \
               FROM per_product w, locked l \
               WHERE p.id = w.product_id AND l.id = p.id \
                 AND p.stock >= w.quantity AND NOT p.is_archived \
               RETURNING p.id, p.name \
             ), taken_variants AS ( \
               UPDATE product_variants v SET stock = v.stock - w.quantity, updated_at = $4 \
               FROM wanted w, locked l \
               WHERE v.id = w.variant_id AND v.product_id = w.product_id \
                 AND l.id = w.product_id AND v.stock >= w.quantity AND NOT v.is_archived \
               RETURNING v.* \
             ) \
             SELECT v.id, v.product_id, v.sku, v.title, v.price_cents, v.stock, \
               v.is_archived, v.created_at, v.updated_at, p.name AS product_name \
             FROM taken_variants v JOIN taken_products p ON p.id = v.product_id \
             ORDER BY v.product_id, v.id",
            )
            .bind::<Array<BigInt>, _>(products)
            .bind::<Array<BigInt>, _>(variants)
            .bind::<Array<Integer>, _>(quantities)
            .bind::<Timestamp, _>(now),
        );
        return query.load(c).await;
    }
    // SQLite: one take per line.
    let mut taken = Vec::with_capacity(lines.len());
    for &(product_id, variant_id, quantity) in lines {
        let Some((product, variant)) =
            take_stock(conn, product_id, variant_id, quantity, now).await?
        else {
            break;
        };
        taken.push(Taken {
            variant,
            product_name: product.name,
        });
    }
    Ok(taken)
}

/// Adds `delta` units to a variant (negative: removes them) if its stock stays within
/// 0..=i32::MAX, and to its product's derived stock when the variant is active. `None`
/// when the stock would leave that range, and nothing changed. The caller has written
/// the product row first in this transaction ([`crate::catalog::repo::lock_product`]).
pub(crate) async fn move_stock(
    conn: &mut Conn<'_>,
    variant_id: i64,
    delta: i32,
    now: NaiveDateTime,
) -> QueryResult<Option<VariantRow>> {
    let moved: Option<VariantRow> = db_run!(conn, c => {
        let room = product_variants::stock
            .ge(delta.saturating_neg().max(0))
            .and(product_variants::stock.le(i32::MAX - delta.max(0)));
        diesel::update(product_variants::table.find(variant_id).filter(room))
            .set((
                product_variants::stock.eq(product_variants::stock + delta),
                product_variants::updated_at.eq(now),
            ))
            .returning(VariantRow::as_returning())
            .get_result(c)
            .await
            .optional()
    })?;
    if let Some(variant) = moved.as_ref().filter(|v| !v.is_archived) {
        db_run!(conn, c => diesel::update(products::table.find(variant.product_id))
            .set(products::stock.eq(products::stock + delta))
            .execute(c)
            .await)?;
    }
    Ok(moved)
}
