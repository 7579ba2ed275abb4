//! The cart part of the schema: `cart` and the cart mutations (customers only).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::model::CartLine;
use crate::accounts::model::Role;
use crate::catalog::graphql::Product;
use crate::catalog::variants::graphql::{ProductVariant, load_variant};
use crate::error::{AppError, UserError};
use crate::graphql::ids::{NodeKind, cart_id, encode_id, id_of_kind};
use crate::graphql::payload::split;
use crate::graphql::scalars::{DateTime, Decimal};
use crate::graphql::viewer::require_role;
use crate::promotions::Promotions;
use crate::promotions::service::AppliedCoupon;

/// The cart room's handle (`Cart` here is the GraphQL object).
fn cart_room<'a>(ctx: &Context<'a>) -> &'a super::Cart {
    ctx.data_unchecked::<super::Cart>()
}

pub(crate) struct CartItem(pub CartLine);

#[Object]
impl CartItem {
    pub(crate) async fn id(&self) -> ID {
        encode_id(NodeKind::CartItem, self.0.item.id)
    }
    async fn product(&self) -> Product {
        Product(self.0.product.clone())
    }
    async fn variant(&self, ctx: &Context<'_>) -> async_graphql::Result<ProductVariant> {
        load_variant(ctx, self.0.item.variant_id)
            .await?
            .ok_or_else(|| AppError::internal("cart line without its variant").into_graphql())
    }
    async fn quantity(&self) -> i32 {
        self.0.item.quantity
    }
    async fn line_total(&self) -> Decimal {
        Decimal::Cents(self.0.line_total_cents())
    }
    async fn created_at(&self) -> DateTime {
        self.0.item.created_at.into()
    }
    async fn updated_at(&self) -> DateTime {
        self.0.item.updated_at.into()
    }
}

/// `node(id:)` for cart lines: only their owner sees them.
pub(crate) async fn cart_item_node(
    ctx: &Context<'_>,
    id: i64,
) -> Result<Option<CartItem>, AppError> {
    let Some(viewer) = crate::graphql::viewer::viewer(ctx).await? else {
        return Ok(None);
    };
    Ok(cart_room(ctx).line(viewer.id, id).await?.map(CartItem))
}

/// A customer's cart, priced at current prices: its lines, whose it is (for its stable
/// id), and its coupon (read when a field needs it).
pub(crate) struct Cart {
    user_id: i64,
    lines: Vec<CartLine>,
    coupon: tokio::sync::OnceCell<Option<AppliedCoupon>>,
}

impl Cart {
    fn new(user_id: i64, lines: Vec<CartLine>) -> Self {
        Cart {
            user_id,
            lines,
            coupon: tokio::sync::OnceCell::new(),
        }
    }

    fn subtotal_cents(&self) -> i64 {
        self.lines.iter().map(CartLine::line_total_cents).sum()
    }

