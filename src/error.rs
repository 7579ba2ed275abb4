//! The one error type and its two exits.
//!
//! Services return `Result<T, AppError>`. An [`AppError::User`] is an expected,
//! user-correctable outcome of a mutation: resolvers turn it into the payload's
//! `userErrors` (see [`crate::graphql::payload`]). Every other variant is a request
//! error and leaves through [`AppError::into_graphql`], the single place that decides
//! what a client may see: database and internal failures are logged here with their
//! details and reach the client only as `INTERNAL_SERVER_ERROR`.

use async_graphql::{Enum, ErrorExtensions, SimpleObject};

/// Codes of user errors, as the contract names them.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum UserErrorCode {
    InvalidInput,
    EmailTaken,
    PasswordMismatch,
    PasswordTooWeak,
    InvalidCredentials,
    AccountDisabled,
    InvalidToken,
    NotFound,
    ProductUnavailable,
    InsufficientStock,
    InvalidQuantity,
    CartEmpty,
    InvalidStatusTransition,
    PaymentRequired,
    PaymentDeclined,
    AlreadyPaid,
    InvalidImage,
    SkuTaken,
    SlugTaken,
    DuplicateVariant,
    CategoryCycle,
    CategoryNotEmpty,
    VariantRequired,
    LastVariant,
    WishlistFull,
    AddressLimit,
    ReviewNotAllowed,
    CouponInvalid,
    CouponExpired,
    CouponUsageLimit,
    CouponMinSubtotal,
    CodeTaken,
    InvalidUrl,
}

/// An expected, user-correctable failure of a mutation.
#[derive(SimpleObject, Clone, Debug)]
pub struct UserError {
    /// Path to the input field at fault, e.g. ["input", "email"]; null when no single
    /// field is at fault.
    pub field: Option<Vec<String>>,
    pub message: String,
    pub code: UserErrorCode,
    /// The cart line at fault, when it is one: the GraphQL edge turns it into the field
    /// path `["cart", <CartItem id>]` (services never build global ids).
    #[graphql(skip)]
    pub cart_line: Option<i64>,
}

impl UserError {
    pub(crate) fn new(code: UserErrorCode, message: impl Into<String>) -> Self {
        Self {
            field: None,
            message: message.into(),
            code,
            cart_line: None,
        }
    }

    /// A user error about `input.<field>`; `field` may be a dotted path into a nested
    /// input (`address.countryCode`), or empty for the input as a whole.
    pub(crate) fn on_input(code: UserErrorCode, field: &str, message: impl Into<String>) -> Self {
        let path = std::iter::once("input").chain(field.split('.').filter(|p| !p.is_empty()));
        Self {
            field: Some(path.map(str::to_owned).collect()),
            message: message.into(),
            code,
            cart_line: None,
        }
    }

    /// A user error about one line of the cart.
    pub(crate) fn on_cart_line(
        code: UserErrorCode,
        line_id: i64,
        message: impl Into<String>,
    ) -> Self {
        Self {
            cart_line: Some(line_id),
            ..Self::new(code, message)
        }
    }
}

/// Deliberately not `Display`: async-graphql converts every `Display` type into an error
/// carrying its text, which would bypass [`AppError::into_graphql`] and could leak SQL.
#[derive(Debug)]
pub enum AppError {
    User(UserError),
    Unauthenticated,
    Forbidden,
    BadUserInput(String),
    RateLimited { retry_after: u64 },
    Database(diesel::result::Error),
    Internal(String),
}

impl From<diesel::result::Error> for AppError {
    fn from(err: diesel::result::Error) -> Self {
        AppError::Database(err)
    }
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        AppError::Internal(message.into())
    }

    pub(crate) fn user(code: UserErrorCode, message: impl Into<String>) -> Self {
        AppError::User(UserError::new(code, message))
    }

    pub(crate) fn input(code: UserErrorCode, field: &str, message: impl Into<String>) -> Self {
        AppError::User(UserError::on_input(code, field, message))
    }

    pub(crate) fn bad_input(message: impl Into<String>) -> Self {
        AppError::BadUserInput(message.into())
    }

    /// The request-error exit: the only conversion from `AppError` to what a client sees.
    pub(crate) fn into_graphql(self) -> async_graphql::Error {
        let (code, message) = match &self {
            // A user error reaching this exit came from a field that has no payload
            // (a query); it is still the client's to correct.
            AppError::User(e) => ("BAD_USER_INPUT", e.message.clone()),
            AppError::Unauthenticated => ("UNAUTHENTICATED", "authentication required".to_owned()),
            AppError::Forbidden => ("FORBIDDEN", "not allowed for this role".to_owned()),
            AppError::BadUserInput(m) => ("BAD_USER_INPUT", m.clone()),
            AppError::RateLimited { retry_after } => (
                "RATE_LIMITED",
                format!("too many attempts, retry in {retry_after} s"),
            ),
            AppError::Database(_) | AppError::Internal(_) => {
                tracing::error!(error = ?self, "request failed");
                ("INTERNAL_SERVER_ERROR", "internal server error".to_owned())
            }
        };
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", code);
            if let AppError::RateLimited { retry_after } = &self {
                ext.set("retryAfter", *retry_after);
            }
        })
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        err.into_graphql()
    }
}
