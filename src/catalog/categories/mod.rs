//! The category tree: categories with slugs and positions, the products in each, and
//! moves that can never make a cycle.
//!
//! The tree is stored twice: `categories.parent_id` (what an admin sets) and the
//! closure table `category_closure`, one row per ancestor/descendant pair. The closure
//! answers "every product below this category" with one index range, whatever the
//! depth, where a parent pointer would need a recursive query per request. Every write
//! of the tree runs under one lock (PostgreSQL: an advisory transaction lock; SQLite's
//! write transactions are exclusive anyway), so two crossing moves are checked one
//! after the other and the second sees the first.

pub(crate) mod graphql;
pub(crate) mod model;
pub(crate) mod repo;
pub(crate) mod service;
