//! Turning a service result into a mutation payload: user errors become `userErrors`,
//! everything else a request error.

use crate::error::{AppError, UserError};
use crate::graphql::ids::{NodeKind, encode_id};

/// `Ok` → the value and no user errors; a user error → no value and that error; any
/// other error → a request error for the top-level `errors` list.
pub(crate) fn split<T>(
    result: Result<T, AppError>,
) -> async_graphql::Result<(Option<T>, Vec<UserError>)> {
    match result {
        Ok(value) => Ok((Some(value), Vec::new())),
        Err(AppError::User(error)) => Ok((None, vec![with_field_path(error)])),
        Err(other) => Err(other.into_graphql()),
    }
}

/// Gives an error about a cart line its field path, with the line's global id.
fn with_field_path(mut error: UserError) -> UserError {
    if let Some(line) = error.cart_line {
        error.field = Some(vec![
            "cart".to_owned(),
            encode_id(NodeKind::CartItem, line).0,
        ]);
    }
    error
}
