//! Catalog rules: product validation, archiving and deletion, stock, images.

use super::categories::model::CategoryRow;
use super::facet_cache::{FacetCache, FacetKind, FacetValue};
use super::images::{ImageFormat, Images};
use super::model::{NewProduct, ProductListFilter, ProductPage, ProductRow, search_text};
use super::repo::{self, ProductChanges};
use super::variants::model::{NewVariant, SelectedOption, title_of};
use super::variants::repo::VariantChanges;
use super::variants::service::{check_options, check_sku, sku_race, sku_taken};
use super::{categories, facets, variants};
use crate::db::money::MAX_PRICE_CENTS;
use crate::db::writer_lock::{Writers, lock};
use crate::db::{Conn, Db, now};
use crate::error::{AppError, AppResult, UserErrorCode};

/// The catalog room: it owns the `products` table and every stock change (orders take
/// and return stock through [`repo::take_stock`] and [`repo::return_stock`] inside their
/// own transactions), and the product images under MEDIA_DIR.
#[derive(Clone)]
pub(crate) struct Catalog {
    pub(super) db: Db,
    images: Images,
    facets: FacetCache,
}

/// A price as the client sent it: whole cents, or an amount finer than a cent, which
/// the rules refuse with their own message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PriceInput {
    Cents(i64),
    FinerThanCents,
}

impl PriceInput {
    /// From a conversion to cents that fails for amounts finer than a cent.
    pub(crate) fn from_cents(cents: Option<i64>) -> Self {
        cents.map_or(PriceInput::FinerThanCents, PriceInput::Cents)
    }
}

pub(crate) const MAX_NAME_CHARS: usize = 200;
pub(crate) const MAX_DESCRIPTION_CHARS: usize = 10_000;

fn invalid(field: &str, message: impl Into<String>) -> AppError {
    AppError::input(UserErrorCode::InvalidInput, field, message)
}

/// Whether `c` shows nothing: whitespace, a control character, or one of Unicode's
/// invisible format characters (zero-width spaces and joiners, direction marks, variation
/// selectors, fillers, tags).
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}'
            | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}')
}

/// Whether a name would show as nothing at all (a name of only invisible characters).
pub(crate) fn is_blank(name: &str) -> bool {
    name.chars().all(is_invisible)
}

