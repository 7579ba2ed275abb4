//! Queries of the accounts tables.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::{NewUser, RefreshTokenRow, Role, SessionRow, UserListFilter, UserRow};
use crate::db::keyset::{self, Direction, Page};
use crate::db::schema::{refresh_tokens, sessions, users};
use crate::db::{Conn, contains_pattern, lower};
use crate::db::{db_run, keyset_page};

pub(crate) async fn insert_user(conn: &mut Conn<'_>, new: &NewUser<'_>) -> QueryResult<UserRow> {
    db_run!(conn, c => diesel::insert_into(users::table)
        .values(new)
        .returning(UserRow::as_returning())
        .get_result(c)
        .await)
}

pub(crate) async fn find_user(conn: &mut Conn<'_>, id: i64) -> QueryResult<Option<UserRow>> {
    db_run!(conn, c => users::table
        .find(id)
        .select(UserRow::as_select())
        .first(c)
        .await
        .optional())
}

/// Holds the user's row until the transaction ends, so that a customer's concurrent
/// writes to a list with a cap (wishlist, address book) count one after the other.
/// SQLite's write transactions already exclude each other.
pub(crate) async fn lock_user(conn: &mut Conn<'_>, id: i64) -> QueryResult<()> {
    db_run!(conn,
        sqlite _c => Ok(()),
        postgres c => users::table
            .find(id)
            .select(users::id)
            .for_update()
            .load::<i64>(c)
            .await
            .map(|_| ())
    )
}

pub(crate) async fn find_users(conn: &mut Conn<'_>, ids: &[i64]) -> QueryResult<Vec<UserRow>> {
    db_run!(conn, c => users::table
        .filter(users::id.eq_any(ids))
        .select(UserRow::as_select())
        .load(c)
        .await)
}

/// By email, case-insensitively (through the unique `lower(email)` index).
pub(crate) async fn find_user_by_email(
    conn: &mut Conn<'_>,
    email: &str,
) -> QueryResult<Option<UserRow>> {
    let email = email.to_lowercase();
    db_run!(conn, c => users::table
        .filter(lower(users::email).eq(&email))
        .select(UserRow::as_select())
        .first(c)
        .await
        .optional())
}

pub(crate) async fn update_profile(
    conn: &mut Conn<'_>,
    id: i64,
    first_name: &str,
    last_name: &str,
    phone: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<UserRow> {
    db_run!(conn, c => diesel::update(users::table.find(id))
        .set((
            users::first_name.eq(first_name),
            users::last_name.eq(last_name),
            users::phone.eq(phone),
            users::updated_at.eq(now),
        ))
        .returning(UserRow::as_returning())
        .get_result(c)
        .await)
}

pub(crate) async fn update_password(
    conn: &mut Conn<'_>,
    id: i64,
    password_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    db_run!(conn, c => diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(password_hash),
            users::updated_at.eq(now),
        ))
        .execute(c)
        .await)
}

pub(crate) async fn set_role(
    conn: &mut Conn<'_>,
    id: i64,
    role: Role,
    now: NaiveDateTime,
) -> QueryResult<Option<UserRow>> {
    db_run!(conn, c => diesel::update(users::table.find(id))
        .set((users::role.eq(role.as_str()), users::updated_at.eq(now)))
        .returning(UserRow::as_returning())
        .get_result(c)
        .await
        .optional())
}

pub(crate) async fn set_active(
    conn: &mut Conn<'_>,
    id: i64,
    is_active: bool,
    now: NaiveDateTime,
) -> QueryResult<Option<UserRow>> {
    db_run!(conn, c => diesel::update(users::table.find(id))
        .set((users::is_active.eq(is_active), users::updated_at.eq(now)))
        .returning(UserRow::as_returning())
        .get_result(c)
        .await
        .optional())
}

