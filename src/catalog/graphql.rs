//! The catalog part of the schema: `Product`, `products` with its facets, `product` and
//! the admin mutations on products.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject, Upload};

use super::Catalog;
use super::categories::graphql::{Category, category_ids};
use super::images;
use super::model::{
    ProductListFilter, ProductOrder, ProductPage, ProductRow, ProductSortField, SortDirection,
};
use super::service::{NewProductInput, PriceInput, ProductUpdate};
use super::variants::graphql::{
    PriceRange, ProductOption, ProductVariant, SelectedOptionInput, options_of, visible_variants,
};
use super::variants::model::{SelectedOption, product_options};
use crate::accounts::model::{Role, UserRow};
use crate::error::{AppError, UserError};
use crate::graphql::ids::{NodeKind, encode_id, id_of_kind};
use crate::graphql::loaders::loaders;
use crate::graphql::pagination::{Cursor, MalformedCursor, numeric_key, page_of, time_key};
use crate::graphql::payload::split;
use crate::graphql::scalars::{DateTime, Decimal};
use crate::graphql::viewer::{RoleGuard, require_user, viewer};

fn catalog<'a>(ctx: &Context<'a>) -> &'a Catalog {
    ctx.data_unchecked::<Catalog>()
}

/// The sort key of `row` in the page's sort, as its cursor carries it.
fn sort_key(page: &ProductPage, row: &ProductRow) -> String {
    match page {
        ProductPage::CreatedAt(..) => crate::db::time_to_micros(row.created_at).to_string(),
        ProductPage::Name(..) => row.name.clone(),
        ProductPage::Price(..) => row.price_cents.to_string(),
        ProductPage::Rating(..) => rating_key_text(row.rating().mean()),
    }
}

/// How a RATING cursor carries its key: the mean as the shortest text that reads back
/// as the same double, or `-` in the section of unrated products.
fn rating_key_text(mean: Option<f64>) -> String {
    mean.map_or_else(|| "-".to_owned(), |mean| mean.to_string())
}

fn rating_key(text: String) -> Result<Option<f64>, AppError> {
    if text == "-" {
        return Ok(None);
    }
    match text.parse::<f64>() {
        Ok(mean) if (1.0..=5.0).contains(&mean) => Ok(Some(mean)),
        _ => Err(MalformedCursor.into()),
    }
}

/// Whether anonymous visitors may read the catalog (CATALOG_PUBLIC), in the schema's data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CatalogVisibility {
    pub public: bool,
}

pub(crate) struct Product(pub ProductRow);

