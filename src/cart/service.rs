//! Cart rules: quantities, stock and availability.

use super::model::{CartItemRow, CartLine, MAX_LINE_QUANTITY};
use super::repo;
use crate::catalog::model::ProductRow;
use crate::catalog::variants::model::VariantRow;
use crate::catalog::variants::service::resolve_variant;
use crate::db::{Db, now};
use crate::error::{AppError, AppResult, UserErrorCode};

/// The cart room: every customer's cart lines (the `cart_items` table), one per
/// variant. It reads the catalog's products and variants; it never writes them.
#[derive(Clone)]
pub(crate) struct Cart {
    db: Db,
}

fn check_quantity(quantity: i32, field: &str) -> AppResult<()> {
    if !(1..=MAX_LINE_QUANTITY).contains(&quantity) {
        return Err(AppError::input(
            UserErrorCode::InvalidQuantity,
            field,
            format!("quantity must be 1 to {MAX_LINE_QUANTITY}"),
        ));
    }
    Ok(())
}

/// A line may not hold more than the variant's current stock.
fn check_stock(
    product: &ProductRow,
    variant: &VariantRow,
    quantity: i32,
    field: &str,
) -> AppResult<()> {
    if quantity > MAX_LINE_QUANTITY {
        return Err(AppError::input(
            UserErrorCode::InvalidQuantity,
            field,
            format!("a line holds at most {MAX_LINE_QUANTITY} units"),
        ));
    }
    if quantity > variant.stock {
        return Err(too_few(product, variant, field));
    }
    Ok(())
}

fn too_few(product: &ProductRow, variant: &VariantRow, field: &str) -> AppError {
    AppError::input(
        UserErrorCode::InsufficientStock,
        field,
        format!(
            "only {} units of {} ({}) in stock",
            variant.stock, product.name, variant.title
        ),
    )
}

fn unavailable(product: &ProductRow, variant: &VariantRow, field: &str) -> Option<AppError> {
    let what = if product.is_archived {
        product.name.clone()
    } else if variant.is_archived {
        format!("{} ({})", product.name, variant.title)
    } else {
        return None;
    };
    Some(AppError::input(
        UserErrorCode::ProductUnavailable,
        field,
        format!("{what} is no longer sold"),
    ))
}

fn item_not_found() -> AppError {
    AppError::input(UserErrorCode::NotFound, "cartItemId", "no such cart item")
}

impl Cart {
    pub(crate) fn new(db: Db) -> Self {
        Cart { db }
    }

    pub(crate) async fn lines(&self, user_id: i64) -> AppResult<Vec<CartLine>> {
        self.db.run(async |c| repo::lines(c, user_id).await).await
    }

    /// One of the user's lines, with its product.
    pub(crate) async fn line(&self, user_id: i64, item_id: i64) -> AppResult<Option<CartLine>> {
        self.db
            .run(async |c| repo::find_own(c, user_id, item_id).await)
            .await
    }

    /// Adds units of a variant (the product's only active one when `variant` is `None`);
    /// a variant already in the cart gets its line increased.
    pub(crate) async fn add(
        &self,
        user_id: i64,
        product_id: Option<i64>,
        variant: Option<Option<i64>>,
        quantity: i32,
    ) -> AppResult<CartItemRow> {
        check_quantity(quantity, "quantity")?;
        let product_id = product_id.ok_or_else(|| {
            AppError::input(UserErrorCode::NotFound, "productId", "no such product")
        })?;
        let now = now();
        self.db
            .run(async |conn| {
                let names_variant = variant.is_some();
                let (product, variant) =
                    resolve_variant(conn, product_id, variant, "productId").await?;
                let field = if names_variant && !product.is_archived {
                    "variantId"
                } else {
                    "productId"
                };
                if let Some(e) = unavailable(&product, &variant, field) {
                    return Err(e);
                }
                check_stock(&product, &variant, quantity, "quantity")?;
                // No transaction: the add is one conditional upsert against the stock
                // just read. If the stock changes in between, the cart is off by that
                // much until checkout, which takes stock under its own checks.
                let max_line = variant.stock.clamp(0, MAX_LINE_QUANTITY);
                match repo::add(conn, user_id, &variant, quantity, max_line, now).await? {
                    Some(item) => Ok(item),
                    None => {
                        let line = repo::quantity_of(conn, user_id, variant.id).await?;
                        check_stock(
                            &product,
                            &variant,
                            line.saturating_add(quantity),
                            "quantity",
                        )?;
                        // The line changed in between (a concurrent add or removal).
                        Err(too_few(&product, &variant, "quantity"))
                    }
                }
            })
            .await
    }

    /// Sets a line's quantity; 0 removes the line (and returns `None`).
    pub(crate) async fn update(
        &self,
        user_id: i64,
        item_id: Option<i64>,
        quantity: i32,
    ) -> AppResult<Option<CartItemRow>> {
        let item_id = item_id.ok_or_else(item_not_found)?;
        if quantity != 0 {
            check_quantity(quantity, "quantity")?;
        }
        let now = now();
        self.db
            .transaction(async |tx| {
                let line = repo::find_own(tx, user_id, item_id)
                    .await?
                    .ok_or_else(item_not_found)?;
                if quantity == 0 {
                    repo::remove(tx, user_id, item_id).await?;
                    return Ok(None);
                }
                if let Some(e) = unavailable(&line.product, &line.variant, "cartItemId") {
                    return Err(e);
                }
                check_stock(&line.product, &line.variant, quantity, "quantity")?;
                Ok(Some(repo::set_quantity(tx, item_id, quantity, now).await?))
            })
            .await
    }

    pub(crate) async fn remove(&self, user_id: i64, item_id: Option<i64>) -> AppResult<()> {
        let item_id = item_id.ok_or_else(item_not_found)?;
        let removed = self
            .db
            .run(async |c| repo::remove(c, user_id, item_id).await)
            .await?;
        match removed {
            0 => Err(item_not_found()),
            _ => Ok(()),
        }
    }

    pub(crate) async fn clear(&self, user_id: i64) -> AppResult<()> {
        self.db
            .run(async |c| repo::take_all(c, user_id).await)
            .await?;
        Ok(())
    }
}
