//! The one integration-test binary: every test talks HTTP to a real server, on SQLite
//! and (with TEST_POSTGRES_URL) on PostgreSQL.

mod accounts;
mod addresses;
mod catalog;
mod catalog_v2;
mod cli;
mod connections;
mod coupons;
mod docs;
mod expiry;
mod hardening;
mod helpers;
mod limits;
mod mail;
mod migration;
mod multiprocess;
mod order_events;
mod orders;
mod outage;
mod reviews;
mod smtp_server;
mod storage;
mod subscriptions;
mod telemetry;
mod traces;
mod transport;
mod viewer_cache;
mod webhook_receiver;
mod webhooks;
mod wishlist;
