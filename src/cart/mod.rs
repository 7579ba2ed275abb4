//! The shopping cart: one per customer, lines of products and quantities.

pub mod graphql;
pub mod model;
pub mod repo;
pub mod service;
