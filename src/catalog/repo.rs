//! Queries of the products table (and whether order lines point at a product); the
//! variants' queries are in `variants::repo`.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::{NewProduct, ProductListFilter, ProductPage, ProductRow, Rating, SortDirection};
use crate::db::fixed_sql::FixedSql;
use crate::db::keyset::{self, Direction, Page};
use crate::db::schema::{
    category_products, order_items, product_variants, products, variant_options,
};
use crate::db::{Conn, contains_pattern};
use crate::db::{db_run, keyset_page};

/// The active variants that have every one of `$options`' values, as a boxed query
/// selecting `$select` (a subquery for `IN`, or an aggregate).
macro_rules! variants_with_options {
    ($options:expr, $select:expr) => {{
        let mut variants = product_variants::table
            .filter(product_variants::is_archived.eq(false))
            .select($select)
            .into_boxed();
        for option in $options {
            variants = variants.filter(
                product_variants::id.eq_any(
                    variant_options::table
                        .filter(variant_options::name.eq(&option.name))
                        .filter(variant_options::value.eq(&option.value))
                        .select(variant_options::variant_id),
                ),
            );
        }
        variants
    }};
}
pub(crate) use variants_with_options;

/// Applies a [`ProductListFilter`] to a boxed products query (the page, the count and
/// the facets share it), with its [`FilterArgs`]. Every condition on another table is
/// an uncorrelated `products.id IN (…)` answered by an index: a category (with its
/// subtree) by `category_products (category_id, …)`, the options through
/// `variant_options (name, value)`.
///
/// `filter_products!(query, filter, args, except category)` leaves the category out, for
/// a query that joins `category_products` itself.
macro_rules! filter_products {
    ($query:expr, $filter:expr, $args:expr, except category) => {{
        let filter: &$crate::catalog::model::ProductListFilter = $filter;
        let mut query = $query;
        if !filter.include_archived {
            query = query.filter(products::is_archived.eq(false));
        }
        for pattern in &$args.patterns {
            query = query.filter(products::search_text.like(pattern).escape('\\'));
        }
        if let Some(min) = filter.min_price_cents {
            query = query.filter(products::price_cents.ge(min));
        }
        if let Some(max) = filter.max_price_cents {
            query = query.filter(products::price_cents.le(max));
        }
        if filter.matches_per_variant() {
            let matching = variants_with_options!(&filter.options, product_variants::product_id);
            query = query.filter(products::id.eq_any(matching));
            if let Some(wanted) = filter.in_stock {
                let in_stock =
                    variants_with_options!(&filter.options, product_variants::product_id)
                        .filter(product_variants::stock.gt(0));
                query = if wanted {
                    query.filter(products::id.eq_any(in_stock))
                } else {
                    query.filter(products::id.ne_all(in_stock))
                };
            }
        } else {
            match filter.in_stock {
                Some(true) => query = query.filter(products::stock.gt(0)),
                Some(false) => query = query.filter(products::stock.eq(0)),
                None => {}
            }
        }
        query
    }};
    ($query:expr, $filter:expr, $args:expr) => {{
        let filter: &$crate::catalog::model::ProductListFilter = $filter;
        let mut query = filter_products!($query, filter, $args, except category);
        if let Some(category) = filter.category_id {
            query = query.filter(
                products::id.eq_any(
                    category_products::table
                        .filter(category_products::category_id.eq(category))
                        .select(category_products::product_id),
                ),
            );
        }
        query
    }};
}
pub(crate) use filter_products;

/// What a filter needs beside itself: the LIKE patterns of its search words.
pub(crate) struct FilterArgs {
    pub patterns: Vec<String>,
}

impl FilterArgs {
    pub(crate) fn of(filter: &ProductListFilter) -> Self {
        FilterArgs {
            patterns: filter.words.iter().map(|w| contains_pattern(w)).collect(),
        }
    }
}

/// A page of the filtered products in the order of one of their columns (then id).
macro_rules! by_column {
    ($conn:expr, $filter:expr, $column:expr, $after:expr, $ascending:expr, $limit:expr) => {{
        let args = FilterArgs::of($filter);
        db_run!($conn, c => {
            let query = filter_products!(
                products::table.select(ProductRow::as_select()).into_boxed(),
                $filter,
                &args
            );
            let query = keyset_page!(query, $column, products::id, $after, $ascending);
            keyset::limited(query, $limit).load(c).await
        })
    }};
}

