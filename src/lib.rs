//! mini-ecommerce: a GraphQL commerce API over SQLite or PostgreSQL.
//!
//! The rooms, and which way they may look. Dependencies point one way: `app` (the
//! composition root) builds everything; `graphql` (the edge: schema, transport, ids,
//! cursors, guards) and each feature's `graphql.rs` and DataLoaders (`loader*.rs`, part
//! of the edge) call the feature handles; a handle's service keeps the rules and
//! transactions and calls its repos; repos run queries through `db`, the only module
//! that knows there are two backends.
//!
//! ```text
//! main, cli ─> app ─> graphql ─> accounts · catalog · cart · orders ─> db
//!   orders ─> cart (takes the cart), orders ─> catalog (takes and returns stock),
//!   orders ─> addresses (copies an address into the order),
//!   catalog ─> cart (archived products and variants leave carts), cart ─> catalog
//!   (reads products and variants), wishlist ─> catalog (reads products), reviews ─>
//!   catalog (keeps the products' rating aggregates) and orders (who received what),
//!   orders ─> promotions (takes and gives back coupon uses), orders ─> events (appends
//!   to the log), events ─> webhooks (an event's deliveries), promotions ─> cart (the
//!   subtotal a coupon needs), all ─> accounts::model
//!   webhooks::payload speaks global IDs (`graphql::ids`): a webhook body is an edge of
//!   its own.
//! ```
//!
//! The import circles are the schema's own: `User.orders` and `Order.customer`
//! (`accounts::graphql` ⇄ `orders::graphql`), `Product.inWishlist` and
//! `WishlistItem.product` (`catalog::graphql` ⇄ `wishlist::graphql`), `Product.reviews` and
//! `Review.product` (`catalog::graphql` ⇄ `reviews::graphql`), `User.addresses`
//! and `AddressPayload.user` (`accounts::graphql` ⇄ `addresses::graphql`). Below the edge GraphQL appears only as the
//! `Enum` derive of the enums that are the same in the schema (roles, statuses) and in
//! `error`, whose request errors leave as GraphQL errors.
//!
//! Authorization, one layer per kind of rule. *Role rules* (signed in, admin or
//! customer, who may see a user or whose orders a list shows) are decided at the GraphQL
//! edge, by guards and filters built from `graphql::viewer`. *Ownership rules* that need
//! the row (cancel or pay your own order, change your own cart line, read an order by
//! id) are decided in the service, against the row it reads. Services take ids as
//! `Option<i64>`: `None` is an id of another kind, which names no row, so it gets the
//! same NOT_FOUND as an id of nothing.

/// Accounts: users, roles, sessions, passwords and tokens (handle: `Accounts`).
pub mod accounts;
/// Customers' saved addresses, and the postal address orders copy (handle: `Addresses`).
pub mod addresses;
/// The composition root: builds the handles, the schema and the router; serves.
pub mod app;
/// The shopping cart (handle: `Cart`).
pub mod cart;
/// The catalog: products and their variants, the category tree, search, facets, stock
/// and images (handle: `Catalog`).
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
/// The order event log: every committed change of an order, in commit order; its
/// readers and live subscribers (handle: `EventLog`).
pub mod events;
/// The GraphQL edge: schema assembly, transport, scalars, ids, cursors, limits, guards.
pub mod graphql;
/// Mail from the outbox over SMTP: password resets and order mails.
pub mod mail;
/// Orders, payments and the status flow (handle: `Orders`).
pub mod orders;
/// What the outbox workers share: the retry schedule.
pub mod outbox;
/// Coupons: admins' settings, the cart's code, the uses orders take (handle: `Promotions`).
pub mod promotions;
/// Random tokens.
pub mod random;
/// Customers' reviews of products, and their moderation (handle: `Reviews`).
pub mod reviews;
/// How the process shares out the cores: workers, bcrypt lanes, blocking threads.
pub mod runtime;
/// Demo data (`seed-demo`).
pub mod seed;
/// Accepting and serving HTTP connections: header deadline, connection cap, shutdown.
pub mod server;
/// Logs, Prometheus metrics and OpenTelemetry traces; the request id.
pub mod telemetry;
/// Outgoing webhooks: endpoints, the deliveries outbox and its worker (handle: `Webhooks`).
pub mod webhooks;
/// The customers' wishlists (handle: `Wishlist`).
pub mod wishlist;
