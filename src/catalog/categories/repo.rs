//! Queries of the categories, category_closure, product_categories and
//! category_products tables.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::{CategoryRow, NewCategory};
use crate::db::schema::{
    categories, category_closure, category_products, product_categories, products,
};
use crate::db::{Conn, db_run};

pub(crate) async fn find_categories(
    conn: &mut Conn<'_>,
    ids: &[i64],
) -> QueryResult<Vec<CategoryRow>> {
    db_run!(conn, c => categories::table
        .filter(categories::id.eq_any(ids))
        .select(CategoryRow::as_select())
        .load(c)
        .await)
}

pub(crate) async fn find_category(
    conn: &mut Conn<'_>,
    id: i64,
) -> QueryResult<Option<CategoryRow>> {
    Ok(find_categories(conn, &[id]).await?.pop())
}

pub(crate) async fn find_by_slug(
    conn: &mut Conn<'_>,
    slug: &str,
) -> QueryResult<Option<CategoryRow>> {
    db_run!(conn, c => categories::table
        .filter(categories::slug.eq(slug))
        .select(CategoryRow::as_select())
        .first(c)
        .await
        .optional())
}

/// The roots (`None`) or the children of a category, by position then name.
pub(crate) async fn children(
    conn: &mut Conn<'_>,
    parent: Option<i64>,
) -> QueryResult<Vec<CategoryRow>> {
    db_run!(conn, c => {
        let query = categories::table
            .select(CategoryRow::as_select())
            .order((categories::position, categories::name, categories::id))
            .into_boxed();
        let query = match parent {
            Some(parent) => query.filter(categories::parent_id.eq(parent)),
            None => query.filter(categories::parent_id.is_null()),
        };
        query.load(c).await
    })
}

/// The children of any of these categories, by position then name.
pub(crate) async fn children_of(
    conn: &mut Conn<'_>,
    parents: &[i64],
) -> QueryResult<Vec<CategoryRow>> {
    db_run!(conn, c => categories::table
        .filter(categories::parent_id.eq_any(parents))
        .select(CategoryRow::as_select())
        .order((categories::position, categories::name, categories::id))
        .load(c)
        .await)
}

/// For each of these categories, its proper ancestors with their distance: pairs of
/// (category id, ancestor), nearest ancestor first.
pub(crate) async fn ancestors_of(
    conn: &mut Conn<'_>,
    ids: &[i64],
) -> QueryResult<Vec<(i64, CategoryRow)>> {
    db_run!(conn, c => category_closure::table
        .inner_join(categories::table.on(categories::id.eq(category_closure::ancestor_id)))
        .filter(category_closure::descendant_id.eq_any(ids))
        .filter(category_closure::depth.gt(0))
        .order((category_closure::descendant_id, category_closure::depth))
        .select((category_closure::descendant_id, CategoryRow::as_select()))
        .load(c)
        .await)
}

/// The ids of a category's ancestors (itself included) with their distance from it.
pub(crate) async fn ancestor_ids(conn: &mut Conn<'_>, id: i64) -> QueryResult<Vec<(i64, i32)>> {
    db_run!(conn, c => category_closure::table
        .filter(category_closure::descendant_id.eq(id))
        .select((category_closure::ancestor_id, category_closure::depth))
        .load(c)
        .await)
}

/// The ids of a category's subtree (itself included) with their distance from it.
pub(crate) async fn subtree_ids(conn: &mut Conn<'_>, id: i64) -> QueryResult<Vec<(i64, i32)>> {
    db_run!(conn, c => category_closure::table
        .filter(category_closure::ancestor_id.eq(id))
        .select((category_closure::descendant_id, category_closure::depth))
        .load(c)
        .await)
}

pub(crate) async fn slug_taken(conn: &mut Conn<'_>, slug: &str, except: i64) -> QueryResult<bool> {
    db_run!(conn, c => diesel::select(diesel::dsl::exists(
        categories::table
            .filter(categories::slug.eq(slug))
            .filter(categories::id.ne(except))
    ))
    .get_result(c)
    .await)
}