/// One page of products.
pub(crate) async fn list_products(
    conn: &mut Conn<'_>,
    filter: &ProductListFilter,
    page: &ProductPage,
) -> QueryResult<Vec<ProductRow>> {
    match page {
        ProductPage::CreatedAt(p, direction) => match filter.category_id {
            Some(category) => {
                let asc = p.reads_ascending(*direction == SortDirection::Asc);
                newest_in_category(conn, filter, category, p.after, asc, p.fetch_limit()).await
            }
            None => by_column!(
                conn,
                filter,
                products::created_at,
                p.after,
                p.reads_ascending(*direction == SortDirection::Asc),
                p.fetch_limit()
            ),
        },
        ProductPage::Name(p, direction) => {
            let after = p.after.as_ref().map(|(name, id)| (name.as_str(), *id));
            by_column!(
                conn,
                filter,
                products::name,
                after,
                p.reads_ascending(*direction == SortDirection::Asc),
                p.fetch_limit()
            )
        }
        ProductPage::Price(p, direction) => {
            by_column!(
                conn,
                filter,
                products::price_cents,
                p.after,
                p.reads_ascending(*direction == SortDirection::Asc),
                p.fetch_limit()
            )
        }
        ProductPage::Rating(p, direction) => {
            by_rating(conn, filter, p, *direction == SortDirection::Desc).await
        }
    }
}

/// The RATING sort: the list is the rated products by mean and id (in the sort's
/// direction), then the unrated ones by id ascending (in both directions). A page reads
/// from its position to the end of that section, and on into the other section when the
/// first runs out: at most two statements, each a range of `products (rating_mean, id)`.
async fn by_rating(
    conn: &mut Conn<'_>,
    filter: &ProductListFilter,
    page: &Page<Option<f64>>,
    descending: bool,
) -> QueryResult<Vec<ProductRow>> {
    let limit = page.fetch_limit();
    let rated_ascending = page.reads_ascending(!descending);
    let mut rows = match (page.direction, page.after) {
        (Direction::Forward, None) => rated(conn, filter, None, rated_ascending, limit).await?,
        (Direction::Forward, Some((Some(mean), id))) => {
            rated(conn, filter, Some((mean, id)), rated_ascending, limit).await?
        }
        (Direction::Forward, Some((None, id))) => {
            return unrated(conn, filter, Some(id), true, limit).await;
        }
        (Direction::Backward, None) => unrated(conn, filter, None, false, limit).await?,
        (Direction::Backward, Some((None, id))) => {
            unrated(conn, filter, Some(id), false, limit).await?
        }
        (Direction::Backward, Some((Some(mean), id))) => {
            return rated(conn, filter, Some((mean, id)), rated_ascending, limit).await;
        }
    };
    let wanted = limit - rows.len() as i64;
    if wanted > 0 {
        // The section runs out before the page does: go on into the other one.
        let more = match page.direction {
            Direction::Forward => unrated(conn, filter, None, true, wanted).await?,
            Direction::Backward => rated(conn, filter, None, rated_ascending, wanted).await?,
        };
        rows.extend(more);
    }
    Ok(rows)
}

/// Rated products after `(mean, id)`, by mean and id.
async fn rated(
    conn: &mut Conn<'_>,
    filter: &ProductListFilter,
    after: Option<(f64, i64)>,
    ascending: bool,
    limit: i64,
) -> QueryResult<Vec<ProductRow>> {
    let args = FilterArgs::of(filter);
    db_run!(conn, c => {
        let query = filter_products!(
            products::table
                .select(ProductRow::as_select())
                .filter(products::rating_mean.is_not_null())
                .into_boxed(),
            filter,
            &args
        );
        let query = keyset_page!(query, products::rating_mean, products::id, after, ascending);
        keyset::limited(query, limit).load(c).await
    })
}

/// Unrated products after `id`, by id.
async fn unrated(
    conn: &mut Conn<'_>,
    filter: &ProductListFilter,
    after: Option<i64>,
    ascending: bool,
    limit: i64,
) -> QueryResult<Vec<ProductRow>> {
    let args = FilterArgs::of(filter);
    db_run!(conn, c => {
        let mut query = filter_products!(
            products::table
                .select(ProductRow::as_select())
                .filter(products::rating_mean.is_null())
                .into_boxed(),
            filter,
            &args
        );
        query = match after {
            Some(id) if ascending => query.filter(products::id.gt(id)),
            Some(id) => query.filter(products::id.lt(id)),
            None => query,
        };
        query = if ascending {
            query.order(products::id.asc())
        } else {
            query.order(products::id.desc())
        };
        keyset::limited(query, limit).load(c).await
    })
}

/// A category's products by date, read along the index of `category_products`
/// (category_id, created_at, product_id): the rows come in page order, so a page of 20
/// reads about 21 listings, in a small category as in a large one.
async fn newest_in_category(
    conn: &mut Conn<'_>,
    filter: &ProductListFilter,
    category: i64,
    after: Option<(NaiveDateTime, i64)>,
    ascending: bool,
    limit: i64,
) -> QueryResult<Vec<ProductRow>> {
    let args = FilterArgs::of(filter);
    db_run!(conn, c => {
        let query = filter_products!(
            products::table
                .inner_join(category_products::table)
                .filter(category_products::category_id.eq(category))
                .select(ProductRow::as_select())
                .into_boxed(),
            filter,
            &args,
            except category
        );
        let query = keyset_page!(
            query,
            category_products::created_at,
            category_products::product_id,
            after,
            ascending
        );
        keyset::limited(query, limit).load(c).await
    })
}

