//! Order rules: checkout in one transaction, the status flow, payments and refunds.

use rand::Rng;

use chrono::{NaiveDateTime, TimeDelta};

use super::events::OrderEvents;
use super::model::{
    CancellationReason, NewOrder, NewOrderItem, OrderItemRow, OrderListFilter, OrderRow,
    OrderStatus, PaymentMethod, PaymentRow, PaymentStatus,
};
use super::repo;
use crate::accounts::model::{Role, UserRow};
use crate::addresses::model::{AddressFields, PostalAddress};
use crate::addresses::service::{check_address, saved_address};
use crate::cart;
use crate::catalog;
use crate::catalog::facet_cache::FacetCache;
use crate::catalog::variants::repo::Wanted;
use crate::db::keyset::Page;
use crate::db::{Conn, Db, is_unique_violation, now};
use crate::error::{AppError, AppResult, UserError, UserErrorCode};
use crate::events::event_of;
use crate::events::log::{self as event_log, OrderEventType};
use crate::mail::templates::{self, MailLine, OrderNews, Recipient};
use crate::mail::{MailQueue, outbox};
use crate::promotions::service as coupons;
use crate::webhooks::delivery::DeliveryQueue;

/// The orders room: orders, their lines and payments (the `orders`, `order_items` and
/// `payments` tables), and the events of their changes (appended to the event log in
/// the change's transaction, announced after it). Stock belongs to the catalog and
/// coupon uses to promotions: placing and cancelling an order ask them, in the order's
/// transaction.
#[derive(Clone)]
pub(crate) struct Orders {
    db: Db,
    events: OrderEvents,
    /// Told when an order sells a variant out or brings one back (in-stock facets).
    facets: FacetCache,
    /// Woken after a commit that queued an order mail.
    mail: MailQueue,
    /// Woken after a commit that queued webhook deliveries.
    deliveries: DeliveryQueue,
    /// How long a card order may stay unpaid (`None`: for ever).
    payment_timeout: Option<TimeDelta>,
}

/// What an order room is built with besides its pool.
#[derive(Clone)]
pub(crate) struct OrderRoom {
    pub events: OrderEvents,
    pub facets: FacetCache,
    pub mail: MailQueue,
    pub deliveries: DeliveryQueue,
    pub payment_timeout: Option<TimeDelta>,
}

pub(crate) const MAX_ADDRESS_CHARS: usize = 500;
pub(crate) const MAX_IDEMPOTENCY_KEY_CHARS: usize = 100;

/// The simulated gateway's one accepted card token.
pub(crate) const TOKEN_VISA: &str = "tok_visa";

fn order_not_found() -> AppError {
    AppError::input(UserErrorCode::NotFound, "orderId", "no such order")
}

fn invalid_transition(order: &OrderRow, to: OrderStatus) -> AppError {
    AppError::input(
        UserErrorCode::InvalidStatusTransition,
        "status",
        format!(
            "an order in {} cannot become {}",
            order.status.as_str(),
            to.as_str()
        ),
    )
}

/// Unique, readable, and not guessable in sequence: "ORD-" and 10 random characters of
/// Crockford's base32 (no I, L, O, U), about 50 bits.
pub(crate) fn new_order_number() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut rng = rand::rng();
    let code: String = (0..10)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("ORD-{code}")
}

/// The order if the viewer may see it: their own, or any for an admin.
async fn visible_order(
    conn: &mut Conn<'_>,
    viewer: &UserRow,
    order_id: i64,
) -> AppResult<Option<OrderRow>> {
    Ok(repo::find_order(conn, order_id)
        .await?
        .filter(|o| o.user_id == viewer.id || viewer.role() == Role::Admin))
}

pub(crate) struct Checkout {
    /// Where the order goes: exactly one of the three.
    pub shipping_address: Option<String>,
    pub address_id: Option<Option<i64>>,
    pub address: Option<AddressFields>,
    pub payment_method: PaymentMethod,
    pub idempotency_key: Option<String>,
}

