//! The GraphQL edge: the only room that knows GraphQL.
//!
//! It assembles the schema from each feature's `graphql.rs`, serves it over HTTP and
//! WebSocket, enforces the request limits, and converts at the boundary: global ids,
//! cursors and `Decimal` become ids, keys and cents before a feature handle is called,
//! and the handles' rows and errors become objects, payloads and error codes on the way
//! out. Resolvers take the handle of the room they call from the schema's data
//! (`ctx.data_unchecked::<Orders>()`); nothing below this layer imports it.
//!
//! Role rules (who may call an operation, whose rows a list shows) are decided here, by
//! the guards and filters built from [`viewer`]; ownership rules that need the row are
//! the handles' (see the crate docs).

pub(crate) mod documents;
pub(crate) mod graphiql;
pub(crate) mod http;
pub(crate) mod ids;
pub(crate) mod limits;
pub(crate) mod loaders;
pub(crate) mod measure;
pub(crate) mod node;
pub(crate) mod null_propagation;
pub(crate) mod pagination;
pub(crate) mod payload;
pub(crate) mod revalidation;
pub(crate) mod scalars;
pub mod schema;
pub(crate) mod viewer;
pub(crate) mod ws;
