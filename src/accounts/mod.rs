//! Accounts: users, roles, sessions, passwords and tokens.

pub mod graphql;
pub mod model;
pub mod passwords;
pub mod rate_limit;
pub mod repo;
pub mod service;
pub mod tokens;
