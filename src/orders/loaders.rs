//! DataLoaders for the edges a page of orders fans out to: lines, payment, customer.
//! Each edge costs one query per page, whatever its size.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;

use super::model::{OrderItemRow, PaymentRow};
use super::repo;
use crate::accounts::model::UserRow;
use crate::db::Db;
use crate::error::AppError;

/// Order id → its lines.
pub struct OrderItemsLoader(pub Db);

impl Loader<i64> for OrderItemsLoader {
    type Value = Vec<OrderItemRow>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        order_ids: &[i64],
    ) -> Result<HashMap<i64, Vec<OrderItemRow>>, Self::Error> {
        let mut pooled = self.0.get().await?;
        let rows = repo::items_of(&mut pooled.conn(), order_ids)
            .await
            .map_err(AppError::from)?;
        let mut by_order: HashMap<i64, Vec<OrderItemRow>> = HashMap::new();
        for row in rows {
            by_order.entry(row.order_id).or_default().push(row);
        }
        Ok(by_order)
    }
}

/// Order id → its payment.
pub struct PaymentLoader(pub Db);

impl Loader<i64> for PaymentLoader {
    type Value = PaymentRow;
    type Error = async_graphql::Error;

    async fn load(&self, order_ids: &[i64]) -> Result<HashMap<i64, PaymentRow>, Self::Error> {
        let mut pooled = self.0.get().await?;
        let rows = repo::payments_of(&mut pooled.conn(), order_ids)
            .await
            .map_err(AppError::from)?;
        Ok(rows.into_iter().map(|p| (p.order_id, p)).collect())
    }
}

/// User id → user (an order's customer).
pub struct UserLoader(pub Db);

impl Loader<i64> for UserLoader {
    type Value = UserRow;
    type Error = async_graphql::Error;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, UserRow>, Self::Error> {
        let mut pooled = self.0.get().await?;
        let rows = crate::accounts::repo::find_users(&mut pooled.conn(), ids)
            .await
            .map_err(AppError::from)?;
        Ok(rows.into_iter().map(|u| (u.id, u)).collect())
    }
}
