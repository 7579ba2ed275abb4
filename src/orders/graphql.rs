//! The orders part of the schema: `Order`, `OrderItem`, `Payment`, the order queries
//! and mutations.

use async_graphql::connection::{Connection, Edge};
use async_graphql::dataloader::Loader;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject, Subscription};
use futures_util::{Stream, StreamExt};
use tokio_stream::wrappers::BroadcastStream;

use super::Orders;
use super::model::{
    CancellationReason, OrderItemRow, OrderListFilter, OrderRow, OrderStatus, PaymentMethod,
    PaymentRow, PaymentStatus,
};
use super::service::Checkout;
use crate::accounts::graphql::User;
use crate::accounts::model::Role;
use crate::addresses::graphql::{AddressInput, OrderAddress};
use crate::catalog::graphql::Product;
use crate::catalog::variants::graphql::{ProductVariant, load_variant};
use crate::db::keyset::PageOf;
use crate::db::time_to_micros;
use crate::error::{AppError, UserError};
use crate::events::graphql::OrderEvent;
use crate::graphql::ids::{NodeKind, encode_id, id_of_kind};
use crate::graphql::loaders::loaders;
use crate::graphql::pagination::{Cursor, page_of, time_key};
use crate::graphql::payload::split;
use crate::graphql::scalars::{DateTime, Decimal};
use crate::graphql::viewer::{RoleGuard, require_role, require_user, viewer};

fn orders<'a>(ctx: &Context<'a>) -> &'a Orders {
    ctx.data_unchecked::<Orders>()
}

fn missing(what: &str) -> async_graphql::Error {
    AppError::internal(format!("{what} missing")).into_graphql()
}

pub(crate) struct Order(pub OrderRow);

#[Object]
impl Order {
    pub(crate) async fn id(&self) -> ID {
        encode_id(NodeKind::Order, self.0.id)
    }
    async fn order_number(&self) -> &str {
        &self.0.order_number
    }
    async fn status(&self) -> OrderStatus {
        self.0.status()
    }
    async fn total_amount(&self) -> Decimal {
        Decimal::Cents(self.0.total_cents)
    }
    /// Sum of the line subtotals.
    async fn subtotal(&self) -> Decimal {
        Decimal::Cents(self.0.subtotal_cents)
    }
    async fn discount_amount(&self) -> Decimal {
        Decimal::Cents(self.0.discount_cents)
    }
    async fn coupon_code(&self) -> Option<&str> {
        self.0.coupon_code.as_deref()
    }
    async fn cancellation_reason(&self) -> Option<CancellationReason> {
        self.0.cancellation_reason
    }
    /// When an unpaid card order is cancelled if still unpaid; null otherwise.
    async fn payment_due_at(&self) -> Option<DateTime> {
        self.0.payment_due_at.map(DateTime)
    }
    /// This order's events, oldest first.
    async fn events(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<OrderEvent>> {
        let events = loaders(ctx).order_events().load_one(self.0.id).await?;
        Ok(events
            .unwrap_or_default()
            .into_iter()
            .map(OrderEvent)
            .collect())
    }
    async fn shipping_address(&self) -> &str {
        &self.0.shipping_address
    }
    /// Null for orders placed with a free-text shippingAddress.
    async fn address(&self) -> async_graphql::Result<Option<OrderAddress>> {
        let Some(json) = &self.0.address else {
            return Ok(None);
        };
        let address = serde_json::from_str(json)
            .map_err(|e| AppError::internal(format!("order address: {e}")).into_graphql())?;
        Ok(Some(OrderAddress(address)))
    }
    async fn payment_method(&self) -> PaymentMethod {
        self.0.payment_method()
    }
    async fn items(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<OrderItem>> {
        let items = loaders(ctx).order_items().load_one(self.0.id).await?;
        Ok(items
            .unwrap_or_default()
            .into_iter()
            .map(OrderItem)
            .collect())
    }
    /// Total units across all items.
    async fn item_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let items = loaders(ctx).order_items().load_one(self.0.id).await?;
        Ok(items.unwrap_or_default().iter().map(|i| i.quantity).sum())
    }
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        let user = loaders(ctx).users().load_one(self.0.user_id).await?;
        user.map(User).ok_or_else(|| missing("customer"))
    }
    async fn payment(&self, ctx: &Context<'_>) -> async_graphql::Result<Payment> {
        let payment = loaders(ctx).payments().load_one(self.0.id).await?;
        payment.map(Payment).ok_or_else(|| missing("payment"))
    }
    /// The statuses this order may move to next, per the status flow.
    async fn next_statuses(&self) -> Vec<OrderStatus> {
        self.0.status().next_statuses().to_vec()
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }
}

