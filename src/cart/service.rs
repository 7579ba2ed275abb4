//! Cart rules: quantities, stock and availability.

use super::model::{CartItemRow, CartLine, MAX_LINE_QUANTITY};
use super::repo;
use crate::catalog::model::ProductRow;
use crate::db::{Db, now};
use crate::error::{AppError, AppResult, UserErrorCode};

/// The cart room: every customer's cart lines (the `cart_items` table). It reads the
/// catalog's products; it never writes them.
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

/// A line may not hold more than the product's current stock.
fn check_stock(product: &ProductRow, quantity: i32, field: &str) -> AppResult<()> {
    if quantity > MAX_LINE_QUANTITY {
        return Err(AppError::input(
            UserErrorCode::InvalidQuantity,
            field,
            format!("a line holds at most {MAX_LINE_QUANTITY} units"),
        ));
    }
    if quantity > product.stock {
        return Err(AppError::input(
            UserErrorCode::InsufficientStock,
            field,
            format!("only {} units of {} in stock", product.stock, product.name),
        ));
    }
    Ok(())
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

    /// Adds units of a product; a product already in the cart gets its line increased.
    pub(crate) async fn add(
        &self,
        user_id: i64,
        product_id: Option<i64>,
        quantity: i32,
    ) -> AppResult<CartItemRow> {
        check_quantity(quantity, "quantity")?;
        let not_found = || AppError::input(UserErrorCode::NotFound, "productId", "no such product");
        let product_id = product_id.ok_or_else(not_found)?;
        let now = now();
        self.db
            .run(async |conn| {
                let product = crate::catalog::repo::find_product(conn, product_id)
                    .await?
                    .ok_or_else(not_found)?;
                if product.is_archived {
                    return Err(AppError::input(
                        UserErrorCode::ProductUnavailable,
                        "productId",
                        format!("{} is no longer sold", product.name),
                    ));
                }
                check_stock(&product, quantity, "quantity")?;
                // No transaction: the add is one conditional upsert against the stock
                // just read. If the stock changes in between, the cart is off by that
                // much until checkout, which takes stock under its own checks.
                let max_line = product.stock.clamp(0, MAX_LINE_QUANTITY);
                match repo::add(conn, user_id, product_id, quantity, max_line, now).await? {
                    Some(item) => Ok(item),
                    None => {
                        let line = repo::quantity_of(conn, user_id, product_id).await?;
                        check_stock(&product, line.saturating_add(quantity), "quantity")?;
                        // The line changed in between (a concurrent add or removal).
                        Err(AppError::input(
                            UserErrorCode::InsufficientStock,
                            "quantity",
                            format!("only {} units of {} in stock", product.stock, product.name),
                        ))
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
                if line.product.is_archived {
                    return Err(AppError::input(
                        UserErrorCode::ProductUnavailable,
                        "cartItemId",
                        format!("{} is no longer sold", line.product.name),
                    ));
                }
                check_stock(&line.product, quantity, "quantity")?;
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
