//! Product reviews: written by customers who received the product, one per customer and
//! product, moderated by admins.
//!
//! [`Reviews`] is the room's handle; it owns the `reviews` table and asks the catalog
//! to keep each product's aggregate of published ratings (`products.review_count`,
//! `rating_sum`, `rating_mean`) in the same transaction as the review it changes, under
//! the product's row lock — so the aggregate is exact however writes interleave, and a
//! product page reads it with the product, at no extra cost.

pub(crate) mod graphql;
pub(crate) mod model;
pub(crate) mod repo;
pub(crate) mod service;

pub(crate) use service::Reviews;
