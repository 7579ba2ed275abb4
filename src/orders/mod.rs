//! Orders, their lines and payments, and the status flow.

pub mod events;
pub mod graphql;
pub mod loaders;
pub mod model;
pub mod repo;
pub mod service;