pub(crate) async fn count_products(
    conn: &mut Conn<'_>,
    filter: &ProductListFilter,
) -> QueryResult<i64> {
    let args = FilterArgs::of(filter);
    db_run!(conn, c => filter_products!(
        products::table.count().into_boxed(),
        filter,
        &args
    )
    .get_result(c)
    .await)
}

/// One product by id: the hottest read (`product(id:)`, `node(id:)`), so its text is
/// fixed. diesel writes a query's SQL anew on every call, identifier by quoted identifier,
/// which cost more of the server's work than the rest of the read (bench/RESULTS.md).
/// The columns are [`ProductRow`]'s, read by name.
pub(crate) async fn find_product(conn: &mut Conn<'_>, id: i64) -> QueryResult<Option<ProductRow>> {
    macro_rules! by_id {
        ($placeholder:literal) => {
            concat!(
                "SELECT id, name, description, price_cents, stock, image_path, is_archived, ",
                "created_at, updated_at, review_count, rating_sum FROM products WHERE id = ",
                $placeholder
            )
        };
    }
    use diesel::sql_types::BigInt;
    db_run!(conn,
        sqlite c => FixedSql(diesel::sql_query(by_id!("?")).bind::<BigInt, _>(id))
            .get_result(c)
            .await
            .optional(),
        postgres c => FixedSql(diesel::sql_query(by_id!("$1")).bind::<BigInt, _>(id))
            .get_result(c)
            .await
            .optional()
    )
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

/// Inserts many products (the demo-data loader) and returns their ids, in order:
/// multi-row INSERTs on PostgreSQL; one INSERT per row on SQLite, whose async wrapper
/// has no batch insert (inside the caller's transaction that is still fast, with no
/// network between).
pub(crate) async fn insert_products(
    conn: &mut Conn<'_>,
    rows: &[NewProduct<'_>],
) -> QueryResult<Vec<i64>> {
    let mut ids = Vec::with_capacity(rows.len());
    db_run!(conn,
        sqlite c => {
            for row in rows {
                ids.push(diesel::insert_into(products::table)
                    .values(row)
                    .returning(products::id)
                    .get_result(c)
                    .await?);
            }
        },
        postgres c => {
            for chunk in rows.chunks(1000) {
                ids.extend(diesel::insert_into(products::table)
                    .values(chunk)
                    .returning(products::id)
                    .get_results::<i64>(c)
                    .await?);
            }
        }
    );
    Ok(ids)
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

/// Writes the product's row (its `updated_at`) and returns it: the first write of every
/// transaction that changes a variant, so that on PostgreSQL the product's row lock
/// orders those transactions. `None` when there is no such product.
pub(crate) async fn lock_product(
    conn: &mut Conn<'_>,
    id: i64,
    now: NaiveDateTime,
) -> QueryResult<Option<ProductRow>> {
    db_run!(conn, c => FixedSql(
        diesel::update(products::table.find(id))
            .set(products::updated_at.eq(now))
            .returning(ProductRow::as_returning())
    )
    .get_result(c)
    .await
    .optional())
}

/// Locks the product's row until the transaction ends and reads its rating aggregate:
/// the first write of every review change, so that on PostgreSQL those of one product
/// run one after the other and each sees the last one's aggregate (SQLite's write
/// transactions already do). `FOR NO KEY UPDATE`, not `FOR UPDATE`: inserts that refer
/// to the product (cart and wishlist lines, order lines) take a key-share lock on it,
/// which this one lets through, so no review write blocks them or deadlocks with them.
/// `None` when there is no such product.
pub(crate) async fn lock_rating(conn: &mut Conn<'_>, id: i64) -> QueryResult<Option<Rating>> {
    let row: Option<(i64, i32)> = db_run!(conn,
        sqlite c => products::table
            .find(id)
            .select((products::rating_sum, products::review_count))
            .first(c)
            .await
            .optional(),
        postgres c => products::table
            .find(id)
            .select((products::rating_sum, products::review_count))
            .for_no_key_update()
            .first(c)
            .await
            .optional()
    )?;
    Ok(row.map(|(sum, count)| Rating { sum, count }))
}

/// Writes the product's rating aggregate (and its mean, which the RATING sort reads)
/// and returns the product.
pub(crate) async fn set_rating(
    conn: &mut Conn<'_>,
    id: i64,
    rating: Rating,
) -> QueryResult<ProductRow> {
    db_run!(conn, c => diesel::update(products::table.find(id))
        .set((
            products::rating_sum.eq(rating.sum),
            products::review_count.eq(rating.count),
            products::rating_mean.eq(rating.mean()),
        ))
        .returning(ProductRow::as_returning())
        .get_result(c)
        .await)
}

/// Sets the values derived from the active variants: the lowest price (kept when there
/// is none) and the summed stock.
pub(crate) async fn set_derived(
    conn: &mut Conn<'_>,
    id: i64,
    price_cents: Option<i64>,
    stock: i32,
) -> QueryResult<Option<ProductRow>> {
    let changes = ProductChanges {
        price_cents,
        stock: Some(stock),
        ..Default::default()
    };
    update_product(conn, id, &changes).await
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
