//! The accounts part of the schema: `User`, `me`, `users` and the account mutations.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::Accounts;
use super::model::{Role, UserListFilter, UserRow};
use super::service::{ProfileChanges, Registration, Session};
use crate::db::keyset::PageOf;
use crate::error::{AppError, UserError};
use crate::graphql::ids::{NodeKind, encode_id, id_of_kind};
use crate::graphql::pagination::{Cursor, page_of, time_key};
use crate::graphql::payload::split;
use crate::graphql::scalars::DateTime;
use crate::graphql::viewer::{RoleGuard, client_addr, require_role, require_user, viewer};
use crate::orders::graphql::{OrderConnection, orders_page};
use crate::orders::model::{OrderListFilter, OrderStatus};

fn accounts<'a>(ctx: &Context<'a>) -> &'a Accounts {
    ctx.data_unchecked::<Accounts>()
}

/// A user account. Only the user themselves and admins can reach one.
pub(crate) struct User(pub UserRow);

#[Object]
impl User {
    pub(crate) async fn id(&self) -> ID {
        encode_id(NodeKind::User, self.0.id)
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn first_name(&self) -> &str {
        &self.0.first_name
    }
    async fn last_name(&self) -> &str {
        &self.0.last_name
    }
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    async fn role(&self) -> Role {
        self.0.role()
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
    /// Default first, then newest first. Visible to the user and to admins.
    async fn addresses(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<crate::addresses::graphql::Address>> {
        crate::addresses::graphql::addresses_of(ctx, self.0.id).await
    }
    async fn default_address(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<crate::addresses::graphql::Address>> {
        crate::addresses::graphql::default_address(ctx, self.0.id).await
    }
    /// This user's orders, newest first. Visible to the user and to admins.
    #[graphql(
        complexity = "crate::graphql::pagination::page_complexity(first, last, child_complexity)"
    )]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        status: Option<OrderStatus>,
    ) -> async_graphql::Result<OrderConnection> {
        if !can_see_user(ctx, self.0.id).await? {
            return Err(AppError::Forbidden.into_graphql());
        }
        let page = page_of(first, after, last, before)?;
        let filter = OrderListFilter {
            user_id: Some(self.0.id),
            status,
        };
        orders_page(ctx, filter, page).await
    }
}

/// Whether the viewer may see `user`: themselves, or any user for an admin.
pub(crate) async fn can_see_user(ctx: &Context<'_>, user_id: i64) -> Result<bool, AppError> {
    Ok(match viewer(ctx).await? {
        Some(v) => v.id == user_id || v.role() == Role::Admin,
        None => false,
    })
}

/// `node(id:)` for users.
pub(crate) async fn user_node(ctx: &Context<'_>, id: i64) -> Result<Option<User>, AppError> {
    if !can_see_user(ctx, id).await? {
        return Ok(None);
    }
    Ok(accounts(ctx).user(id).await?.map(User))
}

#[derive(InputObject, Default)]
pub(crate) struct UserFilter {
    /// Case-insensitive match on email, first or last name.
    search: Option<String>,
    role: Option<Role>,
    is_active: Option<bool>,
}

/// The extra fields of `UserConnection`; `totalCount` runs its query only when asked.
pub(crate) struct UserConnectionFields {
    filter: UserListFilter,
}

#[Object]
impl UserConnectionFields {
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let count = accounts(ctx).count_users(&self.filter).await?;
        Ok(count as i32)
    }
}

pub(crate) type UserConnection = Connection<Cursor, User, UserConnectionFields>;

#[derive(Default)]
pub(crate) struct AccountsQuery;

#[Object]
impl AccountsQuery {
    /// The signed-in user; null when the request carries no token.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        Ok(viewer(ctx).await?.cloned().map(User))
    }

    /// Admins only.
    #[graphql(
        guard = "RoleGuard(Role::Admin)",
        complexity = "crate::graphql::pagination::page_complexity(first, last, child_complexity)"
    )]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<UserFilter>,
    ) -> async_graphql::Result<UserConnection> {
        let page = page_of(first, after, last, before)?.try_map_key(time_key)?;
        let filter = filter.unwrap_or_default();
        let filter = UserListFilter {
            search: filter
                .search
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.trim().to_owned()),
            role: filter.role,
            is_active: filter.is_active,
        };
        let rows = accounts(ctx).users(&filter, &page).await?;
        let page = PageOf::from_fetched(&page, rows);
        let mut connection = Connection::with_additional_fields(
            page.has_previous_page,
            page.has_next_page,
            UserConnectionFields { filter },
        );
        connection.edges.extend(page.rows.into_iter().map(|row| {
            let cursor = Cursor::new(row.id, crate::db::time_to_micros(row.created_at));
            Edge::new(cursor, User(row))
        }));
        Ok(connection)
    }
}

#[derive(SimpleObject, Default)]
pub(crate) struct AuthPayload {
    user: Option<User>,
    access_token: Option<String>,
    refresh_token: Option<String>,
    access_token_expires_at: Option<DateTime>,
    refresh_token_expires_at: Option<DateTime>,
    user_errors: Vec<UserError>,
}

impl AuthPayload {
    fn from_result(result: Result<Session, AppError>) -> async_graphql::Result<Self> {
        let (session, user_errors) = split(result)?;
        Ok(match session {
            Some(s) => AuthPayload {
                user: Some(User(s.user)),
                access_token: Some(s.access_token),
                refresh_token: Some(s.refresh_token),
                access_token_expires_at: Some(s.access_token_expires_at.into()),
                refresh_token_expires_at: Some(s.refresh_token_expires_at.into()),
                user_errors,
            },
            None => AuthPayload {
                user_errors,
                ..Default::default()
            },
        })
    }
}

