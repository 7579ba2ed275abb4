//! Orders, their lines and payments, and the status flow.
//!
//! [`Orders`] is the room's handle. It owns the `orders`, `order_items` and `payments`
//! tables and the order events; placing an order empties the cart (the cart's repo) and
//! takes stock (the catalog's repo) inside the order's own transaction.

pub mod events;
pub mod graphql;
pub mod loaders;
pub mod model;
pub mod repo;
pub mod service;

pub use service::Orders;