/// Where an order goes, checked as far as it can be before the transaction.
enum Destination {
    /// The v1 free text.
    Text(String),
    /// One of the customer's saved addresses, read in the transaction.
    Saved(Option<i64>),
    /// An address for this order only.
    New(PostalAddress),
}

fn destination(checkout: &Checkout) -> AppResult<Destination> {
    match (
        &checkout.shipping_address,
        checkout.address_id,
        &checkout.address,
    ) {
        (Some(text), None, None) => {
            let text = text.trim();
            if text.is_empty() || text.chars().count() > MAX_ADDRESS_CHARS || text.contains('\0') {
                return Err(AppError::input(
                    UserErrorCode::InvalidInput,
                    "shippingAddress",
                    format!("the shipping address must be 1 to {MAX_ADDRESS_CHARS} characters"),
                ));
            }
            Ok(Destination::Text(text.to_owned()))
        }
        (None, Some(id), None) => Ok(Destination::Saved(id)),
        (None, None, Some(fields)) => Ok(Destination::New(check_address(fields, "address")?)),
        _ => Err(AppError::input(
            UserErrorCode::InvalidInput,
            "",
            "give exactly one of shippingAddress, addressId and address",
        )),
    }
}

/// Queues the customer's mail about an order, in the order's transaction.
async fn queue_news(tx: &mut Conn<'_>, order: &OrderRow, news: OrderNews) -> AppResult<()> {
    let customer = crate::accounts::repo::find_user(tx, order.user_id)
        .await?
        .ok_or_else(|| AppError::internal("order without its customer"))?;
    let to = Recipient::of(&customer);
    let mail = templates::order_news(&to, &order.order_number, news);
    outbox::queue(tx, &mail, now()).await?;
    Ok(())
}

async fn place_in(
    tx: &mut Conn<'_>,
    customer: &UserRow,
    destination: &Destination,
    method: PaymentMethod,
    key: Option<&str>,
    payment_timeout: Option<TimeDelta>,
) -> AppResult<(OrderRow, StockMoved)> {
    let now = now();
    let user_id = customer.id;
    let (address, snapshot) = match destination {
        Destination::Text(text) => (text.clone(), None),
        Destination::Saved(id) => {
            let saved = saved_address(tx, user_id, *id, "addressId").await?;
            (saved.one_line(), Some(saved))
        }
        Destination::New(address) => (address.one_line(), Some(address.clone())),
    };
    let snapshot = snapshot
        .map(|a| serde_json::to_string(&a))
        .transpose()
        .map_err(|e| AppError::internal(format!("order address as JSON: {e}")))?;
    let mut lines = cart::repo::take_all(tx, user_id).await?;
    if lines.is_empty() {
        return Err(AppError::user(
            UserErrorCode::CartEmpty,
            "the cart is empty",
        ));
    }
    // Product, then variant order: every writer of a product's stock locks the same way.
    lines.sort_by_key(|line| (line.product_id, line.variant_id));
    let wanted: Vec<Wanted> = lines
        .iter()
        .map(|line| (line.product_id, line.variant_id, line.quantity))
        .collect();
    // The conditional UPDATEs take the stock and read the snapshot; only when they take
    // less than every line do we look again, to say why (the transaction then rolls back).
    let taken = catalog::variants::repo::take_stock_all(tx, &wanted, now).await?;
    if taken.len() < lines.len() {
        // What was taken comes in line order: the first line without its variant there
        // is the one refused.
        let refused = lines
            .iter()
            .zip(taken.iter().map(Some).chain(std::iter::repeat(None)))
            .find(|(line, taken)| taken.is_none_or(|t| t.variant.id != line.variant_id))
            .map_or(&lines[0], |(line, _)| line);
        return Err(refused_line(tx, refused).await);
    }
    let mut subtotal_cents: i64 = 0;
    let mut moved = StockMoved::default();
    for (line, taken) in lines.iter().zip(&taken) {
        subtotal_cents += taken.variant.price_cents * i64::from(line.quantity);
        if taken.variant.stock == 0 {
            moved.crossed_zero = true;
            catalog::service::sold_out(tx, &taken.variant, now).await?;
        }
    }
    let coupon = coupons::check_for_order(tx, user_id, subtotal_cents, now).await?;
    let discount_cents = coupon.as_ref().map_or(0, |c| c.discount_cents);
    let total_cents = subtotal_cents - discount_cents;
    let payment_due_at = match (method, payment_timeout) {
        (PaymentMethod::Card, Some(timeout)) => Some(now + timeout),
        _ => None,
    };
    let order_number = new_order_number();
    // The lines' order id is set when the order is written.
    let new_items: Vec<NewOrderItem<'_>> = lines
        .iter()
        .zip(&taken)
        .map(|(line, taken)| NewOrderItem::snapshot(0, taken, line.quantity))
        .collect();
    let order = repo::insert_placed(
        tx,
        &NewOrder {
            order_number: &order_number,
            user_id,
            status: OrderStatus::Pending.as_str(),
            total_cents,
            shipping_address: &address,
            payment_method: method.as_str(),
            idempotency_key: key,
            created_at: now,
            updated_at: now,
            address: snapshot.as_deref(),
            subtotal_cents,
            discount_cents,
            coupon_code: coupon.as_ref().map(|c| c.code()),
            payment_due_at,
        },
        &new_items,
    )
    .await?;
    let order = match &coupon {
        Some(checked) => {
            let discount = coupons::take_use(tx, user_id, checked, subtotal_cents, now).await?;
            if discount == discount_cents {
                order
            } else {
                repo::set_discount(tx, order.id, discount, subtotal_cents - discount).await?
            }
        }
        None => order,
    };
    let lines: Vec<MailLine<'_>> = new_items
        .iter()
        .map(|item| MailLine {
            name: item.product_name,
            variant: item.variant_title,
            quantity: item.quantity,
            unit_price_cents: item.unit_price_cents,
        })
        .collect();
    let to = Recipient::of(customer);
    let mail = templates::order_placed(
        &to,
        &order.order_number,
        order.total_cents,
        &lines,
        &address,
    );
    outbox::queue(tx, &mail, now).await?;
    let placed = event_of(&order, OrderEventType::Placed, PaymentStatus::Pending, now);
    event_log::append(tx, &placed).await?;
    Ok((order, moved))
}