pub(crate) async fn insert_category(
    conn: &mut Conn<'_>,
    new: &NewCategory<'_>,
) -> QueryResult<CategoryRow> {
    db_run!(conn, c => diesel::insert_into(categories::table)
        .values(new)
        .returning(CategoryRow::as_returning())
        .get_result(c)
        .await)
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = categories)]
pub(crate) struct CategoryChanges<'a> {
    pub name: Option<&'a str>,
    pub slug: Option<&'a str>,
    pub description: Option<&'a str>,
    pub position: Option<i32>,
    pub parent_id: Option<Option<i64>>,
    pub updated_at: Option<NaiveDateTime>,
}

pub(crate) async fn update_category(
    conn: &mut Conn<'_>,
    id: i64,
    changes: &CategoryChanges<'_>,
) -> QueryResult<CategoryRow> {
    db_run!(conn, c => diesel::update(categories::table.find(id))
        .set(changes)
        .returning(CategoryRow::as_returning())
        .get_result(c)
        .await)
}

/// Deletes a category; its closure rows and product memberships go with it (cascade),
/// and its products are no longer listed in its ancestors through it.
pub(crate) async fn delete_category(conn: &mut Conn<'_>, id: i64) -> QueryResult<usize> {
    let members = products_in(conn, &[id]).await?;
    let deleted = db_run!(conn, c => diesel::delete(categories::table.find(id))
        .execute(c)
        .await)?;
    refresh_listings(conn, &members).await?;
    Ok(deleted)
}

pub(crate) async fn has_children(conn: &mut Conn<'_>, id: i64) -> QueryResult<bool> {
    db_run!(conn, c => diesel::select(diesel::dsl::exists(
        categories::table.filter(categories::parent_id.eq(id))
    ))
    .get_result(c)
    .await)
}

/// Closure rows, inserted one statement per row on SQLite (in-process, no round trips)
/// and in one statement on PostgreSQL.
async fn insert_closure(conn: &mut Conn<'_>, rows: &[(i64, i64, i32)]) -> QueryResult<()> {
    let values: Vec<_> = rows
        .iter()
        .map(|&(ancestor, descendant, depth)| {
            (
                category_closure::ancestor_id.eq(ancestor),
                category_closure::descendant_id.eq(descendant),
                category_closure::depth.eq(depth),
            )
        })
        .collect();
    db_run!(conn,
        sqlite c => {
            for row in values {
                diesel::insert_into(category_closure::table).values(row).execute(c).await?;
            }
        },
        postgres c => {
            diesel::insert_into(category_closure::table).values(values).execute(c).await?;
        }
    );
    Ok(())
}

/// The closure rows of a new leaf: itself, and each ancestor of its parent one further.
pub(crate) async fn link_new(conn: &mut Conn<'_>, id: i64, parent: Option<i64>) -> QueryResult<()> {
    let mut rows = vec![(id, id, 0)];
    if let Some(parent) = parent {
        for (ancestor, depth) in ancestor_ids(conn, parent).await? {
            rows.push((ancestor, id, depth + 1));
        }
    }
    insert_closure(conn, &rows).await
}

/// Re-links a subtree under a new parent (or as a root): the pairs between the subtree
/// and its old ancestors go, pairs with the new ancestors come. The caller has checked
/// that the new parent is not inside the subtree.
pub(crate) async fn move_subtree(
    conn: &mut Conn<'_>,
    id: i64,
    new_parent: Option<i64>,
) -> QueryResult<()> {
    let subtree = subtree_ids(conn, id).await?;
    let old_ancestors: Vec<i64> = ancestor_ids(conn, id)
        .await?
        .into_iter()
        .filter(|&(_, depth)| depth > 0)
        .map(|(ancestor, _)| ancestor)
        .collect();
    let members: Vec<i64> = subtree.iter().map(|&(d, _)| d).collect();
    db_run!(conn, c => diesel::delete(
        category_closure::table
            .filter(category_closure::descendant_id.eq_any(&members))
            .filter(category_closure::ancestor_id.eq_any(&old_ancestors))
    )
    .execute(c)
    .await)?;
    if let Some(parent) = new_parent {
        let mut rows = Vec::new();
        for (ancestor, up) in ancestor_ids(conn, parent).await? {
            for &(descendant, down) in &subtree {
                rows.push((ancestor, descendant, up + down + 1));
            }
        }
        insert_closure(conn, &rows).await?;
    }
    let moved = products_in(conn, &members).await?;
    refresh_listings(conn, &moved).await
}