#[Object]
impl Product {
    pub(crate) async fn id(&self) -> ID {
        encode_id(NodeKind::Product, self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn price(&self) -> Decimal {
        Decimal::Cents(self.0.price_cents)
    }
    async fn stock(&self) -> i32 {
        self.0.stock
    }
    async fn in_stock(&self) -> bool {
        self.0.stock > 0
    }
    /// Whether the product is on the viewer's wishlist; false for anonymous visitors
    /// and admins.
    async fn in_wishlist(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        crate::wishlist::graphql::in_wishlist(ctx, self.0.id).await
    }
    /// Mean of the published ratings, rounded half up to one decimal; null when there
    /// are none.
    async fn average_rating(&self) -> Option<f64> {
        self.0.rating().rounded()
    }
    /// Number of published reviews.
    async fn review_count(&self) -> i32 {
        self.0.review_count
    }
    /// Published reviews, newest first; admins also see hidden ones.
    #[graphql(
        complexity = "crate::graphql::pagination::page_complexity(first, last, child_complexity)"
    )]
    async fn reviews(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<crate::reviews::graphql::ReviewConnection> {
        crate::reviews::graphql::product_reviews(ctx, &self.0, (first, after, last, before)).await
    }
    /// The viewer's own review of this product, whatever its status; null for
    /// anonymous visitors and admins.
    async fn my_review(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<crate::reviews::graphql::Review>> {
        crate::reviews::graphql::my_review(ctx, self.0.id).await
    }
    /// Absolute or root-relative URL of the product image, served by this server.
    async fn image_url(&self) -> Option<String> {
        self.0.image_path.as_deref().map(images::url)
    }
    async fn is_archived(&self) -> bool {
        self.0.is_archived
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }
    /// Ordered by name.
    async fn categories(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Category>> {
        let categories = loaders(ctx)
            .product_categories()
            .load_one(self.0.id)
            .await?;
        Ok(categories
            .unwrap_or_default()
            .into_iter()
            .map(Category)
            .collect())
    }
    /// Derived from the active variants' selected options.
    async fn options(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ProductOption>> {
        let active = visible_variants(ctx, self.0.id, false).await?;
        Ok(product_options(&active)
            .into_iter()
            .map(|(name, values)| ProductOption { name, values })
            .collect())
    }
    /// Active variants, in creation order (admins: archived ones too, after the active ones).
    async fn variants(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ProductVariant>> {
        let viewer = catalog_reader(ctx, true).await?;
        let is_admin = viewer.is_some_and(|v| v.role() == Role::Admin);
        let shown = visible_variants(ctx, self.0.id, is_admin).await?;
        Ok(shown.into_iter().map(ProductVariant).collect())
    }
    /// Lowest and highest price over the active variants.
    async fn price_range(&self, ctx: &Context<'_>) -> async_graphql::Result<PriceRange> {
        let active = visible_variants(ctx, self.0.id, false).await?;
        let prices = active.iter().map(|v| v.row.price_cents);
        let (min, max) = (prices.clone().min(), prices.max());
        // A product always has an active variant; its derived price stands in otherwise.
        Ok(PriceRange {
            min: Decimal::Cents(min.unwrap_or(self.0.price_cents)),
            max: Decimal::Cents(max.unwrap_or(self.0.price_cents)),
        })
    }
}

/// Who may read the catalog: everyone when CATALOG_PUBLIC is on (a bad token is then
/// ignored), otherwise signed-in users. Returns the viewer, if any. On a public catalog
/// the user is read only when `for_admin_rights`: a read that no role changes needs no
/// database round trip for its token.
pub(crate) async fn catalog_reader<'a>(
    ctx: &Context<'a>,
    for_admin_rights: bool,
) -> Result<Option<&'a UserRow>, AppError> {
    if ctx.data_unchecked::<CatalogVisibility>().public {
        if !for_admin_rights {
            return Ok(None);
        }
        Ok(viewer(ctx).await.ok().flatten())
    } else {
        require_user(ctx).await.map(Some)
    }
}

/// `product(id:)` and `node(id:)` for products; archived ones included.
pub(crate) async fn product_node(ctx: &Context<'_>, id: i64) -> Result<Option<Product>, AppError> {
    catalog_reader(ctx, false).await?;
    Ok(catalog(ctx).product(id).await?.map(Product))
}

#[derive(InputObject, Default)]
pub(crate) struct ProductFilter {
    /// Every word must occur, case-insensitively, in the name or the description.
    search: Option<String>,
    min_price: Option<Decimal>,
    max_price: Option<Decimal>,
    in_stock: Option<bool>,
    /// Admins only; ignored for everyone else.
    include_archived: Option<bool>,
    /// Products in this category or any category below it.
    category_id: Option<ID>,
    /// Products with at least one active variant having all these option values.
    options: Option<Vec<SelectedOptionInput>>,
}

#[derive(InputObject)]
pub(crate) struct ProductSort {
    field: ProductSortField,
    #[graphql(default_with = "SortDirection::Asc")]
    direction: SortDirection,
}

/// Most words a search may hold; each is one more LIKE condition.
const MAX_SEARCH_WORDS: usize = 10;
/// Most option values a filter may hold; each is one more subquery.
const MAX_FILTER_OPTIONS: usize = 10;

impl ProductFilter {
    fn validate(self, is_admin: bool) -> Result<ProductListFilter, AppError> {
        let words: Vec<String> = self
            .search
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        if words.len() > MAX_SEARCH_WORDS || words.iter().any(|w| w.chars().count() > 100) {
            return Err(AppError::bad_input(format!(
                "search takes at most {MAX_SEARCH_WORDS} words of at most 100 characters"
            )));
        }
        let cents = |d: Option<Decimal>, name: &str| {
            d.map(|d| {
                d.to_cents().ok_or_else(|| {
                    AppError::bad_input(format!("{name} must have at most two decimals"))
                })
            })
            .transpose()
        };
        let options: Vec<SelectedOption> = options_of(self.options)
            .into_iter()
            .map(|o| SelectedOption {
                name: o.name.trim().to_owned(),
                value: o.value.trim().to_owned(),
            })
            .collect();
        if options.len() > MAX_FILTER_OPTIONS
            || options
                .iter()
                .any(|o| o.name.chars().count() > 100 || o.value.chars().count() > 100)
        {
            return Err(AppError::bad_input(format!(
                "a filter takes at most {MAX_FILTER_OPTIONS} options of at most 100 characters"
            )));
        }
        let category_id = match &self.category_id {
            // An id of another kind names no category: nothing matches.
            Some(id) => Some(id_of_kind(id, NodeKind::Category)?.unwrap_or(0)),
            None => None,
        };
        Ok(ProductListFilter {
            words,
            min_price_cents: cents(self.min_price, "minPrice")?,
            max_price_cents: cents(self.max_price, "maxPrice")?,
            in_stock: self.in_stock,
            include_archived: is_admin && self.include_archived.unwrap_or(false),
            category_id,
            options,
        })
    }
}

/// `totalCount` of `ProductConnection`, counted only when asked for.
pub(crate) struct ProductConnectionFields {
    filter: ProductListFilter,
}

#[Object]
impl ProductConnectionFields {
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let count = catalog(ctx).count_products(&self.filter).await?;
        Ok(count as i32)
    }
    /// Computed only when selected.
    async fn facets(&self) -> ProductFacets {
        ProductFacets {
            filter: self.filter.clone(),
        }
    }
}

#[derive(SimpleObject)]
pub(crate) struct CategoryFacet {
    category: Category,
    count: i32,
}

#[derive(SimpleObject)]
pub(crate) struct OptionValueFacet {
    value: String,
    count: i32,
}

#[derive(SimpleObject)]
pub(crate) struct OptionFacet {
    name: String,
    values: Vec<OptionValueFacet>,
}

/// Counts over the products matching the connection's filter (each facet ignores its
/// own filter); each field is its own statement, run only when selected.
pub(crate) struct ProductFacets {
    filter: ProductListFilter,
}

#[Object]
impl ProductFacets {
    /// The children of filter.categoryId (or the root categories) that hold matching
    /// products, with counts.
    async fn categories(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<CategoryFacet>> {
        let counts = catalog(ctx).category_facet(&self.filter).await?;
        Ok(counts
            .into_iter()
            .map(|(category, count)| CategoryFacet {
                category: Category(category),
                count: count as i32,
            })
            .collect())
    }
    /// Option values of the matching products' active variants, with product counts.
    async fn options(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<OptionFacet>> {
        let mut rows = catalog(ctx).option_facet(&self.filter).await?;
        // Names by name; values by count, most first, then by value.
        rows.sort_by(|a, b| a.0.cmp(&b.0).then(b.2.cmp(&a.2)).then(a.1.cmp(&b.1)));
        let mut facets: Vec<OptionFacet> = Vec::new();
        for (name, value, count) in rows {
            let value = OptionValueFacet {
                value,
                count: count as i32,
            };
            match facets.last_mut() {
                Some(facet) if facet.name == name => facet.values.push(value),
                _ => facets.push(OptionFacet {
                    name,
                    values: vec![value],
                }),
            }
        }
        Ok(facets)
    }
    /// How many matching products are in stock.
    async fn in_stock_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        Ok(catalog(ctx).in_stock_facet(&self.filter).await? as i32)
    }
    /// Lowest and highest variant price among matching products; null when none match.
    async fn price_range(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PriceRange>> {
        let range = catalog(ctx).price_facet(&self.filter).await?;
        Ok(range.map(|(min, max)| PriceRange {
            min: Decimal::Cents(min),
            max: Decimal::Cents(max),
        }))
    }
}

pub(crate) type ProductConnection = Connection<Cursor, Product, ProductConnectionFields>;

/// The arguments `first`, `after`, `last`, `before` of a connection.
pub(crate) type PageArgs = (Option<i32>, Option<String>, Option<i32>, Option<String>);

/// A page of products: `products` and `Category.products` (which sets `category`, the
/// filter's `categoryId` then being the category's own).
pub(crate) async fn product_connection(
    ctx: &Context<'_>,
    (first, after, last, before): PageArgs,
    filter: Option<ProductFilter>,
    sort: Option<ProductSort>,
    category: Option<i64>,
) -> async_graphql::Result<ProductConnection> {
    let asks_for_archived = filter
        .as_ref()
        .is_some_and(|f| f.include_archived == Some(true));
    let viewer = catalog_reader(ctx, asks_for_archived).await?;
    let is_admin = viewer.is_some_and(|v| v.role() == Role::Admin);
    let page = page_of(first, after, last, before)?;
    let mut filter = filter.unwrap_or_default().validate(is_admin)?;
    if category.is_some() {
        filter.category_id = category;
    }
    let order = sort.map_or_else(ProductOrder::default, |s| ProductOrder {
        field: s.field,
        direction: s.direction,
    });
    let direction = order.direction;
    let products_page = match order.field {
        ProductSortField::CreatedAt => {
            ProductPage::CreatedAt(page.try_map_key(time_key)?, direction)
        }
        ProductSortField::Name => ProductPage::Name(page, direction),
        ProductSortField::Price => ProductPage::Price(page.try_map_key(numeric_key)?, direction),
        ProductSortField::Rating => ProductPage::Rating(page.try_map_key(rating_key)?, direction),
    };
    let rows = catalog(ctx).products(&filter, &products_page).await?;
    let page = products_page.fetched(rows);
    let mut connection = Connection::with_additional_fields(
        page.has_previous_page,
        page.has_next_page,
        ProductConnectionFields { filter },
    );
    connection.edges.extend(page.rows.into_iter().map(|row| {
        let key = sort_key(&products_page, &row);
        let cursor = Cursor { id: row.id, key };
        Edge::new(cursor, Product(row))
    }));
    Ok(connection)
}

#[derive(Default)]
pub(crate) struct CatalogQuery;

#[Object]
impl CatalogQuery {
    #[graphql(
        complexity = "crate::graphql::pagination::page_complexity(first, last, child_complexity)"
    )]
    #[expect(
        clippy::too_many_arguments,
        reason = "one parameter per GraphQL argument of the contract"
    )]
    async fn products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<ProductFilter>,
        sort: Option<ProductSort>,
    ) -> async_graphql::Result<ProductConnection> {
        product_connection(ctx, (first, after, last, before), filter, sort, None).await
    }

    async fn product(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Product>> {
        match id_of_kind(&id, NodeKind::Product)? {
            Some(id) => Ok(product_node(ctx, id).await?),
            None => Ok(None),
        }
    }
}