pub(crate) struct OrderItem(pub OrderItemRow);

#[Object]
impl OrderItem {
    pub(crate) async fn id(&self) -> ID {
        encode_id(NodeKind::OrderItem, self.0.id)
    }
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Product> {
        let product = loaders(ctx).products().load_one(self.0.product_id).await?;
        product.map(Product).ok_or_else(|| missing("product"))
    }
    /// The product's name when the order was placed.
    async fn product_name(&self) -> &str {
        &self.0.product_name
    }
    /// Null once the variant is deleted; the snapshot fields stay.
    async fn variant(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ProductVariant>> {
        match self.0.variant_id {
            Some(id) => load_variant(ctx, id).await,
            None => Ok(None),
        }
    }
    /// The variant's SKU when the order was placed.
    async fn sku(&self) -> &str {
        &self.0.sku
    }
    /// The variant's title when the order was placed.
    async fn variant_title(&self) -> &str {
        &self.0.variant_title
    }
    /// The unit price when the order was placed.
    async fn unit_price(&self) -> Decimal {
        Decimal::Cents(self.0.unit_price_cents)
    }
    async fn quantity(&self) -> i32 {
        self.0.quantity
    }
    async fn subtotal(&self) -> Decimal {
        Decimal::Cents(self.0.unit_price_cents * i64::from(self.0.quantity))
    }
}

pub(crate) struct Payment(pub PaymentRow);

#[Object]
impl Payment {
    pub(crate) async fn id(&self) -> ID {
        encode_id(NodeKind::Payment, self.0.id)
    }
    async fn amount(&self) -> Decimal {
        Decimal::Cents(self.0.amount_cents)
    }
    async fn method(&self) -> PaymentMethod {
        self.0.method
    }
    async fn status(&self) -> PaymentStatus {
        self.0.status()
    }
    async fn transaction_id(&self) -> Option<&str> {
        self.0.transaction_id.as_deref()
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }
}

/// `order(id:)` and `node(id:)` for orders: null unless the viewer may see it.
pub(crate) async fn order_node(ctx: &Context<'_>, id: i64) -> Result<Option<Order>, AppError> {
    let Some(viewer) = viewer(ctx).await? else {
        return Ok(None);
    };
    Ok(orders(ctx).order(viewer, id).await?.map(Order))
}

/// `node(id:)` for order lines: visible with their order.
pub(crate) async fn order_item_node(
    ctx: &Context<'_>,
    id: i64,
) -> Result<Option<OrderItem>, AppError> {
    let Some(viewer) = viewer(ctx).await? else {
        return Ok(None);
    };
    Ok(orders(ctx).item(viewer, id).await?.map(OrderItem))
}

/// `node(id:)` for payments: visible with their order.
pub(crate) async fn payment_node(ctx: &Context<'_>, id: i64) -> Result<Option<Payment>, AppError> {
    let Some(viewer) = viewer(ctx).await? else {
        return Ok(None);
    };
    Ok(orders(ctx).payment(viewer, id).await?.map(Payment))
}

/// `totalCount` of `OrderConnection`, counted only when asked for.
pub(crate) struct OrderConnectionFields {
    filter: OrderListFilter,
}

#[Object]
impl OrderConnectionFields {
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let count = orders(ctx).count_orders(&self.filter).await?;
        Ok(count as i32)
    }
}

pub(crate) type OrderConnection = Connection<Cursor, Order, OrderConnectionFields>;