/// Replaces a product's categories.
pub(crate) async fn set_product_categories(
    conn: &mut Conn<'_>,
    product_id: i64,
    category_ids: &[i64],
) -> QueryResult<()> {
    db_run!(conn, c => diesel::delete(
        product_categories::table.filter(product_categories::product_id.eq(product_id))
    )
    .execute(c)
    .await)?;
    let pairs: Vec<(i64, i64)> = category_ids.iter().map(|&c| (product_id, c)).collect();
    insert_memberships(conn, &pairs).await?;
    refresh_listings(conn, &[product_id]).await
}

/// Puts products that are in no category yet into categories, (product, category)
/// pairs, in a few statements per thousand products (demo data).
pub(crate) async fn place_new_products(
    conn: &mut Conn<'_>,
    pairs: &[(i64, i64)],
) -> QueryResult<()> {
    for chunk in pairs.chunks(1000) {
        insert_memberships(conn, chunk).await?;
    }
    let mut products: Vec<i64> = pairs.iter().map(|&(p, _)| p).collect();
    products.dedup();
    refresh_listings(conn, &products).await
}

/// Inserts (product, category) memberships; the caller refreshes the listings.
async fn insert_memberships(conn: &mut Conn<'_>, pairs: &[(i64, i64)]) -> QueryResult<()> {
    let values: Vec<_> = pairs
        .iter()
        .map(|&(product_id, category)| {
            (
                product_categories::category_id.eq(category),
                product_categories::product_id.eq(product_id),
            )
        })
        .collect();
    db_run!(conn,
        sqlite c => {
            for row in values {
                diesel::insert_into(product_categories::table).values(row).execute(c).await?;
            }
        },
        postgres c => {
            if !values.is_empty() {
                diesel::insert_into(product_categories::table).values(values).execute(c).await?;
            }
        }
    );
    Ok(())
}

/// The products directly in any of these categories.
async fn products_in(conn: &mut Conn<'_>, category_ids: &[i64]) -> QueryResult<Vec<i64>> {
    db_run!(conn, c => product_categories::table
        .filter(product_categories::category_id.eq_any(category_ids))
        .select(product_categories::product_id)
        .distinct()
        .load(c)
        .await)
}

/// Rewrites these products' rows of `category_products` (every category they are in,
/// directly or below it) from their memberships and the tree as they are now. A move of
/// a large subtree goes a thousand products at a time (SQLite caps a statement's
/// parameters).
async fn refresh_listings(conn: &mut Conn<'_>, product_ids: &[i64]) -> QueryResult<()> {
    for chunk in product_ids.chunks(1000) {
        refresh_some_listings(conn, chunk).await?;
    }
    Ok(())
}

async fn refresh_some_listings(conn: &mut Conn<'_>, product_ids: &[i64]) -> QueryResult<()> {
    db_run!(conn, c => diesel::delete(
        category_products::table.filter(category_products::product_id.eq_any(product_ids))
    )
    .execute(c)
    .await)?;
    db_run!(conn, c => diesel::insert_into(category_products::table)
        .values(
            product_categories::table
                .inner_join(
                    category_closure::table
                        .on(category_closure::descendant_id.eq(product_categories::category_id)),
                )
                .inner_join(products::table)
                .filter(product_categories::product_id.eq_any(product_ids))
                .select((
                    category_closure::ancestor_id,
                    product_categories::product_id,
                    products::created_at,
                ))
                .distinct(),
        )
        .into_columns((
            category_products::category_id,
            category_products::product_id,
            category_products::created_at,
        ))
        .execute(c)
        .await)?;
    Ok(())
}

/// The categories of these products: pairs of (product id, category), by name.
pub(crate) async fn categories_of(
    conn: &mut Conn<'_>,
    product_ids: &[i64],
) -> QueryResult<Vec<(i64, CategoryRow)>> {
    db_run!(conn, c => product_categories::table
        .inner_join(categories::table)
        .filter(product_categories::product_id.eq_any(product_ids))
        .order((categories::name, categories::id))
        .select((product_categories::product_id, CategoryRow::as_select()))
        .load(c)
        .await)
}