/// What an order's stock changes did to the catalog's in-stock facts.
#[derive(Debug, Default, Clone, Copy)]
struct StockMoved {
    /// A variant sold out, or came back from none.
    crossed_zero: bool,
}

/// Why a cart line's stock could not be taken: its product or variant is archived, or
/// too few units are left. The field points at the cart line.
async fn refused_line(tx: &mut Conn<'_>, line: &cart::model::CartItemRow) -> AppError {
    let product = match catalog::repo::find_product(tx, line.product_id).await {
        Ok(Some(product)) => product,
        Ok(None) => return AppError::internal("cart line without its product"),
        Err(e) => return e.into(),
    };
    let variant = match catalog::variants::repo::find_variant(tx, line.variant_id).await {
        Ok(Some(variant)) => variant.row,
        Ok(None) => return AppError::internal("cart line without its variant"),
        Err(e) => return e.into(),
    };
    let (code, message) = if product.is_archived || variant.is_archived {
        (
            UserErrorCode::ProductUnavailable,
            format!("{} ({}) is no longer sold", product.name, variant.title),
        )
    } else {
        (
            UserErrorCode::InsufficientStock,
            format!(
                "only {} units of {} ({}) left, {} wanted",
                variant.stock, product.name, variant.title, line.quantity
            ),
        )
    };
    AppError::User(UserError::on_cart_line(code, line.id, message))
}