/// A page of orders, newest first; `filter` already carries the viewer's rights.
pub(crate) async fn orders_page(
    ctx: &Context<'_>,
    filter: OrderListFilter,
    page: crate::db::keyset::Page<String>,
) -> async_graphql::Result<OrderConnection> {
    let page = page.try_map_key(time_key)?;
    let rows = orders(ctx).orders(&filter, &page).await?;
    // After the cut: a page may be fetched with a few rows to spare (`keyset::limited`).
    let page = PageOf::from_fetched(&page, rows);
    prefetch(ctx, &page.rows).await?;
    let mut connection = Connection::with_additional_fields(
        page.has_previous_page,
        page.has_next_page,
        OrderConnectionFields { filter },
    );
    connection.edges.extend(page.rows.into_iter().map(|row| {
        Edge::new(
            Cursor::new(row.id, time_to_micros(row.created_at)),
            Order(row),
        )
    }));
    Ok(connection)
}

/// Loads what the query selects below a page of orders (lines, their products,
/// payments, customers) with one query per edge, and primes the DataLoaders with it.
/// The loaders alone would batch too, but their batching window is a timer: on a busy
/// machine a page could straddle two batches. Priming makes the count exact.
async fn prefetch(ctx: &Context<'_>, orders: &[OrderRow]) -> async_graphql::Result<()> {
    if orders.is_empty() {
        return Ok(());
    }
    let ahead = ctx.look_ahead();
    let nodes = [ahead.field("nodes"), ahead.field("edges").field("node")];
    let selects = |field: &str| nodes.iter().any(|n| n.field(field).exists());
    let order_ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
    if selects("items") || selects("itemCount") {
        let loader = loaders(ctx).order_items();
        let mut items = loader.loader().load(&order_ids).await?;
        if nodes
            .iter()
            .any(|n| n.field("items").field("product").exists())
        {
            let mut product_ids: Vec<i64> =
                items.values().flatten().map(|i| i.product_id).collect();
            product_ids.sort_unstable();
            product_ids.dedup();
            let products = loaders(ctx).products();
            products
                .feed_many(products.loader().load(&product_ids).await?)
                .await;
        }
        let all = order_ids
            .iter()
            .map(|id| (*id, items.remove(id).unwrap_or_default()));
        loader.feed_many(all).await;
    }
    if selects("payment") {
        let loader = loaders(ctx).payments();
        loader
            .feed_many(loader.loader().load(&order_ids).await?)
            .await;
    }
    if selects("customer") {
        let mut user_ids: Vec<i64> = orders.iter().map(|o| o.user_id).collect();
        user_ids.sort_unstable();
        user_ids.dedup();
        let loader = loaders(ctx).users();
        loader
            .feed_many(loader.loader().load(&user_ids).await?)
            .await;
    }
    Ok(())
}

#[derive(InputObject, Default)]
pub(crate) struct OrderFilter {
    status: Option<OrderStatus>,
    /// Admins only: orders of one customer.
    customer_id: Option<ID>,
}

#[derive(Default)]
pub(crate) struct OrdersQuery;

#[Object]
impl OrdersQuery {
    /// Customers see their own orders; admins see all. Newest first.
    #[graphql(
        complexity = "crate::graphql::pagination::page_complexity(first, last, child_complexity)"
    )]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<OrderFilter>,
    ) -> async_graphql::Result<OrderConnection> {
        let viewer = require_user(ctx).await?;
        let page = page_of(first, after, last, before)?;
        let filter = filter.unwrap_or_default();
        let user_id = if viewer.role() == Role::Admin {
            match filter.customer_id {
                // A customer ID of the wrong type or of nobody matches no orders.
                Some(id) => Some(id_of_kind(&id, NodeKind::User)?.unwrap_or(0)),
                None => None,
            }
        } else {
            Some(viewer.id)
        };
        orders_page(
            ctx,
            OrderListFilter {
                user_id,
                status: filter.status,
            },
            page,
        )
        .await
    }

    async fn order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Order>> {
        match id_of_kind(&id, NodeKind::Order)? {
            Some(id) => Ok(order_node(ctx, id).await?),
            None => Ok(None),
        }
    }
}

#[derive(SimpleObject)]
pub(crate) struct OrderPayload {
    order: Option<Order>,
    user_errors: Vec<UserError>,
}

impl OrderPayload {
    fn from_result(result: Result<OrderRow, AppError>) -> async_graphql::Result<Self> {
        let (order, user_errors) = split(result)?;
        Ok(OrderPayload {
            order: order.map(Order),
            user_errors,
        })
    }
}

