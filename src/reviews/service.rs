//! Review rules: who may write one (customers who received the product), one per
//! customer and product, moderation, and the product's exact rating aggregate.

use super::model::{
    MAX_BODY_CHARS, MAX_TITLE_CHARS, ReviewContent, ReviewRow, ReviewScope, ReviewStatus,
};
use super::repo;
use crate::catalog::model::{ProductRow, Rating};
use crate::catalog::repo as products;
use crate::db::keyset::Page;
use crate::db::{Conn, Db, now};
use crate::error::{AppError, AppResult, UserErrorCode};

/// The reviews room: customers' reviews of products (the `reviews` table).
#[derive(Clone)]
pub(crate) struct Reviews {
    db: Db,
}

/// A review as a mutation left it, with its product's new aggregate.
pub(crate) struct Reviewed {
    pub review: ReviewRow,
    pub product: ProductRow,
}

/// Who deletes a review: its author, or an admin.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deleter {
    pub user_id: i64,
    pub is_admin: bool,
}

fn not_found(field: &str) -> AppError {
    AppError::input(UserErrorCode::NotFound, field, "no such review")
}

fn invalid(field: &str, message: String) -> AppError {
    AppError::input(UserErrorCode::InvalidInput, field, message)
}

/// Rating 1..5; title and body trimmed, at most 200 and 5,000 characters.
pub(crate) fn check_content(rating: i32, title: &str, body: &str) -> AppResult<ReviewContent> {
    if !(1..=5).contains(&rating) {
        return Err(invalid("rating", "rating must be 1 to 5".to_owned()));
    }
    let (title, body) = (title.trim(), body.trim());
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(invalid(
            "title",
            format!("title must be at most {MAX_TITLE_CHARS} characters"),
        ));
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(invalid(
            "body",
            format!("body must be at most {MAX_BODY_CHARS} characters"),
        ));
    }
    Ok(ReviewContent {
        rating,
        title: title.to_owned(),
        body: body.to_owned(),
    })
}

/// Locks the review's product (which orders every review write of that product, see
/// `catalog::repo::lock_rating`), then reads the review as it now is, with the
/// product's aggregate. `None` when there is no such review.
async fn lock_review(tx: &mut Conn<'_>, id: i64) -> AppResult<Option<(ReviewRow, Rating)>> {
    let Some(product_id) = repo::product_of(tx, id).await? else {
        return Ok(None);
    };
    let Some(rating) = products::lock_rating(tx, product_id).await? else {
        return Ok(None);
    };
    // Read again under the lock: a concurrent write may have changed or deleted it.
    Ok(repo::find(tx, id).await?.map(|review| (review, rating)))
}

/// Writes a customer's review of a product in the caller's transaction, with the
/// product's aggregate: a new review (published), or a rewrite of theirs (same id and
/// status). Who may write is the caller's to check. `None` when there is no such
/// product.
pub(crate) async fn write_in(
    tx: &mut Conn<'_>,
    user_id: i64,
    product_id: i64,
    content: &ReviewContent,
    now: chrono::NaiveDateTime,
) -> AppResult<Option<Reviewed>> {
    let Some(rating) = products::lock_rating(tx, product_id).await? else {
        return Ok(None);
    };
    let existing = repo::by_author(tx, user_id, &[product_id]).await?;
    let (review, rating) = match existing.into_iter().next() {
        Some(old) => {
            let review = repo::rewrite(tx, old.id, content, now).await?;
            let rating = if old.is_published() {
                rating.with(old.rating, -1).with(review.rating, 1)
            } else {
                rating
            };
            (review, rating)
        }
        None => {
            let review = repo::insert(tx, product_id, user_id, content, now).await?;
            (review, rating.with(content.rating, 1))
        }
    };
    let product = products::set_rating(tx, product_id, rating).await?;
    Ok(Some(Reviewed { review, product }))
}

impl Reviews {
    pub(crate) fn new(db: Db) -> Self {
        Reviews { db }
    }

    pub(crate) async fn review(&self, id: i64) -> AppResult<Option<ReviewRow>> {
        self.db.run(async |c| repo::find(c, id).await).await
    }

    /// A page of reviews, newest first.
    pub(crate) async fn list(
        &self,
        scope: ReviewScope,
        page: &Page<chrono::NaiveDateTime>,
    ) -> AppResult<Vec<ReviewRow>> {
        self.db
            .run(async |c| repo::list(c, scope, page).await)
            .await
    }

    pub(crate) async fn count(&self, scope: ReviewScope) -> AppResult<i64> {
        self.db.run(async |c| repo::count(c, scope).await).await
    }

    /// Creates the customer's review of a product, or rewrites it: same id, same
    /// status (a hidden review stays hidden), new rating, title and body.
    pub(crate) async fn write(
        &self,
        user_id: i64,
        product_id: Option<i64>,
        content: ReviewContent,
    ) -> AppResult<Reviewed> {
        let no_product =
            || AppError::input(UserErrorCode::NotFound, "productId", "no such product");
        let product_id = product_id.ok_or_else(no_product)?;
        let now = now();
        self.db
            .transaction(async |tx| {
                // Checked before the lock, so that a customer who may not review cannot
                // hold the product's row (a delivered order stays delivered).
                if !repo::received(tx, user_id, product_id).await? {
                    let exists = products::find_product(tx, product_id).await?.is_some();
                    return Err(if exists {
                        AppError::input(
                            UserErrorCode::ReviewNotAllowed,
                            "productId",
                            "only customers with a delivered order of this product may review it",
                        )
                    } else {
                        no_product()
                    });
                }
                write_in(tx, user_id, product_id, &content, now)
                    .await?
                    .ok_or_else(no_product)
            })
            .await
    }

    /// Publishes or hides a review (admins); its rating counts only while published.
    pub(crate) async fn moderate(
        &self,
        id: Option<i64>,
        status: ReviewStatus,
    ) -> AppResult<Reviewed> {
        let id = id.ok_or_else(|| not_found("id"))?;
        let now = now();
        self.db
            .transaction(async |tx| {
                let (old, rating) = lock_review(tx, id).await?.ok_or_else(|| not_found("id"))?;
                let rating = match (old.status, status) {
                    (ReviewStatus::Published, ReviewStatus::Hidden) => rating.with(old.rating, -1),
                    (ReviewStatus::Hidden, ReviewStatus::Published) => rating.with(old.rating, 1),
                    _ => rating,
                };
                let review = if old.status == status {
                    old
                } else {
                    repo::set_status(tx, id, status, now).await?
                };
                let product = products::set_rating(tx, review.product_id, rating).await?;
                Ok(Reviewed { review, product })
            })
            .await
    }

    /// Deletes a review: its author's own, or any for an admin. Another customer's
    /// review is NOT_FOUND, as if it did not exist. Returns its id and its product.
    pub(crate) async fn delete(
        &self,
        by: Deleter,
        id: Option<i64>,
    ) -> AppResult<(i64, ProductRow)> {
        let id = id.ok_or_else(|| not_found("id"))?;
        self.db
            .transaction(async |tx| {
                let (review, rating) = lock_review(tx, id).await?.ok_or_else(|| not_found("id"))?;
                if !by.is_admin && review.user_id != by.user_id {
                    return Err(not_found("id"));
                }
                repo::delete(tx, id).await?;
                let rating = if review.is_published() {
                    rating.with(review.rating, -1)
                } else {
                    rating
                };
                let product = products::set_rating(tx, review.product_id, rating).await?;
                Ok((id, product))
            })
            .await
    }
}
