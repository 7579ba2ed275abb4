//! Orders, their lines and payments, the status flow, and the expiry of unpaid ones.
//!
//! [`Orders`] is the room's handle. It owns the `orders`, `order_items` and `payments`
//! tables and appends the order events (`crate::events`); placing an order empties the
//! cart (the cart's repo), takes stock (the catalog's repo) and a coupon use
//! (promotions) inside the order's own transaction. `events` is the change channel that
//! wakes subscribers; `expiry` the sweeper of unpaid card orders.

pub(crate) mod events;
pub(crate) mod expiry;
pub(crate) mod graphql;
pub(crate) mod loaders;
pub(crate) mod model;
pub(crate) mod repo;
pub(crate) mod service;

pub(crate) use service::Orders;
