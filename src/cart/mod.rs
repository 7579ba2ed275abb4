//! The shopping cart: one per customer, lines of products and quantities.
//!
//! [`Cart`] is the room's handle; it owns the `cart_items` table (the catalog also
//! empties lines of a product it archives or deletes, inside its own transaction).

pub(crate) mod graphql;
pub(crate) mod model;
pub(crate) mod repo;
pub(crate) mod service;

pub(crate) use service::Cart;
