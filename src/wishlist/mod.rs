//! The wishlist: one per customer, products they keep for later (at most 200).
//!
//! [`Wishlist`] is the room's handle; it owns the `wishlist_items` table and reads the
//! catalog's products. `Product.inWishlist` is answered here, one statement per page.

pub(crate) mod graphql;
pub(crate) mod model;
pub(crate) mod repo;
pub(crate) mod service;

pub(crate) use service::Wishlist;
