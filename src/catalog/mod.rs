//! The catalog: products, their search and paging, stock, and images.

pub mod graphql;
pub mod images;
pub mod loader;
pub mod model;
pub mod repo;
pub mod service;
