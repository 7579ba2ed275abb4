//! Queries of the products table, stock included (and whether order lines point at a
//! product).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::{NewProduct, ProductListFilter, ProductPage, ProductRow, SortDirection};
use crate::db::fixed_sql::FixedSql;
use crate::db::schema::{order_items, products};
use crate::db::{Conn, contains_pattern};
use crate::db::{db_run, keyset_page};

/// Applies a [`ProductListFilter`] to a boxed products query (the page and the count
/// share it). `$patterns` are the LIKE patterns of the search words.
macro_rules! filter_products {
    ($query:expr, $filter:expr, $patterns:expr) => {{
        let mut query = $query;
        if !$filter.include_archived {
            query = query.filter(products::is_archived.eq(false));
        }
        for pattern in $patterns {
            query = query.filter(products::search_text.like(pattern).escape('\\'));
        }
        if let Some(min) = $filter.min_price_cents {
            query = query.filter(products::price_cents.ge(min));
        }
        if let Some(max) = $filter.max_price_cents {
            query = query.filter(products::price_cents.le(max));
        }
        match $filter.in_stock {
            Some(true) => query = query.filter(products::stock.gt(0)),
            Some(false) => query = query.filter(products::stock.eq(0)),
            None => {}
        }
        query
    }};
}

fn like_patterns(filter: &ProductListFilter) -> Vec<String> {
    filter.words.iter().map(|w| contains_pattern(w)).collect()
}

/// One page of products.
pub(crate) async fn list_products(
    conn: &mut Conn<'_>,
    filter: &ProductListFilter,
    page: &ProductPage,
) -> QueryResult<Vec<ProductRow>> {
    let patterns = like_patterns(filter);
    db_run!(conn, c => {
        let query = filter_products!(
            products::table.select(ProductRow::as_select()).into_boxed(),
            filter,
            &patterns
        );
        let (query, limit) = match page {
            ProductPage::CreatedAt(p, direction) => {
                let asc = p.reads_ascending(*direction == SortDirection::Asc);
                let query = keyset_page!(query, products::created_at, products::id, p.after, asc);
                (query, p.fetch_limit())
            }
            ProductPage::Name(p, direction) => {
                let asc = p.reads_ascending(*direction == SortDirection::Asc);
                let after = p.after.as_ref().map(|(name, id)| (name.as_str(), *id));
                (keyset_page!(query, products::name, products::id, after, asc), p.fetch_limit())
            }
            ProductPage::Price(p, direction) => {
                let asc = p.reads_ascending(*direction == SortDirection::Asc);
                let query = keyset_page!(query, products::price_cents, products::id, p.after, asc);
                (query, p.fetch_limit())
            }
        };
        query.limit(limit).load(c).await
    })
}

pub(crate) async fn count_products(
    conn: &mut Conn<'_>,
    filter: &ProductListFilter,
) -> QueryResult<i64> {
    let patterns = like_patterns(filter);
    db_run!(conn, c => filter_products!(
        products::table.count().into_boxed(),
        filter,
        &patterns
    )
    .get_result(c)
    .await)
}

pub(crate) async fn find_product(conn: &mut Conn<'_>, id: i64) -> QueryResult<Option<ProductRow>> {
    db_run!(conn, c => products::table
        .find(id)
        .select(ProductRow::as_select())
        .first(c)
        .await
        .optional())
}

pub(crate) async fn find_products(
    conn: &mut Conn<'_>,
    ids: &[i64],
) -> QueryResult<Vec<ProductRow>> {
    db_run!(conn, c => products::table
        .filter(products::id.eq_any(ids))
        .select(ProductRow::as_select())
        .load(c)
        .await)
}

/// Ids of the products with at least `min_stock` units, in id order (demo data).
pub(crate) async fn product_ids_in_stock(
    conn: &mut Conn<'_>,
    min_stock: i32,
) -> QueryResult<Vec<i64>> {
    db_run!(conn, c => products::table
        .filter(products::stock.ge(min_stock))
        .order(products::id.asc())
        .select(products::id)
        .load(c)
        .await)
}

