//! The address book: each customer's saved shipping addresses (at most 20, one default),
//! and the checked postal address that orders copy.
//!
//! [`Addresses`] is the room's handle; it owns the `addresses` table. Orders call
//! [`service::check_address`] and [`service::saved_address`] inside their own
//! transaction to copy an address into the order.

pub(crate) mod graphql;
pub(crate) mod model;
pub(crate) mod repo;
pub(crate) mod service;

pub(crate) use service::Addresses;
