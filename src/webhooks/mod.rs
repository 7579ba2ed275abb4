//! Outgoing webhooks: endpoints admins register (`service`), the deliveries written in
//! the transaction of what they report (an outbox: `repo`), and the worker that sends
//! them, signed, with retries (`delivery`), only to addresses the policy allows
//! (`target`). The body and signature are in `payload`.

pub(crate) mod delivery;
pub(crate) mod graphql;
pub(crate) mod model;
pub(crate) mod payload;
pub(crate) mod repo;
pub(crate) mod service;
pub(crate) mod target;

pub(crate) use service::Webhooks;
