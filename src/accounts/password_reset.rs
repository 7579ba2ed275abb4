//! Password reset by mail: `requestPasswordReset` queues a mail with a single-use link,
//! `resetPassword` takes the token back, sets the password and ends every session.
//!
//! The token is never stored: the `password_resets` row holds its SHA-256, and the
//! outbox row of the mail only the salt it is derived from (`mail::sealed`). A request
//! for an address with no active account answers the same, and no sooner: every answer
//! waits until [`ANSWER_AFTER`] has passed since the request came, which hides the few
//! statements that only an account's request runs. Nor does the rate limit tell them
//! apart: every email, with an account or not, has the same allowance.

use std::net::IpAddr;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::passwords::check_password_rules;
use super::repo;
use super::service::{Accounts, Session, normalize_email};
use super::tokens::hash_refresh_token as hash_token;
use crate::db::schema::password_resets;
use crate::db::{Conn, db_run, now};
use crate::error::{AppError, AppResult, UserErrorCode};
use crate::mail::sealed::TokenSeal;
use crate::mail::templates::{self, Recipient};
use crate::mail::{MailQueue, outbox};

/// What the reset mail needs: the key that derives its token, the link's shape, the
/// token's lifetime, and the worker to wake.
#[derive(Clone, Debug)]
pub(crate) struct ResetMail {
    pub seal: TokenSeal,
    /// PASSWORD_RESET_URL, with `{token}`.
    pub url: String,
    pub ttl_secs: u64,
    pub queue: MailQueue,
}

/// The least time a `requestPasswordReset` takes: more than its statements take on a
/// healthy database, so that no answer comes sooner for an email without an account.
const ANSWER_AFTER: std::time::Duration = std::time::Duration::from_millis(250);

fn invalid_token() -> AppError {
    AppError::input(
        UserErrorCode::InvalidToken,
        "token",
        "this reset link is not valid: it was used, replaced by a newer one, or expired",
    )
}

/// Voids the user's unused reset tokens.
pub(super) async fn void_resets(
    conn: &mut Conn<'_>,
    user_id: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    db_run!(conn, c => diesel::update(
        password_resets::table
            .filter(password_resets::user_id.eq(user_id))
            .filter(password_resets::used_at.is_null())
            .filter(password_resets::voided_at.is_null())
    )
    .set(password_resets::voided_at.eq(now))
    .execute(c)
    .await)
}

/// The user of a token that is neither used, voided nor expired.
async fn usable_reset(
    conn: &mut Conn<'_>,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<(i64, i64)>> {
    db_run!(conn, c => password_resets::table
        .filter(password_resets::token_hash.eq(token_hash))
        .filter(password_resets::used_at.is_null())
        .filter(password_resets::voided_at.is_null())
        .filter(password_resets::expires_at.gt(now))
        .select((password_resets::id, password_resets::user_id))
        .first(c)
        .await
        .optional())
}

/// Uses the token up, if it still is usable: of two concurrent uses one updates the
/// row, the other finds it used (PostgreSQL re-checks the conditions after the first
/// commits; SQLite runs the two one after the other).
async fn use_reset(conn: &mut Conn<'_>, id: i64, now: NaiveDateTime) -> QueryResult<bool> {
    let updated = db_run!(conn, c => diesel::update(
        password_resets::table
            .filter(password_resets::id.eq(id))
            .filter(password_resets::used_at.is_null())
            .filter(password_resets::voided_at.is_null())
            .filter(password_resets::expires_at.gt(now))
    )
    .set(password_resets::used_at.eq(now))
    .execute(c)
    .await)?;
    Ok(updated == 1)
}

impl Accounts {
    /// `requestPasswordReset`: for an active account, voids its older tokens and queues
    /// a mail with a new one. The same answer for every well-formed email.
    pub(crate) async fn request_password_reset(
        &self,
        client: Option<IpAddr>,
        email: &str,
    ) -> AppResult<()> {
        let started = tokio::time::Instant::now();
        self.limits.check_address(client).await?;
        let email = normalize_email(email, "email")?;
        self.limits.check_email(&email).await?;
        // Every request counts against the email's allowance, so that nobody can fill
        // a mailbox with reset mails.
        self.limits.record_failure(&email).await?;
        let reset = &self.reset;
        let now = now();
        let queued = self
            .db
            .transaction(async |tx| {
                let Some(user) = repo::find_user_by_email(tx, &email).await? else {
                    return Ok(false);
                };
                if !user.is_active {
                    return Ok(false);
                }
                // Two requests at once: one voids the other's token, never both live.
                repo::lock_user(tx, user.id).await?;
                void_resets(tx, user.id, now).await?;
                let (salt, token) = reset.seal.new_token();
                let expires_at = now + TimeDelta::seconds(reset.ttl_secs as i64);
                db_run!(tx, c => diesel::insert_into(password_resets::table)
                    .values((
                        password_resets::user_id.eq(user.id),
                        password_resets::token_hash.eq(hash_token(&token)),
                        password_resets::created_at.eq(now),
                        password_resets::expires_at.eq(expires_at),
                    ))
                    .execute(c)
                    .await)?;
                let to = Recipient::of(&user);
                let mail =
                    templates::password_reset(&to, &reset.url, reset.ttl_secs.div_ceil(60), salt);
                outbox::queue(tx, &mail, now).await?;
                Ok::<_, AppError>(true)
            })
            .await?;
        if queued {
            reset.queue.queued();
        }
        tokio::time::sleep_until(started + ANSWER_AFTER).await;
        Ok(())
    }

    /// `resetPassword`: a usable token sets the password, is used up, revokes every
    /// session of its user, and signs in. A refused password leaves the token usable.
    pub(crate) async fn reset_password(
        &self,
        client: Option<IpAddr>,
        token: &str,
        new_password: &str,
    ) -> AppResult<Session> {
        self.limits.check_address(client).await?;
        let token_hash = hash_token(token.trim());
        let found = self
            .db
            .run(async |c| {
                let Some((id, user_id)) = usable_reset(c, &token_hash, now()).await? else {
                    return Ok(None);
                };
                Ok::<_, AppError>(repo::find_user(c, user_id).await?.map(|user| (id, user)))
            })
            .await?;
        let (reset_id, user) = found.ok_or_else(invalid_token)?;
        if !user.is_active {
            return Err(AppError::user(
                UserErrorCode::AccountDisabled,
                "this account is disabled",
            ));
        }
        check_password_rules(new_password, &user.email, "newPassword")?;
        let password_hash = self.hasher.hash(new_password).await?;
        let now = now();
        let session = self
            .db
            .transaction(async |tx| {
                if !use_reset(tx, reset_id, now).await? {
                    return Err(invalid_token());
                }
                repo::update_password(tx, user.id, &password_hash, now).await?;
                repo::revoke_user_sessions(tx, user.id, now).await?;
                void_resets(tx, user.id, now).await?;
                let user = repo::find_user(tx, user.id)
                    .await?
                    .ok_or_else(invalid_token)?;
                self.start_session(tx, user, now).await
            })
            .await?;
        self.viewers.changed(user.id).await;
        Ok(session)
    }
}
