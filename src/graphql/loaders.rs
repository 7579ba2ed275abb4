//! The DataLoaders every operation gets: products, order lines, payments, customers.

use async_graphql::Data;
use async_graphql::dataloader::{DataLoader, HashMapCache};

use crate::catalog::loader::ProductLoader;
use crate::db::Db;
use crate::orders::loaders::{OrderItemsLoader, PaymentLoader, UserLoader};

/// A loader that remembers what it loaded (async-graphql's `DataLoader::new` does not).
pub(crate) type CachedLoader<L> = DataLoader<L, HashMapCache>;

fn caching<L: async_graphql::dataloader::Loader<i64>>(loader: L) -> CachedLoader<L> {
    DataLoader::with_cache(loader, tokio::spawn, HashMapCache::default())
}

/// Adds the loaders to an operation's (or a WebSocket connection's) data. `cached`:
/// an HTTP operation may reuse what it loaded; a subscription lives for hours and must
/// see every change, so it batches without caching.
pub(crate) fn insert_loaders(data: &mut Data, db: &Db, cached: bool) {
    let products = caching(ProductLoader::new(db.clone()));
    let items = caching(OrderItemsLoader(db.clone()));
    let payments = caching(PaymentLoader(db.clone()));
    let users = caching(UserLoader(db.clone()));
    if !cached {
        products.enable_all_cache(false);
        items.enable_all_cache(false);
        payments.enable_all_cache(false);
        users.enable_all_cache(false);
    }
    data.insert(products);
    data.insert(items);
    data.insert(payments);
    data.insert(users);
}
