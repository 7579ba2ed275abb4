//! Accounts: users, roles, sessions, passwords and tokens.
//!
//! [`Accounts`] is the room's handle: it owns the `users`, `sessions`,
//! `refresh_tokens` and `password_resets` tables and holds what guards them (the password hasher, the token
//! keys, the sign-in rate limits, the cache of signed-in users). Other rooms read users through it or through the
//! user loader; none writes them.

pub(crate) mod graphql;
pub mod model;
pub(crate) mod password_reset;
pub mod passwords;
pub(crate) mod rate_limit;
pub(crate) mod repo;
pub(crate) mod service;
pub(crate) mod tokens;
pub(crate) mod viewer_cache;

pub use service::Accounts;
pub(crate) use service::SessionTtls;
