//! Orders, their lines and payments, and the status flow.
//!
//! [`Orders`] is the room's handle. It owns the `orders`, `order_items` and `payments`
//! tables and the order events; placing an order empties the cart (the cart's repo) and
//! takes stock (the catalog's repo) inside the order's own transaction.

pub(crate) mod events;
pub(crate) mod graphql;
pub(crate) mod loaders;
pub(crate) mod model;
pub(crate) mod repo;
pub(crate) mod service;

pub(crate) use service::Orders;
