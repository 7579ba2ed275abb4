//! The DataLoaders every operation gets: products, order lines, payments, customers.

use async_graphql::Data;
use async_graphql::dataloader::DataLoader;

use crate::catalog::loader::ProductLoader;
use crate::db::Db;
use crate::orders::loaders::{OrderItemsLoader, PaymentLoader, UserLoader};

/// Adds the loaders to an operation's (or a WebSocket connection's) data. `cached`:
/// an HTTP operation may reuse what it loaded; a subscription lives for hours and must
/// see every change, so it batches without caching.
pub fn insert_loaders(data: &mut Data, db: &Db, cached: bool) {
    let products = DataLoader::new(ProductLoader::new(db.clone()), tokio::spawn);
    let items = DataLoader::new(OrderItemsLoader(db.clone()), tokio::spawn);
    let payments = DataLoader::new(PaymentLoader(db.clone()), tokio::spawn);
    let users = DataLoader::new(UserLoader(db.clone()), tokio::spawn);
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
