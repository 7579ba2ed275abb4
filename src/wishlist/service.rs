//! Wishlist rules: idempotent adds and removes, sold products only, at most 200.

use super::model::{MAX_WISHLIST_ITEMS, WishlistItemRow};
use super::repo;
use crate::accounts::repo::lock_user;
use crate::catalog::repo as products;
use crate::db::{Db, now};
use crate::error::{AppError, AppResult, UserErrorCode};

/// The wishlist room: every customer's saved products (the `wishlist_items` table).
#[derive(Clone)]
pub(crate) struct Wishlist {
    db: Db,
}

impl Wishlist {
    pub(crate) fn new(db: Db) -> Self {
        Wishlist { db }
    }

    pub(crate) async fn items(&self, user_id: i64) -> AppResult<Vec<WishlistItemRow>> {
        self.db.run(async |c| repo::items(c, user_id).await).await
    }

    pub(crate) async fn item(&self, user_id: i64, id: i64) -> AppResult<Option<WishlistItemRow>> {
        self.db
            .run(async |c| repo::find_own(c, user_id, id).await)
            .await
    }

    /// Adds a product; one already there keeps its item and its first `addedAt`.
    pub(crate) async fn add(&self, user_id: i64, product_id: Option<i64>) -> AppResult<()> {
        let not_found = || AppError::input(UserErrorCode::NotFound, "productId", "no such product");
        let product_id = product_id.ok_or_else(not_found)?;
        let now = now();
        self.db
            .transaction(async |tx| {
                // Concurrent adds of one customer count one after the other.
                lock_user(tx, user_id).await?;
                if repo::holds(tx, user_id, product_id).await? {
                    return Ok(());
                }
                let product = products::find_product(tx, product_id)
                    .await?
                    .ok_or_else(not_found)?;
                if product.is_archived {
                    return Err(AppError::input(
                        UserErrorCode::ProductUnavailable,
                        "productId",
                        format!("{} is no longer sold", product.name),
                    ));
                }
                if repo::count(tx, user_id).await? >= MAX_WISHLIST_ITEMS {
                    return Err(AppError::input(
                        UserErrorCode::WishlistFull,
                        "productId",
                        format!("a wishlist holds at most {MAX_WISHLIST_ITEMS} products"),
                    ));
                }
                repo::insert(tx, user_id, product_id, now).await?;
                Ok(())
            })
            .await
    }

    /// Removes a product; one that is not there (or no product at all) is no error.
    pub(crate) async fn remove(&self, user_id: i64, product_id: Option<i64>) -> AppResult<()> {
        let Some(product_id) = product_id else {
            return Ok(());
        };
        self.db
            .run(async |c| repo::delete(c, user_id, product_id).await)
            .await?;
        Ok(())
    }
}
