//! The one integration-test binary: every test talks HTTP to a real server, on SQLite
//! and (with TEST_POSTGRES_URL) on PostgreSQL.

mod accounts;
mod addresses;
mod catalog;
mod catalog_v2;
mod cli;
mod connections;
mod docs;
mod hardening;
mod helpers;
mod limits;
mod mail;
mod migration;
mod multiprocess;
mod orders;
mod outage;
mod reviews;
mod smtp_server;
mod storage;
mod subscriptions;
mod transport;
mod wishlist;
