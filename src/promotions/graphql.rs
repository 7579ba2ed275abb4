//! The coupons part of the schema: `Coupon`, the admins' `coupons` list and mutations,
//! and the customers' `applyCoupon` / `removeCoupon`.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};

use super::Promotions;
use super::model::{CouponRow, DiscountType};
use super::service::CouponInput;
use crate::accounts::model::Role;
use crate::cart::graphql::CartPayload;
use crate::db::keyset::PageOf;
use crate::error::{AppError, UserError};
use crate::graphql::ids::{NodeKind, encode_id, id_of_kind};
use crate::graphql::pagination::{Cursor, page_of};
use crate::graphql::payload::split;
use crate::graphql::scalars::{DateTime, Decimal};
use crate::graphql::viewer::{RoleGuard, require_role, viewer};

fn promotions<'a>(ctx: &Context<'a>) -> &'a Promotions {
    ctx.data_unchecked::<Promotions>()
}

pub(crate) struct Coupon(CouponRow);

#[Object]
impl Coupon {
    pub(crate) async fn id(&self) -> ID {
        encode_id(NodeKind::Coupon, self.0.id)
    }
    /// Unique, compared case-insensitively; stored upper case.
    async fn code(&self) -> &str {
        &self.0.code
    }
    #[graphql(name = "type")]
    async fn discount_type(&self) -> DiscountType {
        self.0.discount_type
    }
    async fn value(&self) -> Decimal {
        // Hundredths either way: cents, or hundredths of a percent (12.50 = 12.5 %).
        Decimal::Cents(self.0.value_hundredths)
    }
    /// The cart subtotal needed for the coupon to apply.
    async fn min_subtotal(&self) -> Option<Decimal> {
        self.0.min_subtotal_cents.map(Decimal::Cents)
    }
    async fn starts_at(&self) -> Option<DateTime> {
        self.0.starts_at.map(DateTime)
    }
    async fn ends_at(&self) -> Option<DateTime> {
        self.0.ends_at.map(DateTime)
    }
    /// Uses across all customers; null is unlimited.
    async fn usage_limit(&self) -> Option<i32> {
        self.0.usage_limit
    }
    /// Uses by one customer; null is unlimited.
    async fn per_customer_limit(&self) -> Option<i32> {
        self.0.per_customer_limit
    }
    /// Orders that hold a use now (a cancelled order gives its use back).
    async fn usage_count(&self) -> i32 {
        self.0.usage_count
    }
    async fn is_active(&self) -> bool {
        self.0.is_active
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }
}

/// `node(id:)` for coupons: admins only.
pub(crate) async fn coupon_node(ctx: &Context<'_>, id: i64) -> Result<Option<Coupon>, AppError> {
    let admin = viewer(ctx).await?.is_some_and(|v| v.role() == Role::Admin);
    if !admin {
        return Ok(None);
    }
    Ok(promotions(ctx).find(id).await?.map(Coupon))
}

/// `totalCount` of `CouponConnection`, counted only when asked for.
pub(crate) struct CouponConnectionFields {
    search: Option<String>,
}

#[Object]
impl CouponConnectionFields {
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let count = promotions(ctx).count(self.search.as_deref()).await?;
        Ok(count as i32)
    }
}

#[derive(Default)]
pub(crate) struct CouponsQuery;

#[Object]
impl CouponsQuery {
    /// Admins only.
    #[graphql(
        guard = "RoleGuard(Role::Admin)",
        complexity = "crate::graphql::pagination::page_complexity(first, last, child_complexity)"
    )]
    async fn coupons(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        search: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, Coupon, CouponConnectionFields>> {
        let page = page_of(first, after, last, before)?;
        let search = search
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        let rows = promotions(ctx).list(search.as_deref(), &page).await?;
        let page = PageOf::from_fetched(&page, rows);
        let mut connection = Connection::with_additional_fields(
            page.has_previous_page,
            page.has_next_page,
            CouponConnectionFields { search },
        );
        connection.edges.extend(
            page.rows
                .into_iter()
                .map(|row| Edge::new(Cursor::new(row.id, &row.code), Coupon(row))),
        );
        Ok(connection)
    }
}

#[derive(InputObject)]
pub(crate) struct ApplyCouponInput {
    code: String,
}

