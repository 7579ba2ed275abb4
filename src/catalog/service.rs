//! Catalog rules: product validation, archiving and deletion, stock, images.

use super::images::{self, ImageFormat};
use super::model::{NewProduct, ProductRow, search_text};
use super::repo::{self, ProductChanges};
use crate::app::AppState;
use crate::db::money::MAX_PRICE_CENTS;
use crate::db::now;
use crate::db_transaction;
use crate::error::{AppError, AppResult, UserErrorCode};
use crate::graphql::scalars::Decimal;

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;

fn invalid(field: &str, message: impl Into<String>) -> AppError {
    AppError::input(UserErrorCode::InvalidInput, field, message)
}

/// A trimmed name of 1..=200 characters.
pub fn check_name(raw: &str) -> AppResult<String> {
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

pub fn check_description(raw: &str) -> AppResult<String> {
    if raw.chars().count() > MAX_DESCRIPTION_CHARS || raw.contains('\0') {
        return Err(invalid(
            "description",
            format!("description must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    Ok(raw.trim().to_owned())
}

/// More than zero, at most 99,999,999.99, at most two decimals.
pub fn check_price(price: &Decimal) -> AppResult<i64> {
    match price.to_cents() {
        Some(cents) if cents > 0 && cents <= MAX_PRICE_CENTS => Ok(cents),
        Some(_) => Err(invalid(
            "price",
            "price must be more than 0 and at most 99999999.99",
        )),
        None => Err(invalid("price", "price must have at most two decimals")),
    }
}

pub fn check_stock(stock: i32) -> AppResult<i32> {
    if stock < 0 {
        return Err(invalid("stock", "stock must not be negative"));
    }
    Ok(stock)
}

fn not_found(field: &str) -> AppError {
    AppError::input(UserErrorCode::NotFound, field, "no such product")
}

pub struct NewProductInput {
    pub name: String,
    pub description: String,
    pub price: Decimal,
    pub stock: i32,
}

pub async fn create_product(state: &AppState, input: NewProductInput) -> AppResult<ProductRow> {
    let name = check_name(&input.name)?;
    let description = check_description(&input.description)?;
    let price_cents = check_price(&input.price)?;
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
    let mut pooled = state.db.get().await?;
    Ok(repo::insert_product(&mut pooled.conn(), &new).await?)
}

#[derive(Default)]
pub struct ProductUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub price: Option<Decimal>,
    pub stock: Option<i32>,
    pub is_archived: Option<bool>,
}

/// Changes the given fields; archiving takes the product out of every cart.
pub async fn update_product(
    state: &AppState,
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
    let price_cents = update.price.as_ref().map(check_price).transpose()?;
    let stock = update.stock.map(check_stock).transpose()?;
    let now = now();
    let mut pooled = state.db.get().await?;
    db_transaction!(&mut pooled, |tx| {
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
            repo::remove_from_carts(tx, id).await?;
        }
        Ok(row)
    })
}

/// Deletes a product no order refers to, archives one that is referenced; either way it
/// leaves every cart.
pub async fn delete_product(state: &AppState, id: Option<i64>) -> AppResult<i64> {
    let id = id.ok_or_else(|| not_found("id"))?;
    let now = now();
    let mut pooled = state.db.get().await?;
    let deleted_image = db_transaction!(&mut pooled, |tx| {
        let product = repo::find_product(tx, id)
            .await?
            .ok_or_else(|| not_found("id"))?;
        repo::remove_from_carts(tx, id).await?;
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
    })?;
    if let Some(image) = deleted_image {
        images::remove(&state.config.media_dir, &image).await;
    }
    Ok(id)
}

/// Adds or removes units; never below zero.
pub async fn adjust_stock(state: &AppState, id: Option<i64>, delta: i32) -> AppResult<ProductRow> {
    let id = id.ok_or_else(|| not_found("productId"))?;
    let mut pooled = state.db.get().await?;
    let mut conn = pooled.conn();
    // i32::MIN has no positive counterpart; no stock could cover it anyway.
    if delta != i32::MIN
        && let Some(row) = repo::adjust_stock(&mut conn, id, delta, now()).await?
    {
        return Ok(row);
    }
    match repo::find_product(&mut conn, id).await? {
        None => Err(not_found("productId")),
        Some(product) => Err(AppError::input(
            UserErrorCode::InsufficientStock,
            "delta",
            format!("only {} units of {} in stock", product.stock, product.name),
        )),
    }
}

/// Stores a new image (checked by its bytes) and removes the one it replaces.
pub async fn set_image(state: &AppState, id: Option<i64>, bytes: Vec<u8>) -> AppResult<ProductRow> {
    let id = id.ok_or_else(|| not_found("productId"))?;
    let invalid_image =
        |message: &str| AppError::input(UserErrorCode::InvalidImage, "image", message);
    if bytes.len() > state.config.max_image_bytes {
        return Err(invalid_image(&format!(
            "the image is larger than {} bytes",
            state.config.max_image_bytes
        )));
    }
    let format = ImageFormat::detect(&bytes)
        .ok_or_else(|| invalid_image("not a PNG, JPEG, WebP or GIF image"))?;
    let mut pooled = state.db.get().await?;
    let previous = repo::find_product(&mut pooled.conn(), id)
        .await?
        .ok_or_else(|| not_found("productId"))?
        .image_path;
    let media_dir = &state.config.media_dir;
    let stored = images::store(media_dir, bytes, format).await?;
    let changes = ProductChanges {
        image_path: Some(Some(stored.clone())),
        updated_at: Some(now()),
        ..Default::default()
    };
    match repo::update_product(&mut pooled.conn(), id, &changes).await {
        Ok(Some(row)) => {
            if let Some(old) = previous {
                images::remove(media_dir, &old).await;
            }
            Ok(row)
        }
        // The product vanished meanwhile, or the write failed: do not leave an orphan file.
        Ok(None) => {
            images::remove(media_dir, &stored).await;
            Err(not_found("productId"))
        }
        Err(e) => {
            images::remove(media_dir, &stored).await;
            Err(e.into())
        }
    }
}
