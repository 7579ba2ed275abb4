//! The shopping cart: one per customer, lines of products and quantities.
//!
//! [`Cart`] is the room's handle; it owns the `cart_items` table. Two other rooms call
//! its repo inside their own transactions: orders take the whole cart at checkout, and
//! the catalog takes a product it archives or deletes out of every cart.

pub(crate) mod graphql;
pub(crate) mod model;
pub(crate) mod repo;
pub(crate) mod service;

pub(crate) use service::Cart;