#[derive(SimpleObject)]
pub(crate) struct ProductPayload {
    product: Option<Product>,
    user_errors: Vec<UserError>,
}

impl ProductPayload {
    pub(crate) fn from_result(result: Result<ProductRow, AppError>) -> async_graphql::Result<Self> {
        let (product, user_errors) = split(result)?;
        Ok(ProductPayload {
            product: product.map(Product),
            user_errors,
        })
    }
}

#[derive(SimpleObject)]
pub(crate) struct DeleteProductPayload {
    deleted_product_id: Option<ID>,
    user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub(crate) struct CreateProductInput {
    name: String,
    #[graphql(default_with = "Some(String::new())")]
    description: Option<String>,
    price: Decimal,
    #[graphql(default_with = "Some(0)")]
    stock: Option<i32>,
    /// SKU of the product's first variant; generated when omitted.
    sku: Option<String>,
    /// Options of the product's first variant.
    options: Option<Vec<SelectedOptionInput>>,
    category_ids: Option<Vec<ID>>,
}

#[derive(InputObject)]
pub(crate) struct UpdateProductInput {
    id: ID,
    name: Option<String>,
    description: Option<String>,
    price: Option<Decimal>,
    stock: Option<i32>,
    is_archived: Option<bool>,
}

#[derive(InputObject)]
pub(crate) struct DeleteProductInput {
    id: ID,
}

#[derive(InputObject)]
pub(crate) struct AdjustStockInput {
    product_id: ID,
    /// Units to add (positive) or remove (negative); stock never goes below zero.
    delta: i32,
    /// Which variant of productId; required when the product has more than one active variant.
    variant_id: Option<ID>,
}

#[derive(InputObject)]
pub(crate) struct UploadProductImageInput {
    product_id: ID,
    image: Upload,
}

#[derive(Default)]
pub(crate) struct CatalogMutation;

#[Object]
impl CatalogMutation {
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn create_product(
        &self,
        ctx: &Context<'_>,
        input: CreateProductInput,
    ) -> async_graphql::Result<ProductPayload> {
        let input = NewProductInput {
            name: input.name,
            description: input.description.unwrap_or_default(),
            price: PriceInput::from_cents(input.price.to_cents()),
            stock: input.stock.unwrap_or(0),
            sku: input.sku,
            options: options_of(input.options),
            category_ids: category_ids(&input.category_ids.unwrap_or_default())?,
        };
        ProductPayload::from_result(catalog(ctx).create_product(input).await)
    }

    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn update_product(
        &self,
        ctx: &Context<'_>,
        input: UpdateProductInput,
    ) -> async_graphql::Result<ProductPayload> {
        let id = id_of_kind(&input.id, NodeKind::Product)?;
        let update = ProductUpdate {
            name: input.name,
            description: input.description,
            price: input.price.map(|p| PriceInput::from_cents(p.to_cents())),
            stock: input.stock,
            is_archived: input.is_archived,
        };
        ProductPayload::from_result(catalog(ctx).update_product(id, update).await)
    }

    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn delete_product(
        &self,
        ctx: &Context<'_>,
        input: DeleteProductInput,
    ) -> async_graphql::Result<DeleteProductPayload> {
        let id = id_of_kind(&input.id, NodeKind::Product)?;
        let (deleted, user_errors) = split(catalog(ctx).delete_product(id).await)?;
        Ok(DeleteProductPayload {
            deleted_product_id: deleted.map(|id| encode_id(NodeKind::Product, id)),
            user_errors,
        })
    }

    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn adjust_stock(
        &self,
        ctx: &Context<'_>,
        input: AdjustStockInput,
    ) -> async_graphql::Result<ProductPayload> {
        let id = id_of_kind(&input.product_id, NodeKind::Product)?;
        let variant = input
            .variant_id
            .as_ref()
            .map(|v| id_of_kind(v, NodeKind::ProductVariant))
            .transpose()?;
        ProductPayload::from_result(catalog(ctx).adjust_stock(id, variant, input.delta).await)
    }

    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn upload_product_image(
        &self,
        ctx: &Context<'_>,
        input: UploadProductImageInput,
    ) -> async_graphql::Result<ProductPayload> {
        let id = id_of_kind(&input.product_id, NodeKind::Product)?;
        let limit = catalog(ctx).max_image_bytes();
        let upload = input
            .image
            .value(ctx)
            .map_err(|_| AppError::bad_input("the image part of the upload is missing"))?;
        // Read one byte past the limit: enough to tell "too large" without reading it all.
        let bytes = tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let mut bytes = Vec::new();
            upload
                .into_read()
                .take(limit as u64 + 1)
                .read_to_end(&mut bytes)
                .map(|_| bytes)
        })
        .await
        .map_err(|e| AppError::internal(e.to_string()))?
        .map_err(|e| AppError::internal(format!("reading upload: {e}")))?;
        ProductPayload::from_result(catalog(ctx).set_image(id, bytes).await)
    }
}
