//! What a webhook receiver gets: the JSON body (`{"id", "topic", "occurredAt", "data"}`)
//! and its signature. The body is composed from the delivery's row alone, so every
//! attempt sends the same bytes. It speaks in global IDs, like the GraphQL edge.

use chrono::NaiveDateTime;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::model::DeliveryRow;
use crate::db::money::format_cents;
use crate::events::log::OrderEventType;
use crate::graphql::ids::{NodeKind, encode_id};
use crate::orders::model::{OrderRow, PaymentStatus};

/// The `data` of an `ORDER_EVENT` delivery, split around its cursor (which the event log
/// assigns as it appends): `{"type":…,"cursor":"` and `","orderId":…}`.
pub(crate) fn order_event_data(
    order: &OrderRow,
    event_type: OrderEventType,
    payment: PaymentStatus,
) -> (String, String) {
    let head = format!("{{\"type\":{},\"cursor\":\"", json!(event_type.as_str()));
    let tail = format!(
        "\",\"orderId\":{},\"orderNumber\":{},\"status\":{},\"paymentStatus\":{},\"totalAmount\":{}}}",
        json!(encode_id(NodeKind::Order, order.id).0),
        json!(order.order_number),
        json!(order.status().as_str()),
        json!(payment.as_str()),
        json!(format_cents(order.total_cents)),
    );
    (head, tail)
}

/// The `data` of a `PRODUCT_OUT_OF_STOCK` delivery.
pub(crate) fn out_of_stock_data(product_id: i64, variant_id: i64, sku: &str) -> String {
    json!({
        "productId": encode_id(NodeKind::Product, product_id).0,
        "variantId": encode_id(NodeKind::ProductVariant, variant_id).0,
        "sku": sku,
    })
    .to_string()
}

/// The body of `delivery`: the same bytes on every attempt.
pub(crate) fn body(delivery: &DeliveryRow) -> String {
    format!(
        "{{\"id\":{},\"topic\":{},\"occurredAt\":{},\"data\":{}}}",
        json!(encode_id(NodeKind::WebhookDelivery, delivery.id).0),
        json!(delivery.topic.as_str()),
        json!(occurred_at(delivery.created_at)),
        delivery.data,
    )
}

/// The instant as the `DateTime` scalar writes it.
fn occurred_at(at: NaiveDateTime) -> String {
    at.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `sha256=` and the hex HMAC-SHA256 of `timestamp.body` under `secret`.
pub(crate) fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_the_hmac_of_timestamp_dot_body() {
        // Computed independently, with Python:
        // hmac.new(b"0123456789abcdef", b"1700000000.{}", "sha256").hexdigest()
        assert_eq!(
            signature("0123456789abcdef", 1_700_000_000, "{}"),
            "sha256=e4f8e2ecae2295b2ddb2f0b5584c8275e226c0ebe9b3b819e70156bb67122e3e"
        );
    }
}
