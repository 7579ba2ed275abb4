//! The reviews part of the schema: `Review`, `Product.reviews`/`myReview`, the admins'
//! `reviews` list and the three mutations.

use std::collections::HashMap;

use async_graphql::connection::{Connection, Edge};
use async_graphql::dataloader::Loader;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::Reviews;
use super::model::{ReviewRow, ReviewScope, ReviewStatus, author_name};
use super::service::{Deleter, Reviewed, check_content};
use crate::accounts::model::Role;
use crate::catalog::graphql::{PageArgs, Product, catalog_reader};
use crate::catalog::model::ProductRow;
use crate::db::Db;
use crate::db::time_to_micros;
use crate::error::{AppError, UserError};
use crate::graphql::ids::{NodeKind, encode_id, id_of_kind};
use crate::graphql::loaders::loaders;
use crate::graphql::pagination::{Cursor, page_of, time_key};
use crate::graphql::payload::split;
use crate::graphql::scalars::DateTime;
use crate::graphql::viewer::{RoleGuard, require_role, require_user, viewer};

fn reviews_room<'a>(ctx: &Context<'a>) -> &'a Reviews {
    ctx.data_unchecked::<Reviews>()
}

pub(crate) struct Review(ReviewRow);

#[Object]
impl Review {
    pub(crate) async fn id(&self) -> ID {
        encode_id(NodeKind::Review, self.0.id)
    }
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Product> {
        let product = loaders(ctx).products().load_one(self.0.product_id).await?;
        product
            .map(Product)
            .ok_or_else(|| AppError::internal("review without its product").into_graphql())
    }
    /// The author's first name and the initial of the last name, e.g. "Ann L." — never
    /// the email.
    async fn author_name(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let author = loaders(ctx).users().load_one(self.0.user_id).await?;
        let author =
            author.ok_or_else(|| AppError::internal("review without its author").into_graphql())?;
        Ok(author_name(&author.first_name, &author.last_name))
    }
    /// 1 to 5.
    async fn rating(&self) -> i32 {
        self.0.rating
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    async fn status(&self) -> ReviewStatus {
        self.0.status
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }
}

/// `node(id:)` for reviews: a published one for whoever may read the catalog, a hidden
/// one for its author and admins.
pub(crate) async fn review_node(ctx: &Context<'_>, id: i64) -> Result<Option<Review>, AppError> {
    let Some(review) = reviews_room(ctx).review(id).await? else {
        return Ok(None);
    };
    if review.is_published() {
        catalog_reader(ctx, false).await?;
        return Ok(Some(Review(review)));
    }
    let visible = viewer(ctx)
        .await?
        .is_some_and(|v| v.role() == Role::Admin || v.id == review.user_id);
    Ok(visible.then_some(Review(review)))
}

/// `totalCount` of `ReviewConnection`, counted only when asked for and not known.
pub(crate) struct ReviewConnectionFields {
    scope: ReviewScope,
    /// The count when the caller has it already (a product's published reviews are its
    /// `review_count`).
    known_count: Option<i64>,
}

#[Object]
impl ReviewConnectionFields {
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let count = match self.known_count {
            Some(count) => count,
            None => reviews_room(ctx).count(self.scope).await?,
        };
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }
}

pub(crate) type ReviewConnection = Connection<Cursor, Review, ReviewConnectionFields>;

/// A page of the reviews in `scope`, newest first.
async fn review_connection(
    ctx: &Context<'_>,
    scope: ReviewScope,
    known_count: Option<i64>,
    (first, after, last, before): PageArgs,
) -> async_graphql::Result<ReviewConnection> {
    let page = page_of(first, after, last, before)?.try_map_key(time_key)?;
    let rows = reviews_room(ctx).list(scope, &page).await?;
    let page = crate::db::keyset::PageOf::from_fetched(&page, rows);
    let mut connection = Connection::with_additional_fields(
        page.has_previous_page,
        page.has_next_page,
        ReviewConnectionFields { scope, known_count },
    );
    connection.edges.extend(page.rows.into_iter().map(|row| {
        let cursor = Cursor::new(row.id, time_to_micros(row.created_at));
        Edge::new(cursor, Review(row))
    }));
    Ok(connection)
}

/// `Product.reviews`: published reviews, newest first; admins also see hidden ones.
pub(crate) async fn product_reviews(
    ctx: &Context<'_>,
    product: &ProductRow,
    page: PageArgs,
) -> async_graphql::Result<ReviewConnection> {
    let viewer = catalog_reader(ctx, true).await?;
    let with_hidden = viewer.is_some_and(|v| v.role() == Role::Admin);
    let scope = ReviewScope::Product {
        id: product.id,
        with_hidden,
    };
    let known_count = (!with_hidden).then_some(i64::from(product.review_count));
    review_connection(ctx, scope, known_count, page).await
}