#[derive(InputObject)]
pub(crate) struct CreateCouponInput {
    code: String,
    #[graphql(name = "type")]
    discount_type: DiscountType,
    value: Decimal,
    min_subtotal: Option<Decimal>,
    starts_at: Option<DateTime>,
    ends_at: Option<DateTime>,
    usage_limit: Option<i32>,
    per_customer_limit: Option<i32>,
    #[graphql(default_with = "Some(true)")]
    is_active: Option<bool>,
}

/// Absent fields stay as they are; `null` clears a limit, a minimum or a date.
#[derive(InputObject)]
pub(crate) struct UpdateCouponInput {
    id: ID,
    value: Option<Decimal>,
    min_subtotal: MaybeUndefined<Decimal>,
    starts_at: MaybeUndefined<DateTime>,
    ends_at: MaybeUndefined<DateTime>,
    usage_limit: MaybeUndefined<i32>,
    per_customer_limit: MaybeUndefined<i32>,
    is_active: Option<bool>,
}

#[derive(SimpleObject)]
pub(crate) struct CouponPayload {
    coupon: Option<Coupon>,
    user_errors: Vec<UserError>,
}

impl CouponPayload {
    fn from_result(result: Result<CouponRow, AppError>) -> async_graphql::Result<Self> {
        let (coupon, user_errors) = split(result)?;
        Ok(CouponPayload {
            coupon: coupon.map(Coupon),
            user_errors,
        })
    }
}

/// The new value of a field that `null` clears.
fn changed<T, U>(
    field: MaybeUndefined<T>,
    current: Option<U>,
    read: impl FnOnce(T) -> U,
) -> Option<U> {
    match field {
        MaybeUndefined::Undefined => current,
        MaybeUndefined::Null => None,
        MaybeUndefined::Value(value) => Some(read(value)),
    }
}

#[derive(Default)]
pub(crate) struct CouponsMutation;

#[Object]
impl CouponsMutation {
    async fn apply_coupon(
        &self,
        ctx: &Context<'_>,
        input: ApplyCouponInput,
    ) -> async_graphql::Result<CartPayload> {
        let customer = require_role(ctx, Role::Customer).await?;
        let result = promotions(ctx).apply(customer.id, &input.code).await;
        CartPayload::build(ctx, customer.id, result.map(|()| None)).await
    }

    async fn remove_coupon(&self, ctx: &Context<'_>) -> async_graphql::Result<CartPayload> {
        let customer = require_role(ctx, Role::Customer).await?;
        let result = promotions(ctx).remove(customer.id).await;
        CartPayload::build(ctx, customer.id, result.map(|()| None)).await
    }

    /// Admins only.
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn create_coupon(
        &self,
        ctx: &Context<'_>,
        input: CreateCouponInput,
    ) -> async_graphql::Result<CouponPayload> {
        let min_subtotal_cents = input.min_subtotal.map(|d| d.to_cents());
        let coupon = CouponInput {
            discount_type: input.discount_type,
            value_hundredths: input.value.to_cents(),
            min_subtotal_cents,
            starts_at: input.starts_at.map(|t| t.0),
            ends_at: input.ends_at.map(|t| t.0),
            usage_limit: input.usage_limit,
            per_customer_limit: input.per_customer_limit,
            is_active: input.is_active.unwrap_or(true),
        };
        CouponPayload::from_result(promotions(ctx).create(&input.code, coupon).await)
    }

    /// Admins only.
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn update_coupon(
        &self,
        ctx: &Context<'_>,
        input: UpdateCouponInput,
    ) -> async_graphql::Result<CouponPayload> {
        let id = id_of_kind(&input.id, NodeKind::Coupon)?;
        let change = |current: &CouponRow| CouponInput {
            discount_type: current.discount_type,
            value_hundredths: match &input.value {
                Some(value) => value.to_cents(),
                None => Some(current.value_hundredths),
            },
            min_subtotal_cents: match &input.min_subtotal {
                MaybeUndefined::Undefined => current.min_subtotal_cents.map(Some),
                MaybeUndefined::Null => None,
                MaybeUndefined::Value(d) => Some(d.to_cents()),
            },
            starts_at: changed(input.starts_at, current.starts_at, |t| t.0),
            ends_at: changed(input.ends_at, current.ends_at, |t| t.0),
            usage_limit: changed(input.usage_limit, current.usage_limit, |n| n),
            per_customer_limit: changed(
                input.per_customer_limit,
                current.per_customer_limit,
                |n| n,
            ),
            is_active: input.is_active.unwrap_or(current.is_active),
        };
        CouponPayload::from_result(promotions(ctx).update(id, change).await)
    }
}
