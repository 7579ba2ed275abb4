//! Opaque global IDs (Relay): base64 of `Type:id`.

use async_graphql::ID;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::AppError;

/// The object types that have global IDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeKind {
    User,
    Product,
    CartItem,
    Order,
    OrderItem,
    Payment,
    Category,
    ProductVariant,
    WishlistItem,
    Address,
    Review,
    Coupon,
    OrderEvent,
    Webhook,
    WebhookDelivery,
}

impl NodeKind {
    const ALL: [NodeKind; 15] = [
        NodeKind::User,
        NodeKind::Product,
        NodeKind::CartItem,
        NodeKind::Order,
        NodeKind::OrderItem,
        NodeKind::Payment,
        NodeKind::Category,
        NodeKind::ProductVariant,
        NodeKind::WishlistItem,
        NodeKind::Address,
        NodeKind::Review,
        NodeKind::Coupon,
        NodeKind::OrderEvent,
        NodeKind::Webhook,
        NodeKind::WebhookDelivery,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            NodeKind::User => "User",
            NodeKind::Product => "Product",
            NodeKind::CartItem => "CartItem",
            NodeKind::Order => "Order",
            NodeKind::OrderItem => "OrderItem",
            NodeKind::Payment => "Payment",
            NodeKind::Category => "Category",
            NodeKind::ProductVariant => "ProductVariant",
            NodeKind::WishlistItem => "WishlistItem",
            NodeKind::Address => "Address",
            NodeKind::Review => "Review",
            NodeKind::Coupon => "Coupon",
            NodeKind::OrderEvent => "OrderEvent",
            NodeKind::Webhook => "Webhook",
            NodeKind::WebhookDelivery => "WebhookDelivery",
        }
    }
}

pub(crate) fn encode_id(kind: NodeKind, id: i64) -> ID {
    // Built by hand, not with format!: a catalog page writes dozens of these.
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(id);
    let mut text = String::with_capacity(kind.name().len() + 1 + digits.len());
    text.push_str(kind.name());
    text.push(':');
    text.push_str(digits);
    ID(STANDARD.encode(text))
}

/// The id of a customer's cart. A cart is not a `Node` (it is reached through `cart`),
/// but it has a global id of the same shape, so that caches can tell it apart.
pub(crate) fn cart_id(user_id: i64) -> ID {
    ID(STANDARD.encode(format!("Cart:{user_id}")))
}

/// Decodes any global ID. Undecodable input is the client's mistake (`BAD_USER_INPUT`);
/// a well-formed ID of an unknown type decodes to `None`.
pub(crate) fn decode_id(id: &str) -> Result<Option<(NodeKind, i64)>, AppError> {
    let malformed = || AppError::bad_input(format!("malformed ID {:?}", truncate(id)));
    if id.len() > 200 {
        return Err(malformed());
    }
    let bytes = STANDARD.decode(id.trim()).map_err(|_| malformed())?;
    let text = String::from_utf8(bytes).map_err(|_| malformed())?;
    let (kind, number) = text.split_once(':').ok_or_else(malformed)?;
    let number: i64 = number.parse().map_err(|_| malformed())?;
    if number <= 0 {
        return Err(malformed());
    }
    Ok(NodeKind::ALL
        .into_iter()
        .find(|k| k.name() == kind)
        .map(|k| (k, number)))
}

/// The row id inside a global ID that must be of `kind`; `None` when it is another type
/// (which callers report exactly like a missing row).
pub(crate) fn id_of_kind(id: &ID, kind: NodeKind) -> Result<Option<i64>, AppError> {
    Ok(decode_id(id)?.and_then(|(k, n)| (k == kind).then_some(n)))
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let id = encode_id(NodeKind::Product, 42);
        assert_eq!(decode_id(&id).unwrap(), Some((NodeKind::Product, 42)));
        assert_eq!(id_of_kind(&id, NodeKind::Order).unwrap(), None);
        assert!(decode_id("not base64!").is_err());
        assert!(decode_id(&STANDARD.encode("Product:abc")).is_err());
        assert!(decode_id(&STANDARD.encode("Product")).is_err());
        assert_eq!(decode_id(&STANDARD.encode("Spaceship:1")).unwrap(), None);
    }

    proptest::proptest! {
        #[test]
        fn decoding_arbitrary_ids_never_panics(text in "\\PC{0,300}", bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = decode_id(&text);
            let _ = decode_id(&STANDARD.encode(&bytes));
        }

        #[test]
        fn ids_round_trip(id in 1i64..i64::MAX) {
            proptest::prop_assert_eq!(decode_id(&encode_id(NodeKind::Order, id)).unwrap(), Some((NodeKind::Order, id)));
        }
    }
}