    async fn coupon(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&AppliedCoupon>> {
        let coupon = self
            .coupon
            .get_or_try_init(|| ctx.data_unchecked::<Promotions>().of_cart(self.user_id))
            .await?;
        Ok(coupon.as_ref())
    }

    async fn discount_cents(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        Ok(self
            .coupon(ctx)
            .await?
            .map_or(0, |c| c.discount_now(self.subtotal_cents())))
    }
}

#[Object]
impl Cart {
    /// Stable for each customer, so that client caches can normalise the cart.
    async fn id(&self) -> ID {
        cart_id(self.user_id)
    }
    async fn items(&self) -> Vec<CartItem> {
        self.lines.iter().cloned().map(CartItem).collect()
    }
    async fn total_quantity(&self) -> i32 {
        self.lines.iter().map(|l| l.item.quantity).sum()
    }
    async fn subtotal(&self) -> Decimal {
        Decimal::Cents(self.subtotal_cents())
    }
    /// The coupon code applied to this cart, if any.
    async fn coupon_code(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Ok(self.coupon(ctx).await?.map(|c| c.coupon.code.clone()))
    }
    /// What the applied coupon takes off the subtotal now; 0.00 without one.
    async fn discount(&self, ctx: &Context<'_>) -> async_graphql::Result<Decimal> {
        Ok(Decimal::Cents(self.discount_cents(ctx).await?))
    }
    /// subtotal - discount.
    async fn total(&self, ctx: &Context<'_>) -> async_graphql::Result<Decimal> {
        Ok(Decimal::Cents(
            self.subtotal_cents() - self.discount_cents(ctx).await?,
        ))
    }
}

#[derive(SimpleObject)]
pub(crate) struct CartPayload {
    cart: Cart,
    /// The item that the mutation created or changed, when there is one.
    cart_item: Option<CartItem>,
    user_errors: Vec<UserError>,
}

impl CartPayload {
    /// The cart as it now is, the changed line (by id) and any user error.
    pub(crate) async fn build(
        ctx: &Context<'_>,
        user_id: i64,
        result: Result<Option<i64>, AppError>,
    ) -> async_graphql::Result<Self> {
        let (changed, user_errors) = split(result)?;
        let changed = changed.flatten();
        // Load only what the client selected: the whole cart is a join over every line,
        // which an add-to-cart button asking for `cartItem` alone does not need.
        let ahead = ctx.look_ahead();
        let (cart, cart_item) = if ahead.field("cart").exists() {
            let lines = cart_room(ctx).lines(user_id).await?;
            let item = changed.and_then(|id| lines.iter().find(|l| l.item.id == id).cloned());
            (Cart::new(user_id, lines), item)
        } else {
            let item = match changed {
                Some(id) if ahead.field("cartItem").exists() => {
                    cart_room(ctx).line(user_id, id).await?
                }
                _ => None,
            };
            // Not selected, so never resolved: an empty cart stands in.
            let lines = Vec::new();
            (Cart::new(user_id, lines), item)
        };
        Ok(CartPayload {
            cart,
            cart_item: cart_item.map(CartItem),
            user_errors,
        })
    }
}

#[derive(InputObject)]
pub(crate) struct AddToCartInput {
    product_id: ID,
    #[graphql(default_with = "Some(1)")]
    quantity: Option<i32>,
    /// Which variant of productId; required when the product has more than one active variant.
    variant_id: Option<ID>,
}

#[derive(InputObject)]
pub(crate) struct UpdateCartItemInput {
    cart_item_id: ID,
    /// 0 removes the item.
    quantity: i32,
}

#[derive(InputObject)]
pub(crate) struct RemoveFromCartInput {
    cart_item_id: ID,
}

#[derive(Default)]
pub(crate) struct CartQuery;

#[Object]
impl CartQuery {
    /// The signed-in customer's cart.
    async fn cart(&self, ctx: &Context<'_>) -> async_graphql::Result<Cart> {
        let customer = require_role(ctx, Role::Customer).await?;
        let lines = cart_room(ctx).lines(customer.id).await?;
        Ok(Cart::new(customer.id, lines))
    }
}

#[derive(Default)]
pub(crate) struct CartMutation;

#[Object]
impl CartMutation {
    async fn add_to_cart(
        &self,
        ctx: &Context<'_>,
        input: AddToCartInput,
    ) -> async_graphql::Result<CartPayload> {
        let customer = require_role(ctx, Role::Customer).await?;
        let product_id = id_of_kind(&input.product_id, NodeKind::Product)?;
        let variant = input
            .variant_id
            .as_ref()
            .map(|v| id_of_kind(v, NodeKind::ProductVariant))
            .transpose()?;
        let quantity = input.quantity.unwrap_or(1);
        let result = cart_room(ctx)
            .add(customer.id, product_id, variant, quantity)
            .await;
        CartPayload::build(ctx, customer.id, result.map(|item| Some(item.id))).await
    }

    async fn update_cart_item(
        &self,
        ctx: &Context<'_>,
        input: UpdateCartItemInput,
    ) -> async_graphql::Result<CartPayload> {
        let customer = require_role(ctx, Role::Customer).await?;
        let item_id = id_of_kind(&input.cart_item_id, NodeKind::CartItem)?;
        let result = cart_room(ctx)
            .update(customer.id, item_id, input.quantity)
            .await;
        CartPayload::build(ctx, customer.id, result.map(|item| item.map(|i| i.id))).await
    }

    async fn remove_from_cart(
        &self,
        ctx: &Context<'_>,
        input: RemoveFromCartInput,
    ) -> async_graphql::Result<CartPayload> {
        let customer = require_role(ctx, Role::Customer).await?;
        let item_id = id_of_kind(&input.cart_item_id, NodeKind::CartItem)?;
        let result = cart_room(ctx).remove(customer.id, item_id).await;
        CartPayload::build(ctx, customer.id, result.map(|()| None)).await
    }

    async fn clear_cart(&self, ctx: &Context<'_>) -> async_graphql::Result<CartPayload> {
        let customer = require_role(ctx, Role::Customer).await?;
        let result = cart_room(ctx).clear(customer.id).await;
        CartPayload::build(ctx, customer.id, result.map(|()| None)).await
    }
}
