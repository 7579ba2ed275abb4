//! The webhooks part of the schema (admins only): `Webhook`, `WebhookDelivery`, the
//! `webhooks` list and the three mutations.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::Webhooks;
use super::model::{DeliveryRow, DeliveryStatus, WebhookRow, WebhookTopic};
use super::payload::body;
use super::service::WebhookChanges;
use crate::accounts::model::Role;
use crate::error::{AppError, UserError};
use crate::graphql::ids::{NodeKind, encode_id, id_of_kind};
use crate::graphql::pagination::{Cursor, page_of};
use crate::graphql::payload::split;
use crate::graphql::scalars::DateTime;
use crate::graphql::viewer::{RoleGuard, viewer};

fn webhooks<'a>(ctx: &Context<'a>) -> &'a Webhooks {
    ctx.data_unchecked::<Webhooks>()
}

pub(crate) struct Webhook(WebhookRow);

#[Object]
impl Webhook {
    pub(crate) async fn id(&self) -> ID {
        encode_id(NodeKind::Webhook, self.0.id)
    }
    async fn url(&self) -> &str {
        &self.0.url
    }
    async fn topics(&self) -> Vec<WebhookTopic> {
        self.0.topics()
    }
    async fn is_active(&self) -> bool {
        self.0.is_active
    }
    /// Most recent first.
    #[graphql(
        complexity = "crate::graphql::pagination::page_complexity(first, None, child_complexity)"
    )]
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, WebhookDelivery>> {
        let page = page_of(first, after, None, None)?;
        let before_id = page.after.as_ref().map(|(_, id)| *id);
        let mut rows = webhooks(ctx)
            .deliveries(self.0.id, before_id, page.fetch_limit())
            .await?;
        let has_next = rows.len() > page.limit;
        rows.truncate(page.limit);
        let mut connection = Connection::new(before_id.is_some(), has_next);
        connection.edges.extend(
            rows.into_iter()
                .map(|row| Edge::new(Cursor::new(row.id, row.id), WebhookDelivery(row))),
        );
        Ok(connection)
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }
}

pub(crate) struct WebhookDelivery(DeliveryRow);

#[Object]
impl WebhookDelivery {
    pub(crate) async fn id(&self) -> ID {
        encode_id(NodeKind::WebhookDelivery, self.0.id)
    }
    async fn topic(&self) -> WebhookTopic {
        self.0.topic
    }
    /// The JSON body sent (the same bytes on every attempt).
    async fn payload(&self) -> String {
        body(&self.0)
    }
    async fn status(&self) -> DeliveryStatus {
        self.0.status
    }
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// HTTP status of the last attempt; null when it got no HTTP answer.
    async fn last_response_status(&self) -> Option<i32> {
        self.0.last_response_status
    }
    async fn next_attempt_at(&self) -> Option<DateTime> {
        match self.0.status {
            DeliveryStatus::Pending => self.0.next_attempt_at.map(DateTime),
            _ => None,
        }
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
}

async fn is_admin(ctx: &Context<'_>) -> Result<bool, AppError> {
    Ok(viewer(ctx).await?.is_some_and(|v| v.role() == Role::Admin))
}

/// `node(id:)` for webhooks: admins only.
pub(crate) async fn webhook_node(ctx: &Context<'_>, id: i64) -> Result<Option<Webhook>, AppError> {
    if !is_admin(ctx).await? {
        return Ok(None);
    }
    Ok(webhooks(ctx).find(id).await?.map(Webhook))
}

/// `node(id:)` for webhook deliveries: admins only.
pub(crate) async fn delivery_node(
    ctx: &Context<'_>,
    id: i64,
) -> Result<Option<WebhookDelivery>, AppError> {
    if !is_admin(ctx).await? {
        return Ok(None);
    }
    Ok(webhooks(ctx).delivery(id).await?.map(WebhookDelivery))
}

#[derive(Default)]
pub(crate) struct WebhooksQuery;

#[Object]
impl WebhooksQuery {
    /// Admins only.
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn webhooks(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Webhook>> {
        Ok(webhooks(ctx)
            .all()
            .await?
            .into_iter()
            .map(Webhook)
            .collect())
    }
}

#[derive(InputObject)]
pub(crate) struct CreateWebhookInput {
    url: String,
    topics: Vec<WebhookTopic>,
    /// HMAC-SHA256 key for the signature header; at least 16 bytes.
    secret: String,
}

#[derive(InputObject)]
pub(crate) struct UpdateWebhookInput {
    id: ID,
    url: Option<String>,
    topics: Option<Vec<WebhookTopic>>,
    secret: Option<String>,
    is_active: Option<bool>,
}

#[derive(InputObject)]
pub(crate) struct DeleteWebhookInput {
    id: ID,
}

#[derive(SimpleObject)]
pub(crate) struct WebhookPayload {
    webhook: Option<Webhook>,
    user_errors: Vec<UserError>,
}

impl WebhookPayload {
    fn from_result(result: Result<WebhookRow, AppError>) -> async_graphql::Result<Self> {
        let (webhook, user_errors) = split(result)?;
        Ok(WebhookPayload {
            webhook: webhook.map(Webhook),
            user_errors,
        })
    }
}

#[derive(SimpleObject)]
pub(crate) struct DeleteWebhookPayload {
    deleted_webhook_id: Option<ID>,
    user_errors: Vec<UserError>,
}

#[derive(Default)]
pub(crate) struct WebhooksMutation;

#[Object]
impl WebhooksMutation {
    /// Admins only.
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn create_webhook(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookInput,
    ) -> async_graphql::Result<WebhookPayload> {
        let changes = WebhookChanges {
            url: Some(input.url),
            topics: Some(input.topics),
            secret: Some(input.secret),
            is_active: None,
        };
        WebhookPayload::from_result(webhooks(ctx).create(changes).await)
    }

    /// Admins only.
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn update_webhook(
        &self,
        ctx: &Context<'_>,
        input: UpdateWebhookInput,
    ) -> async_graphql::Result<WebhookPayload> {
        let id = id_of_kind(&input.id, NodeKind::Webhook)?;
        let changes = WebhookChanges {
            url: input.url,
            topics: input.topics,
            secret: input.secret,
            is_active: input.is_active,
        };
        WebhookPayload::from_result(webhooks(ctx).update(id, changes).await)
    }

    /// Admins only.
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn delete_webhook(
        &self,
        ctx: &Context<'_>,
        input: DeleteWebhookInput,
    ) -> async_graphql::Result<DeleteWebhookPayload> {
        let id = id_of_kind(&input.id, NodeKind::Webhook)?;
        let (deleted, user_errors) = split(webhooks(ctx).delete(id).await)?;
        Ok(DeleteWebhookPayload {
            deleted_webhook_id: deleted.map(|id| encode_id(NodeKind::Webhook, id)),
            user_errors,
        })
    }
}