#[derive(InputObject)]
pub(crate) struct PlaceOrderInput {
    /// Exactly one of shippingAddress, addressId and address.
    shipping_address: Option<String>,
    /// One of the customer's saved addresses.
    address_id: Option<ID>,
    /// An address for this order only.
    address: Option<AddressInput>,
    #[graphql(default_with = "Some(PaymentMethod::CashOnDelivery)")]
    payment_method: Option<PaymentMethod>,
    /// A client-chosen key: retrying placeOrder with the same key returns the first
    /// order instead of placing another.
    idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub(crate) struct CancelOrderInput {
    order_id: ID,
}

#[derive(InputObject)]
pub(crate) struct UpdateOrderStatusInput {
    order_id: ID,
    status: OrderStatus,
}

#[derive(InputObject)]
pub(crate) struct PayOrderInput {
    order_id: ID,
    /// Simulated card token: tok_visa succeeds, tok_chargeDeclined is declined.
    payment_token: String,
}

#[derive(Default)]
pub(crate) struct OrdersSubscription;

#[Subscription]
impl OrdersSubscription {
    /// Every change of status or payment of an order the subscriber may see (own
    /// orders; admins: all), optionally one order only.
    async fn order_updated(
        &self,
        ctx: &Context<'_>,
        order_id: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = Order> + use<>> {
        let viewer = require_user(ctx).await?;
        let (viewer_id, is_admin) = (viewer.id, viewer.role() == Role::Admin);
        // An ID of another type or of nothing matches no order: the stream stays silent.
        let only = order_id
            .map(|id| id_of_kind(&id, NodeKind::Order))
            .transpose()?
            .map(|id| id.unwrap_or(0));
        let room = orders(ctx).clone();
        let events = BroadcastStream::new(room.events().subscribe());
        Ok(events.filter_map(move |event| {
            let room = room.clone();
            async move {
                // A subscriber too slow to keep up skips what it missed.
                let event = event.ok()?;
                let visible = is_admin || event.user_id == viewer_id;
                if !visible || only.is_some_and(|id| id != event.order_id) {
                    return None;
                }
                room.current(event.order_id).await.ok().flatten().map(Order)
            }
        }))
    }
}

#[derive(Default)]
pub(crate) struct OrdersMutation;

#[Object]
impl OrdersMutation {
    async fn place_order(
        &self,
        ctx: &Context<'_>,
        input: PlaceOrderInput,
    ) -> async_graphql::Result<OrderPayload> {
        let customer = require_role(ctx, Role::Customer).await?;
        let address_id = input
            .address_id
            .as_ref()
            .map(|id| id_of_kind(id, NodeKind::Address))
            .transpose()?;
        let checkout = Checkout {
            shipping_address: input.shipping_address,
            address_id,
            address: input.address.map(Into::into),
            payment_method: input.payment_method.unwrap_or_default(),
            idempotency_key: input.idempotency_key,
        };
        OrderPayload::from_result(orders(ctx).place_order(customer, checkout).await)
    }

    async fn cancel_order(
        &self,
        ctx: &Context<'_>,
        input: CancelOrderInput,
    ) -> async_graphql::Result<OrderPayload> {
        let viewer = require_user(ctx).await?;
        let order_id = id_of_kind(&input.order_id, NodeKind::Order)?;
        OrderPayload::from_result(orders(ctx).cancel_order(viewer, order_id).await)
    }

    async fn pay_order(
        &self,
        ctx: &Context<'_>,
        input: PayOrderInput,
    ) -> async_graphql::Result<OrderPayload> {
        let viewer = require_user(ctx).await?;
        let order_id = id_of_kind(&input.order_id, NodeKind::Order)?;
        OrderPayload::from_result(
            orders(ctx)
                .pay_order(viewer, order_id, &input.payment_token)
                .await,
        )
    }

    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn update_order_status(
        &self,
        ctx: &Context<'_>,
        input: UpdateOrderStatusInput,
    ) -> async_graphql::Result<OrderPayload> {
        let admin = require_user(ctx).await?;
        let order_id = id_of_kind(&input.order_id, NodeKind::Order)?;
        OrderPayload::from_result(
            orders(ctx)
                .update_status(admin, order_id, input.status)
                .await,
        )
    }
}
