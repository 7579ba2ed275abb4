//! Catalog rules: product validation, archiving and deletion, stock, images.

use diesel::QueryResult;

use super::images::{ImageFormat, Images};
use super::model::{NewProduct, ProductListFilter, ProductPage, ProductRow, search_text};
use super::repo::{self, ProductChanges};
use crate::db::money::MAX_PRICE_CENTS;
use crate::db::{Db, now};
use crate::error::{AppError, AppResult, UserErrorCode};

/// The catalog room: it owns the `products` table and every stock change (orders take
/// and return stock through [`repo::take_stock`] and [`repo::return_stock`] inside their
/// own transactions), and the product images under MEDIA_DIR.
#[derive(Clone)]
pub(crate) struct Catalog {
    db: Db,
    images: Images,
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

/// A trimmed name of 1..=200 characters.
pub(crate) fn check_name(raw: &str) -> AppResult<String> {
    let name = raw.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || name.contains('\0') {
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

pub(crate) fn check_stock(stock: i32) -> AppResult<i32> {
    if stock < 0 {
        return Err(invalid("stock", "stock must not be negative"));
    }
    Ok(stock)
}

fn not_found(field: &str) -> AppError {
    AppError::input(UserErrorCode::NotFound, field, "no such product")
}

pub(crate) struct NewProductInput {
    pub name: String,
    pub description: String,
    pub price: PriceInput,
    pub stock: i32,
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
    pub(crate) fn new(db: Db, images: Images) -> Self {
        Catalog { db, images }
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

    pub(crate) async fn create_product(&self, input: NewProductInput) -> AppResult<ProductRow> {
        let name = check_name(&input.name)?;
        let description = check_description(&input.description)?;
        let price_cents = check_price(input.price)?;
        let stock = check_stock(input.stock)?;
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
        self.db
            .run(async |c| repo::insert_product(c, &new).await)
            .await
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
        self.db
            .transaction(async |tx| {
                let current = repo::find_product(tx, id)
                    .await?
                    .ok_or_else(|| not_found("id"))?;
                let search = (name.is_some() || description.is_some()).then(|| {
                    search_text(
                        name.as_deref().unwrap_or(&current.name),
                        description.as_deref().unwrap_or(&current.description),
                    )
                });
                let changes = ProductChanges {
                    name: name.clone(),
                    description: description.clone(),
                    search_text: search,
                    price_cents,
                    stock,
                    is_archived: update.is_archived,
                    image_path: None,
                    updated_at: Some(now),
                };
                let row = repo::update_product(tx, id, &changes)
                    .await?
                    .ok_or_else(|| not_found("id"))?;
                if row.is_archived {
                    crate::cart::repo::remove_product(tx, id).await?;
                }
                Ok(row)
            })
            .await
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
            .await?;
        if let Some(image) = deleted_image {
            self.images.remove(&image).await;
        }
        Ok(id)
    }

    /// Adds or removes units; never below zero.
    pub(crate) async fn adjust_stock(&self, id: Option<i64>, delta: i32) -> AppResult<ProductRow> {
        let id = id.ok_or_else(|| not_found("productId"))?;
        let now = now();
        let (adjusted, product) = self
            .db
            .run(async |c| {
                // i32::MIN has no positive counterpart; no stock could cover it anyway.
                if delta != i32::MIN
                    && let Some(row) = repo::adjust_stock(c, id, delta, now).await?
                {
                    return Ok((Some(row), None));
                }
                QueryResult::Ok((None, repo::find_product(c, id).await?))
            })
            .await?;
        if let Some(row) = adjusted {
            return Ok(row);
        }
        match product {
            None => Err(not_found("productId")),
            Some(product) => Err(AppError::input(
                UserErrorCode::InsufficientStock,
                "delta",
                format!("only {} units of {} in stock", product.stock, product.name),
            )),
        }
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
