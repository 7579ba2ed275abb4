//! DataLoaders for the edges a page of orders fans out to: lines, payment, customer,
//! events; and an event's order.
//! Each edge costs one query per page, whatever its size.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;

use super::model::{OrderItemRow, OrderRow, PaymentRow};
use super::repo;
use crate::accounts::model::UserRow;
use crate::db::Db;
use crate::events::log::EventRow;

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

/// Order id → order (an event's order).
pub(crate) struct OrderLoader(pub Db);

impl Loader<i64> for OrderLoader {
    type Value = OrderRow;
    type Error = async_graphql::Error;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, OrderRow>, Self::Error> {
        let rows = self
            .0
            .run(async |c| repo::orders_by_ids(c, ids).await)
            .await?;
        Ok(rows.into_iter().map(|o| (o.id, o)).collect())
    }
}

/// Order id → its events, oldest first.
pub(crate) struct OrderEventsLoader(pub Db);

impl Loader<i64> for OrderEventsLoader {
    type Value = Vec<EventRow>;
    type Error = async_graphql::Error;

    async fn load(&self, order_ids: &[i64]) -> Result<HashMap<i64, Vec<EventRow>>, Self::Error> {
        let rows = self
            .0
            .run(async |c| crate::events::log::of_orders(c, order_ids).await)
            .await?;
        let mut by_order: HashMap<i64, Vec<EventRow>> = HashMap::new();
        for row in rows {
            by_order.entry(row.order_id).or_default().push(row);
        }
        Ok(by_order)
    }
}
