//! The GraphQL layer shared by every feature: schema assembly, scalars, IDs, paging,
//! the viewer and role guards, payload helpers and the HTTP endpoint.

pub mod documents;
pub mod graphiql;
pub mod http;
pub mod ids;
pub mod limits;
pub mod loaders;
pub mod node;
pub mod null_propagation;
pub mod pagination;
pub mod payload;
pub mod scalars;
pub mod schema;
pub mod viewer;
pub mod ws;
