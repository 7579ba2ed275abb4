//! mini-ecommerce: a GraphQL commerce API over SQLite or PostgreSQL.
//!
//! The rooms, and which way they may look. Dependencies point one way: `app` (the
//! composition root) builds everything; `graphql` (the edge: schema, transport, ids,
//! cursors, guards) and each feature's `graphql.rs` call the feature handles; a handle's
//! service keeps the rules and transactions and calls its repos; repos run queries
//! through `db`, the only module that knows there are two backends.
//!
//! ```text
//! app ─> graphql ─> accounts · catalog · cart · orders ─> db
//!                   (orders ─> cart ─> catalog; every feature may read accounts' model)
//! ```
//!
//! Authorization, one layer per kind of rule: *who may call* an operation (signed in,
//! role) is decided at the GraphQL edge, by guards and `graphql::viewer`; *which rows* a
//! caller may see or change (their own orders and cart lines) is decided in the service,
//! which has the row.

/// Accounts: users, roles, sessions, passwords and tokens (handle: `Accounts`).
pub mod accounts;
/// The composition root: builds the handles, the schema and the router; serves.
pub mod app;
/// The shopping cart (handle: `Cart`).
pub mod cart;
/// The catalog: products, search, stock and images (handle: `Catalog`).
pub mod catalog;
/// Command-line commands other than serving.
pub mod cli;
/// Every setting, in groups, from flags, environment and `.env`; validated at start.
pub mod config;
/// The two database backends: pools, dispatch, transactions, keyset paging, migrations,
/// notifications.
pub mod db;
/// The request error type and its two exits (startup errors are anyhow's).
pub mod error;
/// The GraphQL edge: schema assembly, transport, scalars, ids, cursors, limits, guards.
pub mod graphql;
/// Orders, payments and the status flow (handle: `Orders`).
pub mod orders;
/// Random tokens.
pub mod random;
/// How the process shares out the cores: workers, bcrypt lanes, blocking threads.
pub mod runtime;
/// Demo data (`seed-demo`).
pub mod seed;
/// Accepting and serving HTTP connections: header deadline, connection cap, shutdown.
pub mod server;
