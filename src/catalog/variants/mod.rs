//! Product variants: the purchasable versions of a product, each with its own SKU,
//! option values (Size: M, Colour: Red), price and stock.
//!
//! A product's `price_cents` and `stock` columns are derived from its active variants
//! (lowest price, summed stock) and kept by every variant write, in its transaction.
//! Every write that touches a variant first writes its product's row: on PostgreSQL that
//! row lock orders concurrent writers of one product (stock takers, archivers, price
//! changes), so the derived values are computed from what committed before, and locks
//! are always taken product first, variant second (no deadlock between an order and a
//! cancellation).

pub(crate) mod graphql;
pub(crate) mod model;
pub(crate) mod repo;
pub(crate) mod service;
