//! The shopping cart: one per customer, lines of products and quantities.
//!
//! [`Cart`] is the room's handle; it owns the `cart_items` table (the catalog also
//! empties lines of a product it archives or deletes, inside its own transaction).

pub mod graphql;
pub mod model;
pub mod repo;
pub mod service;

pub use service::Cart;
