//! Relay object identification: the `Node` interface and `node`/`nodes`.

use async_graphql::{Context, ID, Interface, Object};

use crate::accounts::graphql::{User, user_node};
use crate::addresses::graphql::{Address, address_node};
use crate::cart::graphql::{CartItem, cart_item_node};
use crate::catalog::categories::graphql::{Category, category_node};
use crate::catalog::graphql::{Product, product_node};
use crate::catalog::variants::graphql::{ProductVariant, variant_node};
use crate::error::AppError;
use crate::events::graphql::{OrderEvent, order_event_node};
use crate::graphql::ids::{NodeKind, decode_id};
use crate::orders::graphql::{
    Order, OrderItem, Payment, order_item_node, order_node, payment_node,
};
use crate::promotions::graphql::{Coupon, coupon_node};
use crate::reviews::graphql::{Review, review_node};
use crate::webhooks::graphql::{Webhook, WebhookDelivery, delivery_node, webhook_node};
use crate::wishlist::graphql::{WishlistItem, wishlist_item_node};

/// An object with a globally unique, opaque ID (Relay Global Object Identification).
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub(crate) enum Node {
    User(User),
    Product(Product),
    CartItem(CartItem),
    Order(Order),
    OrderItem(OrderItem),
    Payment(Payment),
    Category(Category),
    ProductVariant(ProductVariant),
    WishlistItem(WishlistItem),
    Address(Address),
    Review(Review),
    Coupon(Coupon),
    OrderEvent(OrderEvent),
    Webhook(Webhook),
    WebhookDelivery(WebhookDelivery),
}

/// Most IDs one `nodes` call resolves.
const MAX_NODES: usize = 100;

/// Finds the object behind a global ID, or `None` when it does not exist or the viewer
/// may not see it (the two are indistinguishable on purpose).
async fn resolve(ctx: &Context<'_>, id: &ID) -> Result<Option<Node>, AppError> {
    let Some((kind, number)) = decode_id(id)? else {
        return Ok(None);
    };
    Ok(match kind {
        NodeKind::User => user_node(ctx, number).await?.map(Node::User),
        NodeKind::Product => product_node(ctx, number).await?.map(Node::Product),
        NodeKind::CartItem => cart_item_node(ctx, number).await?.map(Node::CartItem),
        NodeKind::Order => order_node(ctx, number).await?.map(Node::Order),
        NodeKind::OrderItem => order_item_node(ctx, number).await?.map(Node::OrderItem),
        NodeKind::Payment => payment_node(ctx, number).await?.map(Node::Payment),
        NodeKind::Category => category_node(ctx, number).await?.map(Node::Category),
        NodeKind::ProductVariant => variant_node(ctx, number).await?.map(Node::ProductVariant),
        NodeKind::WishlistItem => wishlist_item_node(ctx, number)
            .await?
            .map(Node::WishlistItem),
        NodeKind::Address => address_node(ctx, number).await?.map(Node::Address),
        NodeKind::Review => review_node(ctx, number).await?.map(Node::Review),
        NodeKind::Coupon => coupon_node(ctx, number).await?.map(Node::Coupon),
        NodeKind::OrderEvent => order_event_node(ctx, number).await?.map(Node::OrderEvent),
        NodeKind::Webhook => webhook_node(ctx, number).await?.map(Node::Webhook),
        NodeKind::WebhookDelivery => delivery_node(ctx, number).await?.map(Node::WebhookDelivery),
    })
}

#[derive(Default)]
pub(crate) struct NodeQuery;

#[Object]
impl NodeQuery {
    async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        Ok(resolve(ctx, &id).await?)
    }

    #[graphql(complexity = "ids.len() * child_complexity")]
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(AppError::bad_input(format!("at most {MAX_NODES} ids")).into());
        }
        let mut nodes = Vec::with_capacity(ids.len());
        for id in &ids {
            nodes.push(resolve(ctx, id).await?);
        }
        Ok(nodes)
    }
}