/// A trimmed name of 1..=200 characters, not all of them invisible.
pub(crate) fn check_name(raw: &str) -> AppResult<String> {
    let name = raw.trim();
    let chars = name.chars().count();
    if is_blank(name) || chars > MAX_NAME_CHARS || name.contains('\0') {
        return Err(invalid(
            "name",
            format!("name must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(name.to_owned())
}

pub(crate) fn check_description(raw: &str) -> AppResult<String> {
    if raw.chars().count() > MAX_DESCRIPTION_CHARS || raw.contains('\0') {
        return Err(invalid(
            "description",
            format!("description must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    Ok(raw.trim().to_owned())
}

/// More than zero, at most 99,999,999.99, at most two decimals.
pub(crate) fn check_price(price: PriceInput) -> AppResult<i64> {
    match price {
        PriceInput::Cents(cents) if cents > 0 && cents <= MAX_PRICE_CENTS => Ok(cents),
        PriceInput::Cents(_) => Err(invalid(
            "price",
            "price must be more than 0 and at most 99999999.99",
        )),
        PriceInput::FinerThanCents => Err(invalid("price", "price must have at most two decimals")),
    }
}

/// Queues the `PRODUCT_OUT_OF_STOCK` webhook deliveries of a variant whose stock has just
/// reached 0, in the transaction that took the last unit.
pub(crate) async fn sold_out(
    tx: &mut crate::db::Conn<'_>,
    variant: &variants::model::VariantRow,
    now: chrono::NaiveDateTime,
) -> AppResult<()> {
    let data =
        crate::webhooks::payload::out_of_stock_data(variant.product_id, variant.id, &variant.sku);
    crate::webhooks::repo::queue_out_of_stock(tx, &data, now).await?;
    Ok(())
}

pub(crate) fn check_stock(stock: i32) -> AppResult<i32> {
    if stock < 0 {
        return Err(invalid("stock", "stock must not be negative"));
    }
    Ok(stock)
}

/// A product's categories: at most 20, each once; `None` (an id of another kind) is
/// `NOT_FOUND`.
pub(crate) fn check_category_ids(ids: &[Option<i64>]) -> AppResult<Vec<i64>> {
    let mut unique: Vec<i64> = Vec::with_capacity(ids.len());
    for id in ids {
        let id = id.ok_or_else(|| {
            AppError::input(UserErrorCode::NotFound, "categoryIds", "no such category")
        })?;
        if !unique.contains(&id) {
            unique.push(id);
        }
    }
    if unique.len() > categories::model::MAX_CATEGORIES_PER_PRODUCT {
        return Err(invalid(
            "categoryIds",
            format!(
                "a product is in at most {} categories",
                categories::model::MAX_CATEGORIES_PER_PRODUCT
            ),
        ));
    }
    Ok(unique)
}

/// `SKU-<product id>`, or with a random suffix when an admin already chose that one.
async fn generated_sku(tx: &mut Conn<'_>, product_id: i64) -> AppResult<String> {
    let plain = format!("SKU-{product_id}");
    if !variants::repo::sku_taken(tx, &plain, None).await? {
        return Ok(plain);
    }
    let suffix: String = crate::random::random_token().chars().take(8).collect();
    Ok(format!("{plain}-{suffix}"))
}

fn not_found(field: &str) -> AppError {
    AppError::input(UserErrorCode::NotFound, field, "no such product")
}

pub(crate) struct NewProductInput {
    pub name: String,
    pub description: String,
    pub price: PriceInput,
    pub stock: i32,
    /// The first variant's SKU; generated when `None`.
    pub sku: Option<String>,
    pub options: Vec<SelectedOption>,
    /// `None` entries are ids of another kind (no such category).
    pub category_ids: Vec<Option<i64>>,
}

#[derive(Default)]
pub(crate) struct ProductUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub price: Option<PriceInput>,
    pub stock: Option<i32>,
    pub is_archived: Option<bool>,
}

impl Catalog {
    pub(crate) fn new(db: Db, images: Images, facets: FacetCache) -> Self {
        Catalog { db, images, facets }
    }

    /// Passes a write's outcome on; a committed write forgets every remembered facet.
    pub(super) async fn changed<T>(&self, written: AppResult<T>) -> AppResult<T> {
        if written.is_ok() {
            self.facets.changed().await;
        }
        written
    }

    /// A facet of the products matching `filter`: remembered, or computed (and then
    /// remembered).
    async fn facet(&self, kind: FacetKind, filter: &ProductListFilter) -> AppResult<FacetValue> {
        if let Some(value) = self.facets.get(kind, filter) {
            return Ok(value);
        }
        let _turn = self.facets.turn(kind, filter).await;
        if let Some(value) = self.facets.get(kind, filter) {
            return Ok(value);
        }
        let generation = self.facets.generation();
        let value = self
            .db
            .run(async |c| {
                diesel::QueryResult::Ok(match kind {
                    FacetKind::Categories => {
                        FacetValue::Categories(facets::categories(c, filter).await?)
                    }
                    FacetKind::Options => FacetValue::Options(facets::options(c, filter).await?),
                    FacetKind::InStock => {
                        FacetValue::InStock(facets::in_stock_count(c, filter).await?)
                    }
                    FacetKind::PriceRange => {
                        FacetValue::PriceRange(facets::price_range(c, filter).await?)
                    }
                })
            })
            .await?;
        self.facets.put(kind, filter, generation, value.clone());
        Ok(value)
    }

    /// The largest image accepted, in bytes (the upload resolver reads no more).
    pub(crate) fn max_image_bytes(&self) -> usize {
        self.images.max_bytes()
    }

    pub(crate) async fn product(&self, id: i64) -> AppResult<Option<ProductRow>> {
        self.db.run(async |c| repo::find_product(c, id).await).await
    }

    pub(crate) async fn products(
        &self,
        filter: &ProductListFilter,
        page: &ProductPage,
    ) -> AppResult<Vec<ProductRow>> {
        self.db
            .run(async |c| repo::list_products(c, filter, page).await)
            .await
    }

    pub(crate) async fn count_products(&self, filter: &ProductListFilter) -> AppResult<i64> {
        self.db
            .run(async |c| repo::count_products(c, filter).await)
            .await
    }

    pub(crate) async fn category_facet(
        &self,
        filter: &ProductListFilter,
    ) -> AppResult<Vec<(CategoryRow, i64)>> {
        match self.facet(FacetKind::Categories, filter).await? {
            FacetValue::Categories(counts) => Ok(counts),
            _ => Err(AppError::internal("a category facet of another kind")),
        }
    }

    pub(crate) async fn option_facet(
        &self,
        filter: &ProductListFilter,
    ) -> AppResult<Vec<(String, String, i64)>> {
        match self.facet(FacetKind::Options, filter).await? {
            FacetValue::Options(counts) => Ok(counts),
            _ => Err(AppError::internal("an option facet of another kind")),
        }
    }

    pub(crate) async fn in_stock_facet(&self, filter: &ProductListFilter) -> AppResult<i64> {
        match self.facet(FacetKind::InStock, filter).await? {
            FacetValue::InStock(count) => Ok(count),
            _ => Err(AppError::internal("an in-stock facet of another kind")),
        }
    }

    pub(crate) async fn price_facet(
        &self,
        filter: &ProductListFilter,
    ) -> AppResult<Option<(i64, i64)>> {
        match self.facet(FacetKind::PriceRange, filter).await? {
            FacetValue::PriceRange(range) => Ok(range),
            _ => Err(AppError::internal("a price facet of another kind")),
        }
    }

    /// Creates a product with its first variant (and its categories), or nothing.
    pub(crate) async fn create_product(&self, input: NewProductInput) -> AppResult<ProductRow> {
        let name = check_name(&input.name)?;
        let description = check_description(&input.description)?;
        let price_cents = check_price(input.price)?;
        let stock = check_stock(input.stock)?;
        let sku = input.sku.as_deref().map(check_sku).transpose()?;
        let options = check_options(input.options)?;
        let category_ids = check_category_ids(&input.category_ids)?;
        let now = now();
        let new = NewProduct {
            name: &name,
            description: &description,
            search_text: search_text(&name, &description),
            price_cents,
            stock,
            is_archived: false,
            created_at: now,
            updated_at: now,
        };
        let sku_text = sku.clone().unwrap_or_default();
        let created = self
            .db
            .transaction(async |tx| {
                let product = repo::insert_product(tx, &new).await?;
                let sku = match &sku {
                    Some(sku) if variants::repo::sku_taken(tx, sku, None).await? => {
                        return Err(sku_taken(sku));
                    }
                    Some(sku) => sku.clone(),
                    None => generated_sku(tx, product.id).await?,
                };
                let title = title_of(&options);
                let variant = NewVariant {
                    product_id: product.id,
                    sku: &sku,
                    title: &title,
                    price_cents,
                    stock,
                    is_archived: false,
                    created_at: now,
                    updated_at: now,
                };
                variants::repo::insert_variant(tx, &variant, &options).await?;
                if !category_ids.is_empty() {
                    lock(tx, Writers::CategoryTree).await?;
                    categories::service::place_product(tx, product.id, &category_ids).await?;
                }
                Ok(product)
            })
            .await
            .map_err(sku_race(&sku_text));
        self.changed(created).await
    }

    /// Changes the given fields; archiving takes the product out of every cart.
    pub(crate) async fn update_product(
        &self,
        id: Option<i64>,
        update: ProductUpdate,
    ) -> AppResult<ProductRow> {
        let id = id.ok_or_else(|| not_found("id"))?;
        let name = update.name.as_deref().map(check_name).transpose()?;
        let description = update
            .description
            .as_deref()
            .map(check_description)
            .transpose()?;
        let price_cents = update.price.map(check_price).transpose()?;
        let stock = update.stock.map(check_stock).transpose()?;
        let now = now();
        let updated = self
            .db
            .transaction(async |tx| {
                let current = repo::lock_product(tx, id, now)
                    .await?
                    .ok_or_else(|| not_found("id"))?;
                let search = (name.is_some() || description.is_some()).then(|| {
                    search_text(
                        name.as_deref().unwrap_or(&current.name),
                        description.as_deref().unwrap_or(&current.description),
                    )
                });
                // v1's price and stock belong to the product's only active variant.
                if price_cents.is_some() || stock.is_some() {
                    let variant = variants::service::pick_variant(tx, &current, None, "id").await?;
                    let changes = VariantChanges {
                        price_cents,
                        stock,
                        updated_at: Some(now),
                        ..Default::default()
                    };
                    let row = variants::repo::update_variant(tx, variant.id, &changes).await?;
                    if variant.stock > 0 && row.stock == 0 {
                        sold_out(tx, &row, now).await?;
                    }
                    variants::service::refresh_product(tx, id).await?;
                }
                let changes = ProductChanges {
                    name: name.clone(),
                    description: description.clone(),
                    search_text: search,
                    is_archived: update.is_archived,
                    updated_at: Some(now),
                    ..Default::default()
                };
                let row = repo::update_product(tx, id, &changes)
                    .await?
                    .ok_or_else(|| not_found("id"))?;
                if row.is_archived {
                    crate::cart::repo::remove_product(tx, id).await?;
                }
                Ok(row)
            })
            .await;
        self.changed(updated).await
    }

    /// Deletes a product no order refers to, archives one that is referenced; either way it
    /// leaves every cart.
    pub(crate) async fn delete_product(&self, id: Option<i64>) -> AppResult<i64> {
        let id = id.ok_or_else(|| not_found("id"))?;
        let now = now();
        let deleted_image = self
            .db
            .transaction(async |tx| {
                let product = repo::find_product(tx, id)
                    .await?
                    .ok_or_else(|| not_found("id"))?;
                crate::cart::repo::remove_product(tx, id).await?;
                if repo::is_ordered(tx, id).await? {
                    let archive = ProductChanges {
                        is_archived: Some(true),
                        updated_at: Some(now),
                        ..Default::default()
                    };
                    repo::update_product(tx, id, &archive).await?;
                    Ok::<_, AppError>(None)
                } else {
                    repo::delete_product(tx, id).await?;
                    Ok(product.image_path)
                }
            })
            .await;
        if let Some(image) = self.changed(deleted_image).await? {
            self.images.remove(&image).await;
        }
        Ok(id)
    }

    /// Adds or removes units of a variant (the product's only active one when `variant`
    /// is `None`); never below zero.
    pub(crate) async fn adjust_stock(
        &self,
        product_id: Option<i64>,
        variant: Option<Option<i64>>,
        delta: i32,
    ) -> AppResult<ProductRow> {
        let product_id = product_id.ok_or_else(|| not_found("productId"))?;
        let now = now();
        let adjusted = self
            .db
            .transaction(async |tx| {
                let product = repo::lock_product(tx, product_id, now)
                    .await?
                    .ok_or_else(|| not_found("productId"))?;
                let variant =
                    variants::service::pick_variant(tx, &product, variant, "productId").await?;
                let too_few = || {
                    AppError::input(
                        UserErrorCode::InsufficientStock,
                        "delta",
                        format!("only {} units of {} in stock", variant.stock, product.name),
                    )
                };
                // i32::MIN has no positive counterpart; no stock could cover it anyway.
                if delta == i32::MIN {
                    return Err(too_few());
                }
                let moved = variants::repo::move_stock(tx, variant.id, delta, now)
                    .await?
                    .ok_or_else(too_few)?;
                if variant.stock > 0 && moved.stock == 0 {
                    sold_out(tx, &moved, now).await?;
                }
                repo::find_product(tx, product_id)
                    .await?
                    .ok_or_else(|| not_found("productId"))
            })
            .await;
        self.changed(adjusted).await
    }

    /// Stores a new image (checked by its bytes) and removes the one it replaces.
    pub(crate) async fn set_image(&self, id: Option<i64>, bytes: Vec<u8>) -> AppResult<ProductRow> {
        let id = id.ok_or_else(|| not_found("productId"))?;
        let invalid_image =
            |message: &str| AppError::input(UserErrorCode::InvalidImage, "image", message);
        if bytes.len() > self.images.max_bytes() {
            return Err(invalid_image(&format!(
                "the image is larger than {} bytes",
                self.images.max_bytes()
            )));
        }
        let format = ImageFormat::detect(&bytes)
            .ok_or_else(|| invalid_image("not a PNG, JPEG, WebP or GIF image"))?;
        let previous = self
            .db
            .run(async |c| repo::find_product(c, id).await)
            .await?
            .ok_or_else(|| not_found("productId"))?
            .image_path;
        let stored = self.images.store(bytes, format).await?;
        let changes = ProductChanges {
            image_path: Some(Some(stored.clone())),
            updated_at: Some(now()),
            ..Default::default()
        };
        let updated = self
            .db
            .run(async |c| repo::update_product(c, id, &changes).await)
            .await;
        match updated {
            Ok(Some(row)) => {
                if let Some(old) = previous {
                    self.images.remove(&old).await;
                }
                Ok(row)
            }
            // The product vanished meanwhile, or the write failed: do not leave an orphan file.
            Ok(None) => {
                self.images.remove(&stored).await;
                Err(not_found("productId"))
            }
            Err(e) => {
                self.images.remove(&stored).await;
                Err(e)
            }
        }
    }
}