/// `Product.myReview`: the viewer's own review, whatever its status; a page of
/// products asks once.
pub(crate) async fn my_review(
    ctx: &Context<'_>,
    product_id: i64,
) -> async_graphql::Result<Option<Review>> {
    let Some(viewer) = viewer(ctx).await? else {
        return Ok(None);
    };
    if viewer.role() != Role::Customer {
        return Ok(None);
    }
    let loader = loaders(ctx).own_reviews(viewer.id);
    Ok(loader.load_one(product_id).await?.map(Review))
}

/// One customer's reviews of a batch of products.
pub(crate) struct OwnReviewsLoader {
    pub db: Db,
    pub user_id: i64,
}

impl Loader<i64> for OwnReviewsLoader {
    type Value = ReviewRow;
    type Error = async_graphql::Error;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, ReviewRow>, Self::Error> {
        let rows = self
            .db
            .run(async |c| super::repo::by_author(c, self.user_id, ids).await)
            .await
            .map_err(AppError::into_graphql)?;
        Ok(rows.into_iter().map(|r| (r.product_id, r)).collect())
    }
}

#[derive(InputObject)]
pub(crate) struct WriteReviewInput {
    product_id: ID,
    /// 1 to 5.
    rating: i32,
    #[graphql(default_with = "Some(String::new())")]
    title: Option<String>,
    #[graphql(default_with = "Some(String::new())")]
    body: Option<String>,
}

#[derive(InputObject)]
pub(crate) struct DeleteReviewInput {
    id: ID,
}

#[derive(InputObject)]
pub(crate) struct ModerateReviewInput {
    id: ID,
    status: ReviewStatus,
}

#[derive(SimpleObject)]
pub(crate) struct ReviewPayload {
    review: Option<Review>,
    product: Option<Product>,
    user_errors: Vec<UserError>,
}

impl ReviewPayload {
    fn from_result(result: Result<Reviewed, AppError>) -> async_graphql::Result<Self> {
        let (reviewed, user_errors) = split(result)?;
        let (review, product) = match reviewed {
            Some(Reviewed { review, product }) => (Some(Review(review)), Some(Product(product))),
            None => (None, None),
        };
        Ok(ReviewPayload {
            review,
            product,
            user_errors,
        })
    }
}

#[derive(SimpleObject)]
pub(crate) struct DeleteReviewPayload {
    deleted_review_id: Option<ID>,
    product: Option<Product>,
    user_errors: Vec<UserError>,
}

#[derive(Default)]
pub(crate) struct ReviewsQuery;

#[Object]
impl ReviewsQuery {
    /// Admins only: reviews across the shop, newest first.
    #[graphql(
        guard = "RoleGuard(Role::Admin)",
        complexity = "crate::graphql::pagination::page_complexity(first, last, child_complexity)"
    )]
    async fn reviews(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        status: Option<ReviewStatus>,
    ) -> async_graphql::Result<ReviewConnection> {
        review_connection(
            ctx,
            ReviewScope::Shop { status },
            None,
            (first, after, last, before),
        )
        .await
    }
}

#[derive(Default)]
pub(crate) struct ReviewMutation;

#[Object]
impl ReviewMutation {
    /// Creates the viewer's review of a product, or replaces it (one per customer and
    /// product).
    async fn write_review(
        &self,
        ctx: &Context<'_>,
        input: WriteReviewInput,
    ) -> async_graphql::Result<ReviewPayload> {
        let customer = require_role(ctx, Role::Customer).await?;
        let product_id = id_of_kind(&input.product_id, NodeKind::Product)?;
        let title = input.title.unwrap_or_default();
        let body = input.body.unwrap_or_default();
        let result = match check_content(input.rating, &title, &body) {
            Ok(content) => {
                reviews_room(ctx)
                    .write(customer.id, product_id, content)
                    .await
            }
            Err(e) => Err(e),
        };
        ReviewPayload::from_result(result)
    }

    /// Own review, or any for admins.
    async fn delete_review(
        &self,
        ctx: &Context<'_>,
        input: DeleteReviewInput,
    ) -> async_graphql::Result<DeleteReviewPayload> {
        let user = require_user(ctx).await?;
        let by = Deleter {
            user_id: user.id,
            is_admin: user.role() == Role::Admin,
        };
        let id = id_of_kind(&input.id, NodeKind::Review)?;
        let (deleted, user_errors) = split(reviews_room(ctx).delete(by, id).await)?;
        let (id, product): (Option<i64>, Option<ProductRow>) = deleted.unzip();
        Ok(DeleteReviewPayload {
            deleted_review_id: id.map(|id| encode_id(NodeKind::Review, id)),
            product: product.map(Product),
            user_errors,
        })
    }

    /// Admins only.
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn moderate_review(
        &self,
        ctx: &Context<'_>,
        input: ModerateReviewInput,
    ) -> async_graphql::Result<ReviewPayload> {
        let id = id_of_kind(&input.id, NodeKind::Review)?;
        ReviewPayload::from_result(reviews_room(ctx).moderate(id, input.status).await)
    }
}
