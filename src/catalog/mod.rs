//! The catalog: products, their search and paging, stock, and images.
//!
//! [`Catalog`] is the room's handle. It owns the `products` table, every stock change
//! (orders take and return stock through `repo::take_stock` / `repo::return_stock`, in
//! their own transactions) and the image files under MEDIA_DIR. Archiving or deleting a
//! product also takes it out of every cart (through the cart's repo), in the same
//! transaction.

pub(crate) mod graphql;
pub(crate) mod images;
pub(crate) mod loader;
pub(crate) mod model;
pub(crate) mod repo;
pub(crate) mod service;

pub(crate) use service::Catalog;