#[derive(InputObject)]
pub(crate) struct RequestPasswordResetInput {
    email: String,
}

#[derive(SimpleObject)]
pub(crate) struct RequestPasswordResetPayload {
    /// Always true for a well-formed email, whether or not an account exists.
    accepted: bool,
    user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub(crate) struct ResetPasswordInput {
    /// The token from the reset email.
    token: String,
    new_password: String,
}

#[derive(SimpleObject)]
pub(crate) struct LogoutPayload {
    success: bool,
    user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub(crate) struct UserPayload {
    user: Option<User>,
    user_errors: Vec<UserError>,
}

impl UserPayload {
    fn from_result(result: Result<UserRow, AppError>) -> async_graphql::Result<Self> {
        let (user, user_errors) = split(result)?;
        Ok(UserPayload {
            user: user.map(User),
            user_errors,
        })
    }
}

#[derive(InputObject)]
pub(crate) struct RegisterInput {
    email: String,
    password: String,
    password_confirmation: String,
    first_name: String,
    last_name: String,
    phone: Option<String>,
}

#[derive(InputObject)]
pub(crate) struct LoginInput {
    email: String,
    password: String,
}

#[derive(InputObject)]
pub(crate) struct RefreshTokenInput {
    refresh_token: String,
}

#[derive(InputObject)]
pub(crate) struct LogoutInput {
    refresh_token: String,
    /// Revoke every session of this user, not only this one.
    #[graphql(default_with = "Some(false)")]
    everywhere: Option<bool>,
}

#[derive(InputObject)]
pub(crate) struct UpdateProfileInput {
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
}

#[derive(InputObject)]
pub(crate) struct ChangePasswordInput {
    current_password: String,
    new_password: String,
}

#[derive(InputObject)]
pub(crate) struct SetUserRoleInput {
    user_id: ID,
    role: Role,
}

#[derive(InputObject)]
pub(crate) struct SetUserActiveInput {
    user_id: ID,
    is_active: bool,
}

#[derive(Default)]
pub(crate) struct AccountsMutation;

#[Object]
impl AccountsMutation {
    async fn register(
        &self,
        ctx: &Context<'_>,
        input: RegisterInput,
    ) -> async_graphql::Result<AuthPayload> {
        let registration = Registration {
            email: input.email,
            password: input.password,
            password_confirmation: input.password_confirmation,
            first_name: input.first_name,
            last_name: input.last_name,
            phone: input.phone,
        };
        AuthPayload::from_result(accounts(ctx).register(client_addr(ctx), registration).await)
    }

    async fn login(
        &self,
        ctx: &Context<'_>,
        input: LoginInput,
    ) -> async_graphql::Result<AuthPayload> {
        AuthPayload::from_result(
            accounts(ctx)
                .login(client_addr(ctx), &input.email, &input.password)
                .await,
        )
    }

    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        input: RefreshTokenInput,
    ) -> async_graphql::Result<AuthPayload> {
        AuthPayload::from_result(
            accounts(ctx)
                .refresh(client_addr(ctx), &input.refresh_token)
                .await,
        )
    }

    async fn logout(
        &self,
        ctx: &Context<'_>,
        input: LogoutInput,
    ) -> async_graphql::Result<LogoutPayload> {
        let everywhere = input.everywhere.unwrap_or(false);
        let (done, user_errors) =
            split(accounts(ctx).logout(&input.refresh_token, everywhere).await)?;
        Ok(LogoutPayload {
            success: done.is_some(),
            user_errors,
        })
    }

    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        input: UpdateProfileInput,
    ) -> async_graphql::Result<UserPayload> {
        let user = require_user(ctx).await?;
        let changes = ProfileChanges {
            first_name: input.first_name,
            last_name: input.last_name,
            phone: input.phone,
        };
        UserPayload::from_result(accounts(ctx).update_profile(user, changes).await)
    }

    async fn change_password(
        &self,
        ctx: &Context<'_>,
        input: ChangePasswordInput,
    ) -> async_graphql::Result<AuthPayload> {
        let user = require_user(ctx).await?;
        AuthPayload::from_result(
            accounts(ctx)
                .change_password(
                    client_addr(ctx),
                    user,
                    &input.current_password,
                    &input.new_password,
                )
                .await,
        )
    }

    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        input: RequestPasswordResetInput,
    ) -> async_graphql::Result<RequestPasswordResetPayload> {
        let requested = accounts(ctx)
            .request_password_reset(client_addr(ctx), &input.email)
            .await;
        let (accepted, user_errors) = split(requested)?;
        Ok(RequestPasswordResetPayload {
            accepted: accepted.is_some(),
            user_errors,
        })
    }

    /// Sets the new password, uses up the token and revokes every session of the user.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        input: ResetPasswordInput,
    ) -> async_graphql::Result<AuthPayload> {
        AuthPayload::from_result(
            accounts(ctx)
                .reset_password(client_addr(ctx), &input.token, &input.new_password)
                .await,
        )
    }

    async fn set_user_role(
        &self,
        ctx: &Context<'_>,
        input: SetUserRoleInput,
    ) -> async_graphql::Result<UserPayload> {
        let admin = require_role(ctx, Role::Admin).await?;
        let user_id = id_of_kind(&input.user_id, NodeKind::User)?;
        UserPayload::from_result(accounts(ctx).set_role(admin, user_id, input.role).await)
    }

    async fn set_user_active(
        &self,
        ctx: &Context<'_>,
        input: SetUserActiveInput,
    ) -> async_graphql::Result<UserPayload> {
        let admin = require_role(ctx, Role::Admin).await?;
        let user_id = id_of_kind(&input.user_id, NodeKind::User)?;
        UserPayload::from_result(
            accounts(ctx)
                .set_active(admin, user_id, input.is_active)
                .await,
        )
    }
}
