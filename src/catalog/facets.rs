//! Facets of a product list: counts over the products that match a filter, each facet
//! ignoring its own part of the filter.
//!
//! Each facet is one grouped statement (the category facet two: the children, then
//! their counts), whatever the size of the catalog: the filter is applied inside the
//! database as `products.id IN (…)` subqueries, never by loading the matching products.

use diesel::dsl::{count, count_star, max, min};
use diesel::prelude::AggregateExpressionMethods;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::categories::model::CategoryRow;
use super::model::ProductListFilter;
use super::repo::{FilterArgs, filter_products, variants_with_options};
use super::variants::model::SelectedOption;
use crate::db::schema::{category_products, product_variants, products, variant_options};
use crate::db::{Conn, db_run};

/// The children of `filter.category_id` (or the roots) that hold matching products in
/// their subtree, with how many, by position then name.
pub(crate) async fn categories(
    conn: &mut Conn<'_>,
    filter: &ProductListFilter,
) -> QueryResult<Vec<(CategoryRow, i64)>> {
    let children = super::categories::repo::children(conn, filter.category_id).await?;
    if children.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = children.iter().map(|c| c.id).collect();
    // Each child's subtree lies inside the filter's category: that part of the filter
    // holds by construction.
    let rest = ProductListFilter {
        category_id: None,
        ..filter.clone()
    };
    let args = FilterArgs::of(&rest);
    let counts: Vec<(i64, i64)> = db_run!(conn, c => category_products::table
        .filter(category_products::category_id.eq_any(&ids))
        .filter(category_products::product_id.eq_any(filter_products!(
            products::table.select(products::id).into_boxed(),
            &rest,
            &args
        )))
        .group_by(category_products::category_id)
        .select((category_products::category_id, count_star()))
        .load(c)
        .await)?;
    Ok(children
        .into_iter()
        .filter_map(|child| {
            let count = counts.iter().find(|(id, _)| *id == child.id)?.1;
            (count > 0).then_some((child, count))
        })
        .collect())
}

/// (name, value, products) for every option value of the matching products' active
/// variants. For a name the filter constrains, its own value is ignored: a variant
/// counts when it has the filter's values for the other names.
pub(crate) async fn options(
    conn: &mut Conn<'_>,
    filter: &ProductListFilter,
) -> QueryResult<Vec<(String, String, i64)>> {
    let rest = ProductListFilter {
        options: Vec::new(),
        // Stock is a variant's here: checked on the variants below.
        in_stock: filter.in_stock.filter(|wanted| !wanted),
        ..filter.clone()
    };
    let variant_in_stock = filter.in_stock == Some(true);
    let args = FilterArgs::of(&rest);
    let names: Vec<&str> = filter.options.iter().map(|o| o.name.as_str()).collect();
    // For each constrained name: the filter's values for the other names.
    let others: Vec<Vec<SelectedOption>> = filter
        .options
        .iter()
        .map(|own| {
            filter
                .options
                .iter()
                .filter(|o| o.name != own.name)
                .cloned()
                .collect()
        })
        .collect();
    db_run!(conn, c => {
        let matching_products =
            || filter_products!(products::table.select(products::id).into_boxed(), &rest, &args);
        macro_rules! matching_variants {
            ($options:expr) => {{
                let variants = variants_with_options!($options, product_variants::id);
                if variant_in_stock {
                    variants.filter(product_variants::stock.gt(0))
                } else {
                    variants
                }
            }};
        }
        let mut query = variant_options::table
            .group_by((variant_options::name, variant_options::value))
            .select((
                variant_options::name,
                variant_options::value,
                count(variant_options::product_id).aggregate_distinct(),
            ))
            .into_boxed()
            .filter(
                variant_options::name
                    .ne_all(&names)
                    .and(variant_options::variant_id.eq_any(matching_variants!(&filter.options)))
                    .and(variant_options::product_id.eq_any(matching_products())),
            );
        for (own, others) in filter.options.iter().zip(&others) {
            query = query.or_filter(
                variant_options::name
                    .eq(&own.name)
                    .and(variant_options::variant_id.eq_any(matching_variants!(others)))
                    .and(variant_options::product_id.eq_any(matching_products())),
            );
        }
        query.load(c).await
    })
}

/// How many matching products (ignoring the filter's `inStock`) have an active variant
/// in stock that has the filter's option values.
pub(crate) async fn in_stock_count(
    conn: &mut Conn<'_>,
    filter: &ProductListFilter,
) -> QueryResult<i64> {
    let rest = ProductListFilter {
        options: Vec::new(),
        in_stock: None,
        ..filter.clone()
    };
    let args = FilterArgs::of(&rest);
    db_run!(conn, c => variants_with_options!(
        &filter.options,
        count(product_variants::product_id).aggregate_distinct()
    )
    .filter(product_variants::stock.gt(0))
    .filter(product_variants::product_id.eq_any(filter_products!(
        products::table.select(products::id).into_boxed(),
        &rest,
        &args
    )))
    .get_result(c)
    .await)
}

/// The lowest and highest price of the active variants that have the filter's option
/// values, over the matching products ignoring `minPrice`/`maxPrice`; `None` when none
/// match.
pub(crate) async fn price_range(
    conn: &mut Conn<'_>,
    filter: &ProductListFilter,
) -> QueryResult<Option<(i64, i64)>> {
    let rest = ProductListFilter {
        options: Vec::new(),
        min_price_cents: None,
        max_price_cents: None,
        ..filter.clone()
    };
    let variant_in_stock = filter.in_stock == Some(true);
    let args = FilterArgs::of(&rest);
    let (low, high): (Option<i64>, Option<i64>) = db_run!(conn, c => {
        let variants = variants_with_options!(
            &filter.options,
            (min(product_variants::price_cents), max(product_variants::price_cents))
        )
        .filter(product_variants::product_id.eq_any(filter_products!(
            products::table.select(products::id).into_boxed(),
            &rest,
            &args
        )));
        let variants = if variant_in_stock {
            variants.filter(product_variants::stock.gt(0))
        } else {
            variants
        };
        variants.get_result(c).await
    })?;
    Ok(low.zip(high))
}
