//! DataLoaders for the edges a page of orders fans out to: lines, payment, customer.
//! Each edge costs one query per page, whatever its size.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;

use super::model::{OrderItemRow, PaymentRow};
use super::repo;
use crate::accounts::model::UserRow;
use crate::db::Db;

/// Order id → its lines.
pub(crate) struct OrderItemsLoader(pub Db);

impl Loader<i64> for OrderItemsLoader {
    type Value = Vec<OrderItemRow>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        order_ids: &[i64],
    ) -> Result<HashMap<i64, Vec<OrderItemRow>>, Self::Error> {
        let rows = self
            .0
            .run(async |c| repo::items_of(c, order_ids).await)
            .await?;
        let mut by_order: HashMap<i64, Vec<OrderItemRow>> = HashMap::new();
        for row in rows {
            by_order.entry(row.order_id).or_default().push(row);
        }
        Ok(by_order)
    }
}

/// Order id → its payment.
pub(crate) struct PaymentLoader(pub Db);

impl Loader<i64> for PaymentLoader {
    type Value = PaymentRow;
    type Error = async_graphql::Error;

    async fn load(&self, order_ids: &[i64]) -> Result<HashMap<i64, PaymentRow>, Self::Error> {
        let rows = self
            .0
            .run(async |c| repo::payments_of(c, order_ids).await)
            .await?;
        Ok(rows.into_iter().map(|p| (p.order_id, p)).collect())
    }
}

/// User id → user (an order's customer).
pub(crate) struct UserLoader(pub Db);

impl Loader<i64> for UserLoader {
    type Value = UserRow;
    type Error = async_graphql::Error;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, UserRow>, Self::Error> {
        let rows = self
            .0
            .run(async |c| crate::accounts::repo::find_users(c, ids).await)
            .await?;
        Ok(rows.into_iter().map(|u| (u.id, u)).collect())
    }
}
