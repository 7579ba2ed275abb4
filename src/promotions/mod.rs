//! Promotions: coupons (admins' settings, the cart's applied code, and the uses orders
//! take and give back).

pub(crate) mod graphql;
pub(crate) mod model;
pub(crate) mod repo;
pub(crate) mod service;

pub(crate) use service::Promotions;
