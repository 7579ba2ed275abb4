//! Turning a service result into a mutation payload: user errors become `userErrors`,
//! everything else a request error.

use crate::error::{AppError, UserError};

/// `Ok` → the value and no user errors; a user error → no value and that error; any
/// other error → a request error for the top-level `errors` list.
pub fn split<T>(result: Result<T, AppError>) -> async_graphql::Result<(Option<T>, Vec<UserError>)> {
    match result {
        Ok(value) => Ok((Some(value), Vec::new())),
        Err(AppError::User(error)) => Ok((None, vec![error])),
        Err(other) => Err(other.into_graphql()),
    }
}
