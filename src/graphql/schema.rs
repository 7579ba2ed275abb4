//! The schema: every feature's queries and mutations merged, with the server's limits.

use async_graphql::{MergedObject, MergedSubscription, Schema};

use crate::accounts::Accounts;
use crate::accounts::graphql::{AccountsMutation, AccountsQuery};
use crate::addresses::Addresses;
use crate::addresses::graphql::AddressMutation;
use crate::cart::Cart;
use crate::cart::graphql::{CartMutation, CartQuery};
use crate::catalog::Catalog;
use crate::catalog::categories::graphql::{CategoryMutation, CategoryQuery};
use crate::catalog::graphql::{CatalogMutation, CatalogQuery, CatalogVisibility};
use crate::catalog::variants::graphql::VariantMutation;
use crate::config::Config;
use crate::events::EventLog;
use crate::events::graphql::{EventsQuery, EventsSubscription};
use crate::graphql::node::NodeQuery;
use crate::orders::Orders;
use crate::orders::graphql::{OrdersMutation, OrdersQuery, OrdersSubscription};
use crate::promotions::Promotions;
use crate::promotions::graphql::{CouponsMutation, CouponsQuery};
use crate::reviews::Reviews;
use crate::reviews::graphql::{ReviewMutation, ReviewsQuery};
use crate::webhooks::Webhooks;
use crate::webhooks::graphql::{WebhooksMutation, WebhooksQuery};
use crate::wishlist::Wishlist;
use crate::wishlist::graphql::{WishlistMutation, WishlistQuery};

#[derive(MergedObject, Default)]
pub(crate) struct Query(
    NodeQuery,
    AccountsQuery,
    CatalogQuery,
    CategoryQuery,
    CartQuery,
    OrdersQuery,
    WishlistQuery,
    ReviewsQuery,
    CouponsQuery,
    EventsQuery,
    WebhooksQuery,
);

#[derive(MergedObject, Default)]
pub(crate) struct Mutation(
    AccountsMutation,
    CatalogMutation,
    CategoryMutation,
    VariantMutation,
    CartMutation,
    OrdersMutation,
    WishlistMutation,
    AddressMutation,
    ReviewMutation,
    CouponsMutation,
    WebhooksMutation,
);

#[derive(MergedSubscription, Default)]
pub(crate) struct Subscription(OrdersSubscription, EventsSubscription);

pub(crate) type AppSchema = Schema<Query, Mutation, Subscription>;

/// What the resolvers reach, each put into the schema's data on its own: a resolver
/// takes the handle of the room it calls. (The DataLoaders, per operation, hold the
/// pool itself: they batch one query each and have no rules to keep.)
#[derive(Clone)]
pub struct Handles {
    pub accounts: Accounts,
    pub(crate) catalog: Catalog,
    pub(crate) cart: Cart,
    pub(crate) orders: Orders,
    pub(crate) wishlist: Wishlist,
    pub(crate) addresses: Addresses,
    pub(crate) reviews: Reviews,
    pub(crate) promotions: Promotions,
    pub(crate) events: EventLog,
    pub(crate) webhooks: Webhooks,
}

/// The schema with the limits of `config`; `handles` are absent only for printing the
/// SDL.
pub(crate) fn build_schema(config: &Config, handles: Option<&Handles>) -> AppSchema {
    build_schema_with(config, handles, config.limits.max_query_depth, false, false)
}

/// The schema with another depth limit (introspection's), `measured` with the
/// extension that counts an operation's cost and traces its root fields
/// (`graphql::measure`), and `fast` with async-graphql's fast validation, for documents
/// that passed the full one before (`graphql::revalidation`).
pub(crate) fn build_schema_with(
    config: &Config,
    handles: Option<&Handles>,
    max_depth: usize,
    measured: bool,
    fast: bool,
) -> AppSchema {
    let mut builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    );
    if fast {
        builder = builder.validation_mode(async_graphql::ValidationMode::Fast);
    }
    let max_complexity = config.limits.max_query_complexity;
    // No other extensions: APQ and the alias limit are checked before execution, in
    // `documents::CheckedSchema` (an extension slows down every field).
    builder = if measured {
        builder.extension(crate::graphql::measure::Measure {
            max_complexity,
            max_depth,
        })
    } else {
        builder
            .limit_depth(max_depth)
            .limit_complexity(max_complexity)
    };
    if !config.introspection_enabled() {
        builder = builder.disable_introspection();
    }
    if config.is_production() {
        builder = builder.disable_suggestions();
    }
    builder = builder.data(CatalogVisibility {
        public: config.auth.catalog_public,
    });
    if let Some(handles) = handles {
        builder = builder
            .data(handles.accounts.clone())
            .data(handles.catalog.clone())
            .data(handles.cart.clone())
            .data(handles.orders.clone())
            .data(handles.wishlist.clone())
            .data(handles.addresses.clone())
            .data(handles.reviews.clone())
            .data(handles.promotions.clone())
            .data(handles.events.clone())
            .data(handles.webhooks.clone());
    }
    builder.finish()
}

/// The SDL that `print-schema` writes and `schema.graphql` holds.
pub fn sdl() -> String {
    build_schema(&Config::from_env(), None).sdl()
}
