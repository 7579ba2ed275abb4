//! The DataLoaders every operation gets: products, variants, categories, order lines,
//! payments, customers.

use async_graphql::Data;
use async_graphql::dataloader::{DataLoader, HashMapCache};

use crate::catalog::categories::graphql::{
    CategoryAncestorsLoader, CategoryChildrenLoader, CategoryLoader, ProductCategoriesLoader,
};
use crate::catalog::loader::ProductLoader;
use crate::catalog::variants::graphql::{VariantLoader, VariantsOfProductLoader};
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
    let variants_of_product = caching(VariantsOfProductLoader(db.clone()));
    let variants = caching(VariantLoader(db.clone()));
    let categories = caching(CategoryLoader(db.clone()));
    let children = caching(CategoryChildrenLoader(db.clone()));
    let ancestors = caching(CategoryAncestorsLoader(db.clone()));
    let product_categories = caching(ProductCategoriesLoader(db.clone()));
    if !cached {
        products.enable_all_cache(false);
        items.enable_all_cache(false);
        payments.enable_all_cache(false);
        users.enable_all_cache(false);
        variants_of_product.enable_all_cache(false);
        variants.enable_all_cache(false);
        categories.enable_all_cache(false);
        children.enable_all_cache(false);
        ancestors.enable_all_cache(false);
        product_categories.enable_all_cache(false);
    }
    data.insert(products);
    data.insert(items);
    data.insert(payments);
    data.insert(users);
    data.insert(variants_of_product);
    data.insert(variants);
    data.insert(categories);
    data.insert(children);
    data.insert(ancestors);
    data.insert(product_categories);
}
