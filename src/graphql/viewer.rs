//! Who is asking: the bearer token of a request, the user it names (from the viewer
//! cache or the database, once per request; every change to a user forgets it, so role
//! changes and deactivation apply at once), and the guards built on them.

use std::sync::Arc;

use async_graphql::{Context, Guard};
use tokio::sync::OnceCell;

use crate::accounts::Accounts;
use crate::accounts::model::{Role, UserRow};
use crate::accounts::tokens::Claims;
use crate::error::AppError;

/// What the `Authorization` header held.
#[derive(Debug)]
pub(crate) enum Bearer {
    Absent,
    /// Present but not a genuine, unexpired access token.
    Invalid,
    Valid(Claims),
}

/// Per-request authentication state, put into the GraphQL request's data.
pub(crate) struct RequestAuth {
    bearer: Bearer,
    user: OnceCell<Arc<UserRow>>,
}

impl RequestAuth {
    pub(crate) fn new(bearer: Bearer) -> Self {
        RequestAuth {
            bearer,
            user: OnceCell::new(),
        }
    }

    /// The user the token names, read once per request; `None` without a token. A bad
    /// token, or one of a deactivated or deleted user, is `UNAUTHENTICATED`.
    pub(crate) async fn user(&self, accounts: &Accounts) -> Result<Option<&UserRow>, AppError> {
        let claims = match &self.bearer {
            Bearer::Absent => return Ok(None),
            Bearer::Invalid => return Err(AppError::Unauthenticated),
            Bearer::Valid(claims) => claims,
        };
        let user = self
            .user
            .get_or_try_init(|| async {
                accounts
                    .active_user(claims)
                    .await?
                    .ok_or(AppError::Unauthenticated)
            })
            .await?;
        Ok(Some(&**user))
    }

    /// Parses `Authorization: Bearer <token>`.
    pub(crate) fn from_header(header: Option<&str>, accounts: &Accounts) -> Self {
        let bearer = match header {
            None => Bearer::Absent,
            Some(value) => match value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
            {
                Some(token) => accounts
                    .verify_access_token(token.trim())
                    .map_or(Bearer::Invalid, Bearer::Valid),
                None => Bearer::Invalid,
            },
        };
        RequestAuth::new(bearer)
    }
}

/// The client's address, as far as the server can tell (see `http::client_ip`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddr(pub Option<std::net::IpAddr>);

pub(crate) fn client_addr(ctx: &Context<'_>) -> Option<std::net::IpAddr> {
    ctx.data_opt::<ClientAddr>().and_then(|c| c.0)
}

/// The signed-in user, `None` without a token. A bad token, or one of a deactivated or
/// deleted user, is `UNAUTHENTICATED`.
pub(crate) async fn viewer<'a>(ctx: &Context<'a>) -> Result<Option<&'a UserRow>, AppError> {
    match ctx.data_opt::<RequestAuth>() {
        Some(auth) => auth.user(ctx.data_unchecked::<Accounts>()).await,
        None => Ok(None),
    }
}

/// The signed-in user, or `UNAUTHENTICATED`.
pub(crate) async fn require_user<'a>(ctx: &Context<'a>) -> Result<&'a UserRow, AppError> {
    viewer(ctx).await?.ok_or(AppError::Unauthenticated)
}

/// The signed-in user if they have `role`; `FORBIDDEN` otherwise.
pub(crate) async fn require_role<'a>(
    ctx: &Context<'a>,
    role: Role,
) -> Result<&'a UserRow, AppError> {
    let user = require_user(ctx).await?;
    if user.role() == role {
        Ok(user)
    } else {
        Err(AppError::Forbidden)
    }
}

/// Field guard: signed in with the given role.
pub(crate) struct RoleGuard(pub Role);

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        require_role(ctx, self.0)
            .await
            .map(|_| ())
            .map_err(AppError::into_graphql)
    }
}