/// Cancels an order still in one of `from` (PENDING or CONFIRMED): every unit goes back
/// to stock and the coupon use back to the coupon, exactly once (the status change is
/// conditional, so of two racing cancels one does nothing), and the payment becomes
/// REFUNDED if it was paid, FAILED otherwise. Events: CANCELLED, and REFUNDED after it
/// when a payment was refunded.
async fn cancel_in(
    tx: &mut Conn<'_>,
    order: &OrderRow,
    from: &[OrderStatus],
    reason: CancellationReason,
) -> AppResult<(OrderRow, StockMoved)> {
    let now = now();
    let Some(cancelled) = repo::cancel(tx, order.id, from, reason, now).await? else {
        let current = repo::find_order(tx, order.id)
            .await?
            .unwrap_or_else(|| order.clone());
        return Err(invalid_transition(&current, OrderStatus::Cancelled));
    };
    let mut items = repo::items_of(tx, &[order.id]).await?;
    items.sort_by_key(|item| (item.product_id, item.variant_id));
    let mut moved = StockMoved::default();
    for item in items {
        // A line whose variant was deleted has nothing to return to (an ordered variant
        // is archived, not deleted, so this does not happen in practice).
        let Some(variant_id) = item.variant_id else {
            continue;
        };
        catalog::repo::lock_product(tx, item.product_id, now).await?;
        let back = catalog::variants::repo::move_stock(tx, variant_id, item.quantity, now).await?;
        moved.crossed_zero |= back.is_some_and(|v| v.stock == item.quantity);
    }
    if let Some(code) = &cancelled.coupon_code {
        coupons::give_back(tx, code).await?;
    }
    let refunded = repo::move_payment(
        tx,
        order.id,
        &[PaymentStatus::Paid],
        PaymentStatus::Refunded,
        None,
        now,
    )
    .await?;
    if refunded.is_none() {
        let open = [PaymentStatus::Pending, PaymentStatus::Failed];
        repo::move_payment(tx, order.id, &open, PaymentStatus::Failed, None, now).await?;
    }
    queue_news(tx, &cancelled, OrderNews::Cancelled).await?;
    let event = |kind, payment| event_of(&cancelled, kind, payment, now);
    if refunded.is_some() {
        event_log::append(tx, &event(OrderEventType::Cancelled, PaymentStatus::Paid)).await?;
        event_log::append(
            tx,
            &event(OrderEventType::Refunded, PaymentStatus::Refunded),
        )
        .await?;
    } else {
        event_log::append(tx, &event(OrderEventType::Cancelled, PaymentStatus::Failed)).await?;
    }
    Ok((cancelled, moved))
}

/// The status of an order's payment, read in the caller's transaction.
async fn payment_status(tx: &mut Conn<'_>, order_id: i64) -> AppResult<PaymentStatus> {
    let payment = repo::payments_of(tx, &[order_id]).await?;
    payment
        .first()
        .map(PaymentRow::status)
        .ok_or_else(|| AppError::internal("order without its payment"))
}

/// How many overdue orders one sweep cancels at most (the next sweep takes the rest).
const SWEEP_BATCH: i64 = 50;

impl Orders {
    pub(crate) fn new(db: Db, room: OrderRoom) -> Self {
        Orders {
            db,
            events: room.events,
            facets: room.facets,
            mail: room.mail,
            deliveries: room.deliveries,
            payment_timeout: room.payment_timeout,
        }
    }

    pub(crate) fn events(&self) -> &OrderEvents {
        &self.events
    }

    /// The order if `viewer` may see it.
    pub(crate) async fn order(&self, viewer: &UserRow, id: i64) -> AppResult<Option<OrderRow>> {
        self.db
            .run(async |c| visible_order(c, viewer, id).await)
            .await
    }

    /// An order line if `viewer` may see its order.
    pub(crate) async fn item(&self, viewer: &UserRow, id: i64) -> AppResult<Option<OrderItemRow>> {
        self.db
            .run(async |c| {
                let Some(item) = repo::find_item(c, id).await? else {
                    return Ok(None);
                };
                let visible = visible_order(c, viewer, item.order_id).await?.is_some();
                AppResult::Ok(visible.then_some(item))
            })
            .await
    }

    /// A payment if `viewer` may see its order.
    pub(crate) async fn payment(&self, viewer: &UserRow, id: i64) -> AppResult<Option<PaymentRow>> {
        self.db
            .run(async |c| {
                let Some(payment) = repo::find_payment(c, id).await? else {
                    return Ok(None);
                };
                let visible = visible_order(c, viewer, payment.order_id).await?.is_some();
                AppResult::Ok(visible.then_some(payment))
            })
            .await
    }

