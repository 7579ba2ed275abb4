//! The address-book part of the schema: `User.addresses`, `User.defaultAddress`, the
//! four address mutations (customers only), and `Order.address`.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::model::{AddressFields, AddressRow, PostalAddress};
use crate::accounts::graphql::{User, can_see_user};
use crate::accounts::model::{Role, UserRow};
use crate::error::{AppError, UserError};
use crate::graphql::ids::{NodeKind, encode_id, id_of_kind};
use crate::graphql::payload::split;
use crate::graphql::scalars::DateTime;
use crate::graphql::viewer::require_role;

fn address_room<'a>(ctx: &Context<'a>) -> &'a super::Addresses {
    ctx.data_unchecked::<super::Addresses>()
}

pub(crate) struct Address(AddressRow);

#[Object]
impl Address {
    pub(crate) async fn id(&self) -> ID {
        encode_id(NodeKind::Address, self.0.id)
    }
    async fn full_name(&self) -> &str {
        &self.0.full_name
    }
    async fn line1(&self) -> &str {
        &self.0.line1
    }
    async fn line2(&self) -> Option<&str> {
        self.0.line2.as_deref()
    }
    async fn city(&self) -> &str {
        &self.0.city
    }
    async fn region(&self) -> Option<&str> {
        self.0.region.as_deref()
    }
    async fn postal_code(&self) -> &str {
        &self.0.postal_code
    }
    /// ISO 3166-1 alpha-2, upper case.
    async fn country_code(&self) -> &str {
        &self.0.country_code
    }
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    async fn is_default(&self) -> bool {
        self.0.is_default
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }
}

/// `node(id:)` for addresses: their owner and admins see them.
pub(crate) async fn address_node(ctx: &Context<'_>, id: i64) -> Result<Option<Address>, AppError> {
    let Some(row) = address_room(ctx).address(id).await? else {
        return Ok(None);
    };
    Ok(can_see_user(ctx, row.user_id)
        .await?
        .then_some(Address(row)))
}

/// `User.addresses`: the default first, then newest first.
pub(crate) async fn addresses_of(
    ctx: &Context<'_>,
    user_id: i64,
) -> async_graphql::Result<Vec<Address>> {
    if !can_see_user(ctx, user_id).await? {
        return Err(AppError::Forbidden.into_graphql());
    }
    let rows = address_room(ctx).addresses_of(user_id).await?;
    Ok(rows.into_iter().map(Address).collect())
}

/// `User.defaultAddress`.
pub(crate) async fn default_address(
    ctx: &Context<'_>,
    user_id: i64,
) -> async_graphql::Result<Option<Address>> {
    let first = addresses_of(ctx, user_id).await?.into_iter().next();
    Ok(first.filter(|a| a.0.is_default))
}

/// The address an order ships to, copied when it was placed.
pub(crate) struct OrderAddress(pub PostalAddress);

#[Object]
impl OrderAddress {
    async fn full_name(&self) -> &str {
        &self.0.full_name
    }
    async fn line1(&self) -> &str {
        &self.0.line1
    }
    async fn line2(&self) -> Option<&str> {
        self.0.line2.as_deref()
    }
    async fn city(&self) -> &str {
        &self.0.city
    }
    async fn region(&self) -> Option<&str> {
        self.0.region.as_deref()
    }
    async fn postal_code(&self) -> &str {
        &self.0.postal_code
    }
    async fn country_code(&self) -> &str {
        &self.0.country_code
    }
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
}

#[derive(InputObject)]
pub(crate) struct AddressInput {
    full_name: String,
    line1: String,
    line2: Option<String>,
    city: String,
    region: Option<String>,
    postal_code: String,
    country_code: String,
    phone: Option<String>,
}

impl From<AddressInput> for AddressFields {
    fn from(input: AddressInput) -> Self {
        AddressFields {
            full_name: input.full_name,
            line1: input.line1,
            line2: input.line2,
            city: input.city,
            region: input.region,
            postal_code: input.postal_code,
            country_code: input.country_code,
            phone: input.phone,
        }
    }
}

#[derive(InputObject)]
pub(crate) struct AddAddressInput {
    address: AddressInput,
    #[graphql(default_with = "Some(false)")]
    is_default: Option<bool>,
}

#[derive(InputObject)]
pub(crate) struct UpdateAddressInput {
    id: ID,
    address: AddressInput,
}

#[derive(InputObject)]
pub(crate) struct AddressIdInput {
    id: ID,
}

#[derive(SimpleObject)]
pub(crate) struct AddressPayload {
    address: Option<Address>,
    /// The customer, for their address list as it now is.
    user: Option<User>,
    user_errors: Vec<UserError>,
}

impl AddressPayload {
    fn from_result(
        customer: &UserRow,
        result: Result<AddressRow, AppError>,
    ) -> async_graphql::Result<Self> {
        let (address, user_errors) = split(result)?;
        Ok(AddressPayload {
            address: address.map(Address),
            user: Some(User(customer.clone())),
            user_errors,
        })
    }
}

#[derive(SimpleObject)]
pub(crate) struct DeleteAddressPayload {
    deleted_address_id: Option<ID>,
    user: Option<User>,
    user_errors: Vec<UserError>,
}

fn address_id(id: &ID) -> Result<Option<i64>, AppError> {
    id_of_kind(id, NodeKind::Address)
}

#[derive(Default)]
pub(crate) struct AddressMutation;

#[Object]
impl AddressMutation {
    async fn add_address(
        &self,
        ctx: &Context<'_>,
        input: AddAddressInput,
    ) -> async_graphql::Result<AddressPayload> {
        let customer = require_role(ctx, Role::Customer).await?;
        let fields = AddressFields::from(input.address);
        let result = address_room(ctx)
            .add(customer.id, &fields, input.is_default.unwrap_or(false))
            .await;
        AddressPayload::from_result(customer, result)
    }

    async fn update_address(
        &self,
        ctx: &Context<'_>,
        input: UpdateAddressInput,
    ) -> async_graphql::Result<AddressPayload> {
        let customer = require_role(ctx, Role::Customer).await?;
        let id = address_id(&input.id)?;
        let fields = AddressFields::from(input.address);
        let result = address_room(ctx).update(customer.id, id, &fields).await;
        AddressPayload::from_result(customer, result)
    }

    async fn delete_address(
        &self,
        ctx: &Context<'_>,
        input: AddressIdInput,
    ) -> async_graphql::Result<DeleteAddressPayload> {
        let customer = require_role(ctx, Role::Customer).await?;
        let id = address_id(&input.id)?;
        let (deleted, user_errors) = split(address_room(ctx).delete(customer.id, id).await)?;
        Ok(DeleteAddressPayload {
            deleted_address_id: deleted.map(|id| encode_id(NodeKind::Address, id)),
            user: Some(User(customer.clone())),
            user_errors,
        })
    }

    async fn set_default_address(
        &self,
        ctx: &Context<'_>,
        input: AddressIdInput,
    ) -> async_graphql::Result<AddressPayload> {
        let customer = require_role(ctx, Role::Customer).await?;
        let id = address_id(&input.id)?;
        let result = address_room(ctx).set_default(customer.id, id).await;
        AddressPayload::from_result(customer, result)
    }
}
