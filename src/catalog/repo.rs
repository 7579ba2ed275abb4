//! Queries of the products table (and the carts and order lines that point at it).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::{
    NewProduct, ProductListFilter, ProductOrder, ProductRow, ProductSortField, SortDirection,
};
use crate::db::schema::{cart_items, order_items, products};
use crate::db::{Conn, contains_pattern, micros_to_time};
use crate::error::AppError;
use crate::graphql::pagination::{Cursor, Direction, Page};
use crate::{db_run, keyset_page};

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

/// The sort key a cursor carries, typed by the sort it was made for.
enum SortKey {
    Time(NaiveDateTime),
    Text(String),
    Cents(i64),
}

/// The cursor of `row` in a list sorted by `field`.
pub fn cursor_for(row: &ProductRow, field: ProductSortField) -> Cursor {
    match field {
        ProductSortField::CreatedAt => {
            Cursor::new(row.id, row.created_at.and_utc().timestamp_micros())
        }
        ProductSortField::Name => Cursor::new(row.id, &row.name),
        ProductSortField::Price => Cursor::new(row.id, row.price_cents),
    }
}

fn sort_key(cursor: &Cursor, field: ProductSortField) -> Result<SortKey, AppError> {
    Ok(match field {
        ProductSortField::CreatedAt => SortKey::Time(micros_to_time(cursor.key_i64()?)?),
        ProductSortField::Name => SortKey::Text(cursor.key.clone()),
        ProductSortField::Price => SortKey::Cents(cursor.key_i64()?),
    })
}

/// One page of products in `order`.
pub async fn list_products(
    conn: &mut Conn<'_>,
    filter: &ProductListFilter,
    order: ProductOrder,
    page: &Page,
) -> Result<Vec<ProductRow>, AppError> {
    let patterns = like_patterns(filter);
    let key = page
        .cursor
        .as_ref()
        .map(|c| Ok::<_, AppError>((sort_key(c, order.field)?, c.id)))
        .transpose()?;
    let ascending =
        (order.direction == SortDirection::Asc) == (page.direction == Direction::Forward);
    let rows = db_run!(conn, |c| {
        let query = filter_products!(
            products::table.select(ProductRow::as_select()).into_boxed(),
            filter,
            &patterns
        );
        let query = match (order.field, &key) {
            (ProductSortField::CreatedAt, None) => keyset_page!(
                query,
                products::created_at,
                products::id,
                None::<(NaiveDateTime, i64)>,
                ascending
            ),
            (ProductSortField::CreatedAt, Some((SortKey::Time(t), id))) => {
                keyset_page!(
                    query,
                    products::created_at,
                    products::id,
                    Some((*t, *id)),
                    ascending
                )
            }
            (ProductSortField::Name, None) => {
                keyset_page!(
                    query,
                    products::name,
                    products::id,
                    None::<(&str, i64)>,
                    ascending
                )
            }
            (ProductSortField::Name, Some((SortKey::Text(name), id))) => {
                keyset_page!(
                    query,
                    products::name,
                    products::id,
                    Some((name.as_str(), *id)),
                    ascending
                )
            }
            (ProductSortField::Price, None) => {
                keyset_page!(
                    query,
                    products::price_cents,
                    products::id,
                    None::<(i64, i64)>,
                    ascending
                )
            }
            (ProductSortField::Price, Some((SortKey::Cents(p), id))) => {
                keyset_page!(
                    query,
                    products::price_cents,
                    products::id,
                    Some((*p, *id)),
                    ascending
                )
            }
            _ => unreachable!("sort_key types the key by the sort field"),
        };
        query.limit(page.fetch_limit()).load(c).await
    })?;
    Ok(rows)
}

pub async fn count_products(conn: &mut Conn<'_>, filter: &ProductListFilter) -> QueryResult<i64> {
    let patterns = like_patterns(filter);
    db_run!(conn, |c| filter_products!(
        products::table.count().into_boxed(),
        filter,
        &patterns
    )
    .get_result(c)
    .await)
}