pub(crate) async fn insert_product(
    conn: &mut Conn<'_>,
    new: &NewProduct<'_>,
) -> QueryResult<ProductRow> {
    db_run!(conn, c => diesel::insert_into(products::table)
        .values(new)
        .returning(ProductRow::as_returning())
        .get_result(c)
        .await)
}

/// Inserts many products (the demo-data loader): multi-row INSERTs on PostgreSQL; one
/// INSERT per row on SQLite, whose async wrapper has no batch insert (inside the
/// caller's transaction that is still fast, with no network between).
pub(crate) async fn insert_products(
    conn: &mut Conn<'_>,
    rows: &[NewProduct<'_>],
) -> QueryResult<usize> {
    let mut inserted = 0;
    db_run!(conn,
        sqlite c => {
            for row in rows {
                inserted += diesel::insert_into(products::table).values(row).execute(c).await?;
            }
        },
        postgres c => {
            for chunk in rows.chunks(1000) {
                inserted += diesel::insert_into(products::table).values(chunk).execute(c).await?;
            }
        }
    );
    Ok(inserted)
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = products)]
pub(crate) struct ProductChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub search_text: Option<String>,
    pub price_cents: Option<i64>,
    pub stock: Option<i32>,
    pub is_archived: Option<bool>,
    pub image_path: Option<Option<String>>,
    pub updated_at: Option<NaiveDateTime>,
}

pub(crate) async fn update_product(
    conn: &mut Conn<'_>,
    id: i64,
    changes: &ProductChanges,
) -> QueryResult<Option<ProductRow>> {
    db_run!(conn, c => diesel::update(products::table.find(id))
        .set(changes)
        .returning(ProductRow::as_returning())
        .get_result(c)
        .await
        .optional())
}

/// Adds `delta` to the stock unless that would take it below zero (or past `i32::MAX`):
/// one conditional UPDATE, safe beside concurrent orders. `None` when nothing changed.
pub(crate) async fn adjust_stock(
    conn: &mut Conn<'_>,
    id: i64,
    delta: i32,
    now: NaiveDateTime,
) -> QueryResult<Option<ProductRow>> {
    db_run!(conn, c => {
        let room = products::stock
            .ge(delta.saturating_neg().max(0))
            .and(products::stock.le(i32::MAX - delta.max(0)));
        diesel::update(products::table.find(id).filter(room))
            .set((
                products::stock.eq(products::stock + delta),
                products::updated_at.eq(now),
            ))
            .returning(ProductRow::as_returning())
            .get_result(c)
            .await
            .optional()
    })
}

/// Takes `quantity` units of a product that is for sale, if that many are left: the one
/// conditional UPDATE that makes overselling impossible on both databases (orders call
/// it inside their transaction). Returns the product as it is now (for the order line's
/// snapshot), or `None` when nothing was taken (too few left, or archived).
pub(crate) async fn take_stock(
    conn: &mut Conn<'_>,
    product_id: i64,
    quantity: i32,
    now: NaiveDateTime,
) -> QueryResult<Option<ProductRow>> {
    db_run!(conn, c => FixedSql(
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
    .optional())
}

/// Puts back units an order took (a cancellation), archived product or not.
pub(crate) async fn return_stock(
    conn: &mut Conn<'_>,
    product_id: i64,
    quantity: i32,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    db_run!(conn, c => diesel::update(products::table.find(product_id))
        .set((
            products::stock.eq(products::stock + quantity),
            products::updated_at.eq(now)
        ))
        .execute(c)
        .await)
}

pub(crate) async fn delete_product(conn: &mut Conn<'_>, id: i64) -> QueryResult<usize> {
    db_run!(conn, c => diesel::delete(products::table.find(id))
        .execute(c)
        .await)
}

/// Whether any order line refers to the product (then it can only be archived).
pub(crate) async fn is_ordered(conn: &mut Conn<'_>, id: i64) -> QueryResult<bool> {
    db_run!(conn, c => diesel::select(diesel::dsl::exists(
        order_items::table.filter(order_items::product_id.eq(id))
    ))
    .get_result(c)
    .await)
}
