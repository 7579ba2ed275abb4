//! mini-ecommerce: a GraphQL commerce API over SQLite or PostgreSQL.

/// Accounts: users, roles, sessions, passwords and tokens.
pub mod accounts;
/// Shared state, the HTTP router and serving.
pub mod app;
/// The shopping cart.
pub mod cart;
/// The catalog: products, search, stock and images.
pub mod catalog;
/// Command-line commands other than serving.
pub mod cli;
/// Every setting, from flags, environment and `.env`.
pub mod config;
/// The two database backends, pools, migrations and the dispatch macros.
pub mod db;
/// The error type and its mapping to GraphQL.
pub mod error;
/// Schema assembly and the GraphQL plumbing shared by features.
pub mod graphql;
/// Orders, payments and the status flow.
pub mod orders;
/// Demo data (`seed-demo`).
pub mod seed;
/// Accepting and serving HTTP connections: header deadline, connection cap, shutdown.
pub mod server;
