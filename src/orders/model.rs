//! Rows of the orders, order_items and payments tables, and the status machine.

use async_graphql::Enum;
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::catalog::variants::repo::Taken;
use crate::db::schema::{order_items, orders, payments};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, diesel::deserialize::FromSqlRow)]
pub(crate) enum OrderStatus {
    Pending,
    Confirmed,
    Shipped,
    Delivered,
    Cancelled,
}

crate::db::db_text_enum!(OrderStatus {
    Pending => "PENDING",
    Confirmed => "CONFIRMED",
    Shipped => "SHIPPED",
    Delivered => "DELIVERED",
    Cancelled => "CANCELLED",
});

impl OrderStatus {
    /// PENDING -> CONFIRMED -> SHIPPED -> DELIVERED; PENDING or CONFIRMED -> CANCELLED.
    pub(crate) fn next_statuses(self) -> &'static [OrderStatus] {
        use OrderStatus::*;
        match self {
            Pending => &[Confirmed, Cancelled],
            Confirmed => &[Shipped, Cancelled],
            Shipped => &[Delivered],
            Delivered | Cancelled => &[],
        }
    }

    pub(crate) fn can_move_to(self, next: OrderStatus) -> bool {
        self.next_statuses().contains(&next)
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default, diesel::deserialize::FromSqlRow)]
pub(crate) enum PaymentMethod {
    #[default]
    CashOnDelivery,
    Card,
}

crate::db::db_text_enum!(PaymentMethod {
    CashOnDelivery => "CASH_ON_DELIVERY",
    Card => "CARD",
});

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, diesel::deserialize::FromSqlRow)]
pub(crate) enum PaymentStatus {
    Pending,
    Paid,
    Failed,
    Refunded,
}

crate::db::db_text_enum!(PaymentStatus {
    Pending => "PENDING",
    Paid => "PAID",
    Failed => "FAILED",
    Refunded => "REFUNDED",
});

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, diesel::deserialize::FromSqlRow)]
pub(crate) enum CancellationReason {
    Customer,
    Admin,
    /// A card order left unpaid past the server's payment timeout.
    PaymentTimeout,
}

crate::db::db_text_enum!(CancellationReason {
    Customer => "CUSTOMER",
    Admin => "ADMIN",
    PaymentTimeout => "PAYMENT_TIMEOUT",
});

#[derive(Queryable, QueryableByName, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = orders)]
pub(crate) struct OrderRow {
    pub id: i64,
    pub order_number: String,
    pub user_id: i64,
    pub status: OrderStatus,
    pub total_cents: i64,
    pub shipping_address: String,
    pub payment_method: PaymentMethod,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The structured address, as JSON of a `PostalAddress`, when the order has one.
    pub address: Option<String>,
    /// The lines' sum; `total_cents` is this less `discount_cents`.
    pub subtotal_cents: i64,
    pub discount_cents: i64,
    /// The code of the coupon whose use the order holds (until it is cancelled).
    pub coupon_code: Option<String>,
    pub cancellation_reason: Option<CancellationReason>,
    /// When an unpaid card order is cancelled if still unpaid.
    pub payment_due_at: Option<NaiveDateTime>,
}

impl OrderRow {
    pub(crate) fn status(&self) -> OrderStatus {
        self.status
    }

    pub(crate) fn payment_method(&self) -> PaymentMethod {
        self.payment_method
    }
}

#[derive(Insertable)]
#[diesel(table_name = orders)]
pub(crate) struct NewOrder<'a> {
    pub order_number: &'a str,
    pub user_id: i64,
    pub status: &'a str,
    pub total_cents: i64,
    pub shipping_address: &'a str,
    pub payment_method: &'a str,
    pub idempotency_key: Option<&'a str>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub address: Option<&'a str>,
    pub subtotal_cents: i64,
    pub discount_cents: i64,
    pub coupon_code: Option<&'a str>,
    pub payment_due_at: Option<NaiveDateTime>,
}

#[derive(Queryable, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = order_items)]
pub(crate) struct OrderItemRow {
    pub id: i64,
    pub order_id: i64,
    pub product_id: i64,
    pub product_name: String,
    pub unit_price_cents: i64,
    pub quantity: i32,
    pub variant_id: Option<i64>,
    pub sku: String,
    pub variant_title: String,
}

#[derive(Insertable, Clone)]
#[diesel(table_name = order_items)]
pub(crate) struct NewOrderItem<'a> {
    pub order_id: i64,
    pub product_id: i64,
    pub product_name: &'a str,
    pub unit_price_cents: i64,
    pub quantity: i32,
    pub variant_id: Option<i64>,
    pub sku: &'a str,
    pub variant_title: &'a str,
}

impl<'a> NewOrderItem<'a> {
    /// A line of `order_id` with the product's name and the variant's title, SKU and price
    /// as they are now: later changes to either leave the order as it was placed.
    pub(crate) fn snapshot(order_id: i64, taken: &'a Taken, quantity: i32) -> Self {
        let variant = &taken.variant;
        NewOrderItem {
            order_id,
            product_id: variant.product_id,
            product_name: &taken.product_name,
            unit_price_cents: variant.price_cents,
            quantity,
            variant_id: Some(variant.id),
            sku: &variant.sku,
            variant_title: &variant.title,
        }
    }
}

#[derive(Queryable, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = payments)]
pub(crate) struct PaymentRow {
    pub id: i64,
    pub order_id: i64,
    pub amount_cents: i64,
    pub method: PaymentMethod,
    pub status: PaymentStatus,
    pub transaction_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl PaymentRow {
    pub(crate) fn status(&self) -> PaymentStatus {
        self.status
    }
}

/// What `orders(filter:)` narrows by, after the viewer's rights are applied.
#[derive(Debug, Clone, Default)]
pub(crate) struct OrderListFilter {
    /// Only this customer's orders (always set for customers).
    pub user_id: Option<i64>,
    pub status: Option<OrderStatus>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_flow() {
        use OrderStatus::*;
        assert!(Pending.can_move_to(Confirmed));
        assert!(Confirmed.can_move_to(Cancelled));
        assert!(!Shipped.can_move_to(Cancelled));
        assert!(!Pending.can_move_to(Shipped));
        assert!(Delivered.next_statuses().is_empty());
        for status in [Pending, Confirmed, Shipped, Delivered, Cancelled] {
            assert_eq!(OrderStatus::from_db(status.as_str()), Some(status));
        }
    }
}
