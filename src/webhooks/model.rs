//! Rows of the webhooks and webhook_deliveries tables.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{webhook_deliveries, webhooks};

#[derive(
    async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq, diesel::deserialize::FromSqlRow,
)]
pub(crate) enum WebhookTopic {
    OrderEvent,
    ProductOutOfStock,
}

crate::db::db_text_enum!(WebhookTopic {
    OrderEvent => "ORDER_EVENT",
    ProductOutOfStock => "PRODUCT_OUT_OF_STOCK",
});

#[derive(
    async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq, diesel::deserialize::FromSqlRow,
)]
#[graphql(name = "WebhookDeliveryStatus")]
pub(crate) enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
}

crate::db::db_text_enum!(DeliveryStatus {
    Pending => "PENDING",
    Succeeded => "SUCCEEDED",
    Failed => "FAILED",
});

#[derive(Queryable, Selectable, Clone)]
#[diesel(table_name = webhooks)]
pub(crate) struct WebhookRow {
    pub id: i64,
    pub url: String,
    /// The signing key: never shown, never logged (no `Debug`).
    pub secret: String,
    pub on_order_event: bool,
    pub on_out_of_stock: bool,
    pub is_active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl WebhookRow {
    pub(crate) fn topics(&self) -> Vec<WebhookTopic> {
        let mut topics = Vec::new();
        if self.on_order_event {
            topics.push(WebhookTopic::OrderEvent);
        }
        if self.on_out_of_stock {
            topics.push(WebhookTopic::ProductOutOfStock);
        }
        topics
    }
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = webhook_deliveries)]
pub(crate) struct DeliveryRow {
    pub id: i64,
    pub webhook_id: i64,
    pub topic: WebhookTopic,
    pub data: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub last_response_status: Option<i32>,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub locked_until: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}
