//! The schema: every feature's queries and mutations merged, with the server's limits.

use std::sync::Arc;

use async_graphql::{MergedObject, MergedSubscription, Schema};

use crate::accounts::graphql::{AccountsMutation, AccountsQuery};
use crate::app::AppState;
use crate::cart::graphql::{CartMutation, CartQuery};
use crate::catalog::graphql::{CatalogMutation, CatalogQuery};
use crate::config::Config;
use crate::graphql::documents::{CheckedSchema, DocumentLimits, INTROSPECTION_MAX_DEPTH};
use crate::graphql::limits::TextLimits;
use crate::graphql::node::NodeQuery;
use crate::orders::graphql::{OrdersMutation, OrdersQuery, OrdersSubscription};

#[derive(MergedObject, Default)]
pub struct Query(
    NodeQuery,
    AccountsQuery,
    CatalogQuery,
    CartQuery,
    OrdersQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    AccountsMutation,
    CatalogMutation,
    CartMutation,
    OrdersMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(OrdersSubscription);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// The schema with the limits of `config`; `state` is absent only for printing the SDL.
pub fn build_schema(config: &Config, state: Option<Arc<AppState>>) -> AppSchema {
    build_schema_with_depth(config, state, config.max_query_depth)
}

/// The schemas the server executes: the ordinary one, and when introspection is on, the
/// same with the depth that introspection queries need.
pub fn checked_schema(config: &Config, state: Arc<AppState>) -> CheckedSchema {
    let introspection = config.introspection_enabled().then(|| {
        let depth = config.max_query_depth.max(INTROSPECTION_MAX_DEPTH);
        build_schema_with_depth(config, Some(state.clone()), depth)
    });
    let limits = DocumentLimits {
        text: TextLimits {
            max_bytes: config.max_query_bytes,
            max_tokens: config.max_query_tokens,
        },
        max_aliases: config.max_aliases,
        cache_size: config.apq_cache_size,
    };
    CheckedSchema::new(build_schema(config, Some(state)), introspection, limits)
}

fn build_schema_with_depth(
    config: &Config,
    state: Option<Arc<AppState>>,
    max_depth: usize,
) -> AppSchema {
    let mut builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .limit_depth(max_depth)
    .limit_complexity(config.max_query_complexity);
    // No extensions: APQ and the alias limit are checked before execution, in
    // `documents::CheckedSchema` (an extension would slow down every field).
    if !config.introspection_enabled() {
        builder = builder.disable_introspection();
    }
    if config.is_production() {
        builder = builder.disable_suggestions();
    }
    if let Some(state) = state {
        builder = builder.data(state);
    }
    builder.finish()
}

/// The SDL that `print-schema` writes and `schema.graphql` holds.
pub fn sdl() -> String {
    build_schema(&Config::from_env(), None).sdl()
}