    /// An order as it is now, whoever may see it (the subscription checks that itself).
    pub(crate) async fn current(&self, id: i64) -> AppResult<Option<OrderRow>> {
        self.db.run(async |c| repo::find_order(c, id).await).await
    }

    /// A page of orders, newest first.
    pub(crate) async fn orders(
        &self,
        filter: &OrderListFilter,
        page: &Page<NaiveDateTime>,
    ) -> AppResult<Vec<OrderRow>> {
        self.db
            .run(async |c| repo::list_orders(c, filter, page).await)
            .await
    }

    pub(crate) async fn count_orders(&self, filter: &OrderListFilter) -> AppResult<i64> {
        self.db
            .run(async |c| repo::count_orders(c, filter).await)
            .await
    }

    /// Turns the customer's whole cart into an order, or changes nothing.
    ///
    /// In one write transaction: the cart is taken (DELETE … RETURNING, so two checkouts of
    /// one cart cannot both get it), stock is taken line by line with conditional UPDATEs in
    /// ascending product id (no deadlocks), which also read the name and price to snapshot,
    /// then the order, its lines and its payment are inserted.
    ///
    /// Two calls with one idempotency key give one order: a later call finds the first
    /// order by its key; a concurrent one either waits on the cart rows the first took and
    /// finds the cart empty, or on the unique (user, key) index and fails; either way it
    /// answers with the first call's order once that has committed.
    pub(crate) async fn place_order(
        &self,
        customer: &UserRow,
        checkout: Checkout,
    ) -> AppResult<OrderRow> {
        let destination = destination(&checkout)?;
        let key = checkout
            .idempotency_key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty());
        if key.is_some_and(|k| k.chars().count() > MAX_IDEMPOTENCY_KEY_CHARS) {
            return Err(AppError::input(
                UserErrorCode::InvalidInput,
                "idempotencyKey",
                format!(
                    "the idempotency key must be at most {MAX_IDEMPOTENCY_KEY_CHARS} characters"
                ),
            ));
        }
        let placed = self
            .db
            .transaction(async |tx| {
                if let Some(key) = key
                    && let Some(existing) =
                        repo::find_by_idempotency_key(tx, customer.id, key).await?
                {
                    return Ok((existing, None));
                }
                let placed = place_in(
                    tx,
                    customer,
                    &destination,
                    checkout.payment_method,
                    key,
                    self.payment_timeout,
                )
                .await?;
                Ok((placed.0, Some(placed.1)))
            })
            .await;
        let by_key = async |key: &str| {
            self.db
                .run(async |c| repo::find_by_idempotency_key(c, customer.id, key).await)
                .await
        };
        match (placed, key) {
            (Ok((order, created)), _) => {
                if let Some(moved) = created {
                    self.stock_moved(moved).await;
                    self.announce(&order).await;
                }
                Ok(order)
            }
            // A duplicate of a concurrent call that committed first: answer with its order.
            (Err(AppError::Database(e)), Some(key)) if is_unique_violation(&e) => {
                by_key(key).await?.ok_or(AppError::Database(e))
            }
            (Err(AppError::User(e)), Some(key)) if e.code == UserErrorCode::CartEmpty => {
                by_key(key).await?.ok_or(AppError::User(e))
            }
            (Err(e), _) => Err(e),
        }
    }

    /// Tells subscribers about a committed change of `order`: the one way order events
    /// leave this room.
    async fn announce(&self, order: &OrderRow) {
        self.mail.queued();
        self.deliveries.queued();
        self.events.publish(order.id, order.user_id).await;
    }

    /// Passes a committed change on, announcing it when there is one.
    async fn announced(&self, order: AppResult<OrderRow>) -> AppResult<OrderRow> {
        if let Ok(order) = &order {
            self.announce(order).await;
        }
        order
    }

    /// A committed cancellation: the catalog hears of its stock, subscribers of the order.
    async fn cancelled(&self, cancelled: AppResult<(OrderRow, StockMoved)>) -> AppResult<OrderRow> {
        if let Ok((_, moved)) = &cancelled {
            self.stock_moved(*moved).await;
        }
        self.announced(cancelled.map(|(order, _)| order)).await
    }

    /// Tells the catalog when committed stock changes sold a variant out or brought one
    /// back: its in-stock facets change then.
    async fn stock_moved(&self, moved: StockMoved) {
        if moved.crossed_zero {
            self.facets.changed().await;
        }
    }

    /// `cancelOrder`: customers their own orders, admins any.
    pub(crate) async fn cancel_order(
        &self,
        viewer: &UserRow,
        order_id: Option<i64>,
    ) -> AppResult<OrderRow> {
        let order_id = order_id.ok_or_else(order_not_found)?;
        let cancelled = self
            .db
            .transaction(async |tx| {
                let order = visible_order(tx, viewer, order_id)
                    .await?
                    .ok_or_else(order_not_found)?;
                let reason = match viewer.role() {
                    Role::Admin => CancellationReason::Admin,
                    _ => CancellationReason::Customer,
                };
                let cancellable = [OrderStatus::Pending, OrderStatus::Confirmed];
                cancel_in(tx, &order, &cancellable, reason).await
            })
            .await;
        self.cancelled(cancelled).await
    }

    /// `updateOrderStatus` (admins): one step along the flow. Confirming an unpaid card
    /// order is PAYMENT_REQUIRED; delivering a cash-on-delivery order marks it paid.
    pub(crate) async fn update_status(
        &self,
        admin: &UserRow,
        order_id: Option<i64>,
        to: OrderStatus,
    ) -> AppResult<OrderRow> {
        let order_id = order_id.ok_or_else(order_not_found)?;
        let moved = self
            .db
            .transaction(async |tx| {
                let order = visible_order(tx, admin, order_id)
                    .await?
                    .ok_or_else(order_not_found)?;
                let from = order.status();
                if !from.can_move_to(to) {
                    return Err(invalid_transition(&order, to));
                }
                if to == OrderStatus::Cancelled {
                    return cancel_in(tx, &order, &[from], CancellationReason::Admin).await;
                }
                let now = now();
                if to == OrderStatus::Confirmed && order.payment_method() == PaymentMethod::Card {
                    let payment = repo::payments_of(tx, &[order.id]).await?;
                    if !payment.iter().any(|p| p.status() == PaymentStatus::Paid) {
                        return Err(AppError::input(
                            UserErrorCode::PaymentRequired,
                            "status",
                            "a card order must be paid before it is confirmed",
                        ));
                    }
                }
                let moved = repo::move_status(tx, order.id, &[from], to, now)
                    .await?
                    .ok_or_else(|| invalid_transition(&order, to))?;
                if to == OrderStatus::Delivered
                    && order.payment_method() == PaymentMethod::CashOnDelivery
                {
                    let open = [PaymentStatus::Pending, PaymentStatus::Failed];
                    repo::move_payment(tx, order.id, &open, PaymentStatus::Paid, None, now).await?;
                }
                let event_type = match to {
                    OrderStatus::Shipped => {
                        queue_news(tx, &moved, OrderNews::Shipped).await?;
                        OrderEventType::Shipped
                    }
                    OrderStatus::Delivered => {
                        queue_news(tx, &moved, OrderNews::Delivered).await?;
                        OrderEventType::Delivered
                    }
                    _ => OrderEventType::Confirmed,
                };
                let payment = payment_status(tx, order.id).await?;
                event_log::append(tx, &event_of(&moved, event_type, payment, now)).await?;
                Ok((moved, StockMoved::default()))
            })
            .await;
        self.cancelled(moved).await
    }

    /// `payOrder` with the simulated gateway: `tok_visa` pays, anything else is declined. A
    /// declined attempt is recorded (payment FAILED) even though it is a user error.
    pub(crate) async fn pay_order(
        &self,
        viewer: &UserRow,
        order_id: Option<i64>,
        token: &str,
    ) -> AppResult<OrderRow> {
        let order_id = order_id.ok_or_else(order_not_found)?;
        let now = now();
        let payable = [PaymentStatus::Pending, PaymentStatus::Failed];
        let outcome = self
            .db
            .transaction(async |tx| {
                visible_order(tx, viewer, order_id)
                    .await?
                    .ok_or_else(order_not_found)?;
                // Locked first: a cancellation or the expiry sweeper racing this payment
                // either has committed (and we see it) or waits for us.
                let order = repo::lock_order(tx, order_id)
                    .await?
                    .ok_or_else(order_not_found)?;
                let status = order.status();
                if order.payment_method() != PaymentMethod::Card || status == OrderStatus::Cancelled
                {
                    return Err(AppError::input(
                        UserErrorCode::InvalidStatusTransition,
                        "orderId",
                        "only open card orders are paid with payOrder",
                    ));
                }
                let payment = repo::payments_of(tx, &[order.id]).await?;
                if payment.iter().any(|p| p.status() == PaymentStatus::Paid) {
                    return Err(AppError::input(
                        UserErrorCode::AlreadyPaid,
                        "orderId",
                        "this order is already paid",
                    ));
                }
                if token != TOKEN_VISA {
                    repo::move_payment(tx, order.id, &payable, PaymentStatus::Failed, None, now)
                        .await?;
                    let failed = event_of(
                        &order,
                        OrderEventType::PaymentFailed,
                        PaymentStatus::Failed,
                        now,
                    );
                    event_log::append(tx, &failed).await?;
                    // Committed on purpose: the declined attempt is part of the record.
                    return Ok(Err(order));
                }
                let transaction_id = format!("txn_{}", crate::random::random_token());
                match repo::move_payment(
                    tx,
                    order.id,
                    &payable,
                    PaymentStatus::Paid,
                    Some(&transaction_id),
                    now,
                )
                .await?
                {
                    Some(_) => {
                        let paid = repo::touch_order(tx, order.id, now).await?;
                        let event = event_of(
                            &paid,
                            OrderEventType::PaymentSucceeded,
                            PaymentStatus::Paid,
                            now,
                        );
                        event_log::append(tx, &event).await?;
                        Ok(Ok(paid))
                    }
                    // Someone paid between our read and our write.
                    None => Err(AppError::input(
                        UserErrorCode::AlreadyPaid,
                        "orderId",
                        "this order is already paid",
                    )),
                }
            })
            .await?;
        match outcome {
            Ok(order) => self.announced(Ok(order)).await,
            Err(order) => {
                // The failed attempt changed the payment: subscribers hear of it too.
                self.announce(&order).await;
                Err(AppError::input(
                    UserErrorCode::PaymentDeclined,
                    "paymentToken",
                    "the card was declined",
                ))
            }
        }
    }

    /// Cancels the card orders left unpaid past their `paymentDueAt` (PAYMENT_TIMEOUT);
    /// returns how many. Each in a transaction of its own, behind the order's row lock:
    /// an order paid meanwhile, or cancelled by another process's sweep, is left alone.
    pub(crate) async fn expire_overdue(&self) -> AppResult<usize> {
        let now = now();
        let due = self
            .db
            .run(async |c| repo::overdue(c, now, SWEEP_BATCH).await)
            .await?;
        let mut expired = 0;
        for order_id in due {
            let cancelled: AppResult<Option<(OrderRow, StockMoved)>> = self
                .db
                .transaction(async |tx| {
                    let Some(order) = repo::lock_order(tx, order_id).await? else {
                        return Ok(None);
                    };
                    let paid = payment_status(tx, order_id).await? == PaymentStatus::Paid;
                    if order.status() != OrderStatus::Pending || paid {
                        return Ok(None);
                    }
                    let pending = [OrderStatus::Pending];
                    let reason = CancellationReason::PaymentTimeout;
                    cancel_in(tx, &order, &pending, reason).await.map(Some)
                })
                .await;
            match cancelled {
                Ok(Some(cancelled)) => {
                    expired += 1;
                    self.cancelled(Ok(cancelled)).await?;
                }
                Ok(None) => {}
                // One order that cannot be cancelled must not hold up the others.
                Err(error) => tracing::warn!(order_id, ?error, "expiring an unpaid order failed"),
            }
        }
        Ok(expired)
    }
}