/// Applies a [`UserListFilter`] to a boxed users query (the page and the count share it).
macro_rules! filter_users {
    ($query:expr, $filter:expr, $pattern:expr) => {{
        let mut query = $query;
        if let Some(pattern) = $pattern {
            query = query.filter(
                lower(users::email)
                    .like(pattern)
                    .escape('\\')
                    .or(lower(users::first_name).like(pattern).escape('\\'))
                    .or(lower(users::last_name).like(pattern).escape('\\')),
            );
        }
        if let Some(role) = $filter.role {
            query = query.filter(users::role.eq(role.as_str()));
        }
        if let Some(active) = $filter.is_active {
            query = query.filter(users::is_active.eq(active));
        }
        query
    }};
}

/// One page of users, newest first (created_at, then id).
pub(crate) async fn list_users(
    conn: &mut Conn<'_>,
    filter: &UserListFilter,
    page: &Page<NaiveDateTime>,
) -> QueryResult<Vec<UserRow>> {
    let pattern = filter
        .search
        .as_deref()
        .map(|s| contains_pattern(&s.to_lowercase()));
    db_run!(conn, c => {
        let query = filter_users!(
            users::table.select(UserRow::as_select()).into_boxed(),
            filter,
            &pattern
        );
        // Newest first: reading forward is descending.
        let backward = page.direction == Direction::Backward;
        let query = keyset_page!(query, users::created_at, users::id, page.after, backward);
        keyset::limited(query, page.fetch_limit()).load(c).await
    })
}

pub(crate) async fn count_users(conn: &mut Conn<'_>, filter: &UserListFilter) -> QueryResult<i64> {
    let pattern = filter
        .search
        .as_deref()
        .map(|s| contains_pattern(&s.to_lowercase()));
    db_run!(conn, c => {
        let query = filter_users!(users::table.count().into_boxed(), filter, &pattern);
        query.get_result(c).await
    })
}

// Sessions and refresh tokens.

pub(crate) async fn insert_session(
    conn: &mut Conn<'_>,
    user_id: i64,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<i64> {
    db_run!(conn, c => diesel::insert_into(sessions::table)
        .values((
            sessions::user_id.eq(user_id),
            sessions::created_at.eq(now),
            sessions::expires_at.eq(expires_at),
        ))
        .returning(sessions::id)
        .get_result(c)
        .await)
}

pub(crate) async fn insert_refresh_token(
    conn: &mut Conn<'_>,
    session_id: i64,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    db_run!(conn, c => diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::session_id.eq(session_id),
            refresh_tokens::token_hash.eq(token_hash),
            refresh_tokens::created_at.eq(now),
        ))
        .execute(c)
        .await)
}

/// A refresh token by its hash, with its session.
pub(crate) async fn find_refresh_token(
    conn: &mut Conn<'_>,
    token_hash: &str,
) -> QueryResult<Option<(RefreshTokenRow, SessionRow)>> {
    db_run!(conn, c => refresh_tokens::table
        .inner_join(sessions::table)
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select((RefreshTokenRow::as_select(), SessionRow::as_select()))
        .first(c)
        .await
        .optional())
}

/// Marks a token rotated if it was not already: false means someone else rotated it
/// first (a concurrent or replayed refresh).
pub(crate) async fn mark_token_rotated(
    conn: &mut Conn<'_>,
    token_id: i64,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = db_run!(conn, c => diesel::update(
        refresh_tokens::table
            .find(token_id)
            .filter(refresh_tokens::rotated_at.is_null())
    )
    .set(refresh_tokens::rotated_at.eq(now))
    .execute(c)
    .await)?;
    Ok(changed == 1)
}

pub(crate) async fn revoke_session(
    conn: &mut Conn<'_>,
    session_id: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    db_run!(conn, c => diesel::update(
        sessions::table
            .find(session_id)
            .filter(sessions::revoked_at.is_null())
    )
    .set(sessions::revoked_at.eq(now))
    .execute(c)
    .await)
}

pub(crate) async fn revoke_user_sessions(
    conn: &mut Conn<'_>,
    user_id: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    db_run!(conn, c => diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null())
    )
    .set(sessions::revoked_at.eq(now))
    .execute(c)
    .await)
}
