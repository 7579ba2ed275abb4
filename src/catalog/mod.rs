//! The catalog: products and their variants, the category tree, search, paging, facets,
//! stock, and images.
//!
//! [`Catalog`] is the room's handle. It owns the products, variants and categories
//! tables, every stock change (orders take and return a variant's stock through
//! `variants::repo::take_stock` / `move_stock`, in their own transactions) and the
//! image files under MEDIA_DIR. Archiving or deleting a product or a variant also takes
//! it out of every cart (through the cart's repo), in the same transaction.

pub(crate) mod categories;
pub(crate) mod facet_cache;
pub(crate) mod facets;
pub(crate) mod graphql;
pub(crate) mod images;
pub(crate) mod loader;
pub(crate) mod model;
pub(crate) mod repo;
pub(crate) mod service;
pub(crate) mod variants;

pub(crate) use service::Catalog;
