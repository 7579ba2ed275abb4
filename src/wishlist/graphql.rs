//! The wishlist part of the schema: `wishlist`, its two mutations (customers only),
//! and `Product.inWishlist`, batched per page.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::model::WishlistItemRow;
use crate::accounts::model::Role;
use crate::catalog::graphql::Product;
use crate::db::Db;
use crate::error::{AppError, UserError};
use crate::graphql::ids::{NodeKind, encode_id, id_of_kind};
use crate::graphql::loaders::loaders;
use crate::graphql::payload::split;
use crate::graphql::scalars::DateTime;
use crate::graphql::viewer::{require_role, viewer};

fn wishlist_room<'a>(ctx: &Context<'a>) -> &'a super::Wishlist {
    ctx.data_unchecked::<super::Wishlist>()
}

pub(crate) struct WishlistItem(WishlistItemRow);

#[Object]
impl WishlistItem {
    pub(crate) async fn id(&self) -> ID {
        encode_id(NodeKind::WishlistItem, self.0.id)
    }
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Product> {
        let product = loaders(ctx).products().load_one(self.0.product_id).await?;
        product
            .map(Product)
            .ok_or_else(|| AppError::internal("wishlist item without its product").into_graphql())
    }
    async fn added_at(&self) -> DateTime {
        self.0.created_at.into()
    }
}

/// `node(id:)` for wishlist items: only their owner sees them.
pub(crate) async fn wishlist_item_node(
    ctx: &Context<'_>,
    id: i64,
) -> Result<Option<WishlistItem>, AppError> {
    let Some(viewer) = viewer(ctx).await? else {
        return Ok(None);
    };
    Ok(wishlist_room(ctx)
        .item(viewer.id, id)
        .await?
        .map(WishlistItem))
}

pub(crate) struct Wishlist {
    items: Vec<WishlistItemRow>,
}

#[Object]
impl Wishlist {
    /// Newest first.
    async fn items(&self) -> Vec<WishlistItem> {
        self.items.iter().cloned().map(WishlistItem).collect()
    }
    async fn total_count(&self) -> i32 {
        i32::try_from(self.items.len()).unwrap_or(i32::MAX)
    }
}

async fn wishlist_of(ctx: &Context<'_>, user_id: i64) -> async_graphql::Result<Wishlist> {
    let items = wishlist_room(ctx).items(user_id).await?;
    Ok(Wishlist { items })
}

/// Whether the viewer's wishlist holds a product: a page of products asks once.
pub(crate) async fn in_wishlist(ctx: &Context<'_>, product_id: i64) -> async_graphql::Result<bool> {
    let Some(viewer) = viewer(ctx).await? else {
        return Ok(false);
    };
    if viewer.role() != Role::Customer {
        return Ok(false);
    }
    let user_id = viewer.id;
    let loader = loaders(ctx).wishlisted(user_id);
    Ok(loader.load_one(product_id).await?.is_some())
}

/// Which products of a batch are on one customer's wishlist.
pub(crate) struct WishlistedLoader {
    pub db: Db,
    pub user_id: i64,
}

impl Loader<i64> for WishlistedLoader {
    type Value = ();
    type Error = async_graphql::Error;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, ()>, Self::Error> {
        let held = self
            .db
            .run(async |c| super::repo::wishlisted(c, self.user_id, ids).await)
            .await
            .map_err(AppError::into_graphql)?;
        Ok(held.into_iter().map(|id| (id, ())).collect())
    }
}

#[derive(SimpleObject)]
pub(crate) struct WishlistPayload {
    wishlist: Wishlist,
    user_errors: Vec<UserError>,
}

impl WishlistPayload {
    /// The wishlist as it now is, with the mutation's user error if any.
    async fn build(
        ctx: &Context<'_>,
        user_id: i64,
        result: Result<(), AppError>,
    ) -> async_graphql::Result<Self> {
        let (_, user_errors) = split(result)?;
        Ok(WishlistPayload {
            wishlist: wishlist_of(ctx, user_id).await?,
            user_errors,
        })
    }
}

#[derive(InputObject)]
pub(crate) struct WishlistProductInput {
    product_id: ID,
}

#[derive(Default)]
pub(crate) struct WishlistQuery;

#[Object]
impl WishlistQuery {
    /// The signed-in customer's wishlist.
    async fn wishlist(&self, ctx: &Context<'_>) -> async_graphql::Result<Wishlist> {
        let customer = require_role(ctx, Role::Customer).await?;
        wishlist_of(ctx, customer.id).await
    }
}

#[derive(Default)]
pub(crate) struct WishlistMutation;

#[Object]
impl WishlistMutation {
    async fn add_to_wishlist(
        &self,
        ctx: &Context<'_>,
        input: WishlistProductInput,
    ) -> async_graphql::Result<WishlistPayload> {
        let customer = require_role(ctx, Role::Customer).await?;
        let product_id = id_of_kind(&input.product_id, NodeKind::Product)?;
        let result = wishlist_room(ctx).add(customer.id, product_id).await;
        WishlistPayload::build(ctx, customer.id, result).await
    }

    async fn remove_from_wishlist(
        &self,
        ctx: &Context<'_>,
        input: WishlistProductInput,
    ) -> async_graphql::Result<WishlistPayload> {
        let customer = require_role(ctx, Role::Customer).await?;
        let product_id = id_of_kind(&input.product_id, NodeKind::Product)?;
        let result = wishlist_room(ctx).remove(customer.id, product_id).await;
        WishlistPayload::build(ctx, customer.id, result).await
    }
}
