//! The DataLoaders of an operation: products, variants, categories, order lines,
//! orders, their events and payments, customers, the viewer's wishlist and reviews. Each is made on first use, so that an operation pays only for
//! the loaders its fields need (a catalog page needs none).

use std::sync::OnceLock;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use async_graphql::{Context, Data};
use futures_util::future::BoxFuture;
use tracing::Instrument;

use crate::catalog::categories::graphql::{
    CategoryAncestorsLoader, CategoryChildrenLoader, CategoryLoader, ProductCategoriesLoader,
};
use crate::catalog::loader::ProductLoader;
use crate::catalog::variants::graphql::{VariantLoader, VariantsOfProductLoader};
use crate::db::Db;
use crate::orders::loaders::{
    OrderEventsLoader, OrderItemsLoader, OrderLoader, PaymentLoader, UserLoader,
};
use crate::reviews::graphql::OwnReviewsLoader;
use crate::telemetry::{TRACE_ONLY, traces_enabled};
use crate::wishlist::graphql::WishlistedLoader;

/// A loader that remembers what it loaded (async-graphql's `DataLoader::new` does not).
pub(crate) type CachedLoader<L> = DataLoader<L, HashMapCache>;

/// One operation's (or one WebSocket connection's) loaders.
pub(crate) struct Loaders {
    db: Db,
    /// An HTTP operation may reuse what it loaded; a subscription lives for hours and
    /// must see every change, so it batches without caching.
    cached: bool,
    products: OnceLock<CachedLoader<ProductLoader>>,
    variants: OnceLock<CachedLoader<VariantLoader>>,
    variants_of_product: OnceLock<CachedLoader<VariantsOfProductLoader>>,
    categories: OnceLock<CachedLoader<CategoryLoader>>,
    category_children: OnceLock<CachedLoader<CategoryChildrenLoader>>,
    category_ancestors: OnceLock<CachedLoader<CategoryAncestorsLoader>>,
    product_categories: OnceLock<CachedLoader<ProductCategoriesLoader>>,
    order_items: OnceLock<CachedLoader<OrderItemsLoader>>,
    orders: OnceLock<CachedLoader<OrderLoader>>,
    order_events: OnceLock<CachedLoader<OrderEventsLoader>>,
    payments: OnceLock<CachedLoader<PaymentLoader>>,
    users: OnceLock<CachedLoader<UserLoader>>,
    /// The viewer's: an operation (or a WebSocket connection) has one viewer.
    wishlisted: OnceLock<CachedLoader<WishlistedLoader>>,
    own_reviews: OnceLock<CachedLoader<OwnReviewsLoader>>,
}

/// The loaders of the operation `ctx` belongs to.
pub(crate) fn loaders<'a>(ctx: &Context<'a>) -> &'a Loaders {
    ctx.data_unchecked::<Loaders>()
}

/// Adds the loaders to an operation's (or a WebSocket connection's) data.
pub(crate) fn insert_loaders(data: &mut Data, db: &Db, cached: bool) {
    data.insert(Loaders {
        db: db.clone(),
        cached,
        products: OnceLock::new(),
        variants: OnceLock::new(),
        variants_of_product: OnceLock::new(),
        categories: OnceLock::new(),
        category_children: OnceLock::new(),
        category_ancestors: OnceLock::new(),
        product_categories: OnceLock::new(),
        order_items: OnceLock::new(),
        orders: OnceLock::new(),
        order_events: OnceLock::new(),
        payments: OnceLock::new(),
        users: OnceLock::new(),
        wishlisted: OnceLock::new(),
        own_reviews: OnceLock::new(),
    });
}

/// Runs a batch on its own task, in the span of the field whose load started it (so
/// what it logs carries the request's id), and in a span of its own while the request
/// is traced (a batch serves many resolvers).
fn spawn_batch<L>(batch: BoxFuture<'static, ()>) -> tokio::task::JoinHandle<()> {
    if !traces_enabled() || !crate::telemetry::traces::current_is_sampled() {
        return tokio::spawn(batch.in_current_span());
    }
    let loader = std::any::type_name::<L>()
        .rsplit("::")
        .next()
        .unwrap_or("loader");
    let span = tracing::info_span!(
        target: TRACE_ONLY,
        "dataloader",
        otel.name = format!("dataloader {loader}"),
    );
    tokio::spawn(batch.instrument(span))
}

impl Loaders {
    fn get<'a, L: Loader<i64>>(
        &self,
        cell: &'a OnceLock<CachedLoader<L>>,
        make: impl FnOnce(Db) -> L,
    ) -> &'a CachedLoader<L> {
        cell.get_or_init(|| {
            let loader = DataLoader::with_cache(
                make(self.db.clone()),
                spawn_batch::<L>,
                HashMapCache::default(),
            );
            if !self.cached {
                loader.enable_all_cache(false);
            }
            loader
        })
    }

    pub(crate) fn products(&self) -> &CachedLoader<ProductLoader> {
        self.get(&self.products, ProductLoader::new)
    }
    pub(crate) fn variants(&self) -> &CachedLoader<VariantLoader> {
        self.get(&self.variants, VariantLoader)
    }
    pub(crate) fn variants_of_product(&self) -> &CachedLoader<VariantsOfProductLoader> {
        self.get(&self.variants_of_product, VariantsOfProductLoader)
    }
    pub(crate) fn categories(&self) -> &CachedLoader<CategoryLoader> {
        self.get(&self.categories, CategoryLoader)
    }
    pub(crate) fn category_children(&self) -> &CachedLoader<CategoryChildrenLoader> {
        self.get(&self.category_children, CategoryChildrenLoader)
    }
    pub(crate) fn category_ancestors(&self) -> &CachedLoader<CategoryAncestorsLoader> {
        self.get(&self.category_ancestors, CategoryAncestorsLoader)
    }
    pub(crate) fn product_categories(&self) -> &CachedLoader<ProductCategoriesLoader> {
        self.get(&self.product_categories, ProductCategoriesLoader)
    }
    pub(crate) fn order_items(&self) -> &CachedLoader<OrderItemsLoader> {
        self.get(&self.order_items, OrderItemsLoader)
    }
    pub(crate) fn orders(&self) -> &CachedLoader<OrderLoader> {
        self.get(&self.orders, OrderLoader)
    }
    pub(crate) fn order_events(&self) -> &CachedLoader<OrderEventsLoader> {
        self.get(&self.order_events, OrderEventsLoader)
    }
    pub(crate) fn payments(&self) -> &CachedLoader<PaymentLoader> {
        self.get(&self.payments, PaymentLoader)
    }
    pub(crate) fn users(&self) -> &CachedLoader<UserLoader> {
        self.get(&self.users, UserLoader)
    }
    pub(crate) fn wishlisted(&self, user_id: i64) -> &CachedLoader<WishlistedLoader> {
        self.get(&self.wishlisted, |db| WishlistedLoader { db, user_id })
    }
    pub(crate) fn own_reviews(&self, user_id: i64) -> &CachedLoader<OwnReviewsLoader> {
        self.get(&self.own_reviews, |db| OwnReviewsLoader { db, user_id })
    }
}