pub async fn find_product(conn: &mut Conn<'_>, id: i64) -> QueryResult<Option<ProductRow>> {
    db_run!(conn, |c| products::table
        .find(id)
        .select(ProductRow::as_select())
        .first(c)
        .await
        .optional())
}

pub async fn find_products(conn: &mut Conn<'_>, ids: &[i64]) -> QueryResult<Vec<ProductRow>> {
    db_run!(conn, |c| products::table
        .filter(products::id.eq_any(ids))
        .select(ProductRow::as_select())
        .load(c)
        .await)
}

/// Ids of the products with at least `min_stock` units, in id order (demo data).
pub async fn product_ids_in_stock(conn: &mut Conn<'_>, min_stock: i32) -> QueryResult<Vec<i64>> {
    db_run!(conn, |c| products::table
        .filter(products::stock.ge(min_stock))
        .order(products::id.asc())
        .select(products::id)
        .load(c)
        .await)
}

pub async fn insert_product(conn: &mut Conn<'_>, new: &NewProduct<'_>) -> QueryResult<ProductRow> {
    db_run!(conn, |c| diesel::insert_into(products::table)
        .values(new)
        .returning(ProductRow::as_returning())
        .get_result(c)
        .await)
}

/// Inserts many products (the demo-data loader): multi-row INSERTs on PostgreSQL; one
/// INSERT per row on SQLite, whose async wrapper has no batch insert (inside the
/// caller's transaction that is still fast, with no network between).
pub async fn insert_products(conn: &mut Conn<'_>, rows: &[NewProduct<'_>]) -> QueryResult<usize> {
    let mut inserted = 0;
    match conn {
        Conn::Postgres(c) => {
            for chunk in rows.chunks(1000) {
                inserted += diesel::insert_into(products::table)
                    .values(chunk)
                    .execute(&mut **c)
                    .await?;
            }
        }
        Conn::Sqlite(c) => {
            for row in rows {
                inserted += diesel::insert_into(products::table)
                    .values(row)
                    .execute(&mut **c)
                    .await?;
            }
        }
    }
    Ok(inserted)
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = products)]
pub struct ProductChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub search_text: Option<String>,
    pub price_cents: Option<i64>,
    pub stock: Option<i32>,
    pub is_archived: Option<bool>,
    pub image_path: Option<Option<String>>,
    pub updated_at: Option<NaiveDateTime>,
}

pub async fn update_product(
    conn: &mut Conn<'_>,
    id: i64,
    changes: &ProductChanges,
) -> QueryResult<Option<ProductRow>> {
    db_run!(conn, |c| diesel::update(products::table.find(id))
        .set(changes)
        .returning(ProductRow::as_returning())
        .get_result(c)
        .await
        .optional())
}

/// Adds `delta` to the stock unless that would take it below zero (or past `i32::MAX`):
/// one conditional UPDATE, safe beside concurrent orders. `None` when nothing changed.
pub async fn adjust_stock(
    conn: &mut Conn<'_>,
    id: i64,
    delta: i32,
    now: NaiveDateTime,
) -> QueryResult<Option<ProductRow>> {
    db_run!(conn, |c| {
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

pub async fn delete_product(conn: &mut Conn<'_>, id: i64) -> QueryResult<usize> {
    db_run!(conn, |c| diesel::delete(products::table.find(id))
        .execute(c)
        .await)
}

/// Whether any order line refers to the product (then it can only be archived).
pub async fn is_ordered(conn: &mut Conn<'_>, id: i64) -> QueryResult<bool> {
    db_run!(conn, |c| diesel::select(diesel::dsl::exists(
        order_items::table.filter(order_items::product_id.eq(id))
    ))
    .get_result(c)
    .await)
}

/// Takes the product out of every cart.
pub async fn remove_from_carts(conn: &mut Conn<'_>, id: i64) -> QueryResult<usize> {
    db_run!(conn, |c| diesel::delete(
        cart_items::table.filter(cart_items::product_id.eq(id))
    )
    .execute(c)
    .await)
}
