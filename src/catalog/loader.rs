//! Batches product look-ups of one request into one query (cart and order lines).

use std::collections::HashMap;

use async_graphql::dataloader::Loader;

use super::model::ProductRow;
use super::repo;
use crate::db::Db;

pub(crate) struct ProductLoader {
    db: Db,
}

impl ProductLoader {
    pub(crate) fn new(db: Db) -> Self {
        ProductLoader { db }
    }
}

impl Loader<i64> for ProductLoader {
    type Value = ProductRow;
    type Error = async_graphql::Error;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, ProductRow>, Self::Error> {
        let rows = self
            .db
            .run(async |c| repo::find_products(c, ids).await)
            .await
            .map_err(crate::error::AppError::into_graphql)?;
        Ok(rows.into_iter().map(|row| (row.id, row)).collect())
    }
}
