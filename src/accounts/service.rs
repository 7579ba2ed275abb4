//! Account rules: registration, sign-in, token rotation, profile and role management.

use std::net::IpAddr;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::QueryResult;

use std::sync::Arc;

use super::model::{NewUser, Role, UserListFilter, UserRow};
use super::password_reset::ResetMail;
use super::passwords::{Hasher, check_password_rules};
use super::rate_limit::RateLimits;
use super::repo;
use super::tokens::{Claims, TokenKeys, hash_refresh_token};
use super::viewer_cache::ViewerCache;
use crate::db::keyset::Page;
use crate::db::{Conn, Db, is_unique_violation, now};
use crate::error::{AppError, AppResult, UserErrorCode};
use crate::random::random_token;

/// The accounts room: users, sessions and tokens, and what guards them (the password
/// hasher, the token keys, the sign-in rate limits).
#[derive(Clone)]
pub struct Accounts {
    pub(super) db: Db,
    pub(super) hasher: Hasher,
    tokens: Arc<TokenKeys>,
    pub(super) limits: Arc<RateLimits>,
    ttls: SessionTtls,
    pub(super) reset: ResetMail,
    pub(super) viewers: ViewerCache,
}

/// How long tokens live, in seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionTtls {
    pub access_secs: u64,
    pub refresh_secs: u64,
}

pub(crate) const MAX_EMAIL_LEN: usize = 254;
pub(crate) const MAX_NAME_CHARS: usize = 100;
pub(crate) const MAX_PHONE_CHARS: usize = 32;

/// A signed-in session: the user and a fresh token pair.
pub(crate) struct Session {
    pub user: UserRow,
    pub access_token: String,
    pub access_token_expires_at: NaiveDateTime,
    pub refresh_token: String,
    pub refresh_token_expires_at: NaiveDateTime,
}

pub(crate) struct Registration {
    pub email: String,
    pub password: String,
    pub password_confirmation: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: Option<String>,
}

/// Trimmed, lower-cased and syntactically checked: `local@domain.tld`, at most 254
/// characters, no spaces or control characters.
pub(crate) fn normalize_email(raw: &str, field: &str) -> AppResult<String> {
    let email = raw.trim().to_lowercase();
    let invalid = || {
        AppError::input(
            UserErrorCode::InvalidInput,
            field,
            "email is not a valid address",
        )
    };
    if email.len() > MAX_EMAIL_LEN {
        return Err(AppError::input(
            UserErrorCode::InvalidInput,
            field,
            format!("email must be at most {MAX_EMAIL_LEN} characters"),
        ));
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let valid = !local.is_empty()
        && local.len() <= 64
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain.contains('.')
        && !domain.contains("..")
        && !domain.contains('@')
        && email.chars().all(|c| {
            !c.is_whitespace()
                && !c.is_control()
                && !matches!(c, '<' | '>' | ',' | ';' | '"' | '\\')
        });
    if valid { Ok(email) } else { Err(invalid()) }
}

/// A trimmed name of 1..=100 characters.
pub(crate) fn check_name(raw: &str, field: &str) -> AppResult<String> {
    let name = raw.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AppError::input(
            UserErrorCode::InvalidInput,
            field,
            format!("{field} must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(name.to_owned())
}

/// Digits, spaces and `+-()`, at most 32 characters; empty means none.
pub(crate) fn check_phone(raw: &str, field: &str) -> AppResult<Option<String>> {
    let phone = raw.trim();
    if phone.is_empty() {
        return Ok(None);
    }
    let ok = phone.chars().count() <= MAX_PHONE_CHARS
        && phone.chars().any(|c| c.is_ascii_digit())
        && phone
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')'));
    if ok {
        Ok(Some(phone.to_owned()))
    } else {
        Err(AppError::input(
            UserErrorCode::InvalidInput,
            field,
            format!("phone must be at most {MAX_PHONE_CHARS} digits, spaces or +-()"),
        ))
    }
}

pub(crate) struct ProfileChanges {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
}

impl Accounts {
    pub(crate) fn new(
        db: Db,
        hasher: Hasher,
        tokens: TokenKeys,
        limits: RateLimits,
        ttls: SessionTtls,
        reset: ResetMail,
        viewers: ViewerCache,
    ) -> Self {
        Accounts {
            db,
            hasher,
            tokens: Arc::new(tokens),
            limits: Arc::new(limits),
            ttls,
            reset,
            viewers,
        }
    }

    /// The sign-in rate limits, for the task that forgets recovered keys.
    pub(crate) fn rate_limits(&self) -> std::sync::Weak<RateLimits> {
        Arc::downgrade(&self.limits)
    }

    /// The claims of a genuine, unexpired access token.
    pub(crate) fn verify_access_token(&self, token: &str) -> Option<Claims> {
        self.tokens.verify(token)
    }

    pub(crate) async fn user(&self, id: i64) -> AppResult<Option<UserRow>> {
        self.db.run(async |c| repo::find_user(c, id).await).await
    }

    /// A page of users, newest first.
    pub(crate) async fn users(
        &self,
        filter: &UserListFilter,
        page: &Page<NaiveDateTime>,
    ) -> AppResult<Vec<UserRow>> {
        self.db
            .run(async |c| repo::list_users(c, filter, page).await)
            .await
    }

    pub(crate) async fn count_users(&self, filter: &UserListFilter) -> AppResult<i64> {
        self.db
            .run(async |c| repo::count_users(c, filter).await)
            .await
    }

    /// The user of an access token's claims if they may still act: active, not deleted.
    /// The user a token names, if active: from the viewer cache, or read (and kept).
    pub(crate) async fn active_user(&self, claims: &Claims) -> AppResult<Option<Arc<UserRow>>> {
        let Some(user_id) = claims.user_id() else {
            return Ok(None);
        };
        let user = match self.viewers.get(user_id) {
            Some(user) => user,
            None => {
                let ticket = self.viewers.ticket();
                let read = self
                    .db
                    .run(async |c| repo::find_user(c, user_id).await)
                    .await?;
                let Some(user) = read else {
                    return Ok(None);
                };
                let user = Arc::new(user);
                self.viewers.put(ticket, user.clone());
                user
            }
        };
        Ok(user.is_active.then_some(user))
    }

    pub(crate) async fn register(
        &self,
        client: Option<IpAddr>,
        input: Registration,
    ) -> AppResult<Session> {
        self.limits.check_address(client).await?;
        let email = normalize_email(&input.email, "email")?;
        let first_name = check_name(&input.first_name, "firstName")?;
        let last_name = check_name(&input.last_name, "lastName")?;
        let phone = check_phone(input.phone.as_deref().unwrap_or(""), "phone")?;
        if input.password != input.password_confirmation {
            return Err(AppError::input(
                UserErrorCode::PasswordMismatch,
                "passwordConfirmation",
                "passwords do not match",
            ));
        }
        check_password_rules(&input.password, &email, "password")?;
        let password_hash = self.hasher.hash(&input.password).await?;
        let now = now();
        let new_user = NewUser {
            email: &email,
            password_hash: &password_hash,
            first_name: &first_name,
            last_name: &last_name,
            phone: phone.as_deref(),
            role: Role::Customer.as_str(),
            is_active: true,
            created_at: now,
            updated_at: now,
        };
        self.db
            .transaction(async |tx| {
                let user = repo::insert_user(tx, &new_user).await.map_err(|e| {
                    if is_unique_violation(&e) {
                        AppError::input(
                            UserErrorCode::EmailTaken,
                            "email",
                            "this email is already registered",
                        )
                    } else {
                        e.into()
                    }
                })?;
                self.start_session(tx, user, now).await
            })
            .await
    }

    /// Signs in. Rate-limited per client address, and per email after repeated failures
    /// (while an email is locked even the right password is refused).
    pub(crate) async fn login(
        &self,
        client: Option<IpAddr>,
        email: &str,
        password: &str,
    ) -> AppResult<Session> {
        self.limits.check_address(client).await?;
        let invalid = || {
            AppError::user(
                UserErrorCode::InvalidCredentials,
                "invalid email or password",
            )
        };
        let email = email.trim().to_lowercase();
        self.limits.check_email(&email).await?;
        let user = if email.len() <= MAX_EMAIL_LEN {
            // The connection goes back to the pool before hashing: a burst of logins queued
            // on bcrypt must not hold connections that other requests need.
            self.db
                .run(async |c| repo::find_user_by_email(c, &email).await)
                .await?
        } else {
            None
        };
        // Always one bcrypt verification, so an unknown email costs what a wrong password does.
        let matches = self
            .hasher
            .verify(password, user.as_ref().map(|u| u.password_hash.as_str()))
            .await?;
        let user = match user {
            Some(user) if matches => user,
            _ => {
                self.limits.record_failure(&email).await?;
                return Err(invalid());
            }
        };
        if !user.is_active {
            return Err(AppError::user(
                UserErrorCode::AccountDisabled,
                "this account is disabled",
            ));
        }
        let now = now();
        self.db
            .transaction(async |tx| self.start_session(tx, user, now).await)
            .await
    }

    /// Exchanges a refresh token for a new pair. A token that was already exchanged means
    /// it leaked (or a client misbehaves): the whole session is revoked.
    pub(crate) async fn refresh(
        &self,
        client: Option<IpAddr>,
        refresh_token: &str,
    ) -> AppResult<Session> {
        self.limits.check_address(client).await?;
        let invalid = || {
            AppError::input(
                UserErrorCode::InvalidToken,
                "refreshToken",
                "invalid or expired refresh token",
            )
        };
        let hash = hash_refresh_token(refresh_token);
        let now = now();
        let found = self
            .db
            .run(async |c| {
                let Some((token, session)) = repo::find_refresh_token(c, &hash).await? else {
                    return Ok(None);
                };
                let user = repo::find_user(c, session.user_id).await?;
                QueryResult::Ok(user.map(|user| (token, session, user)))
            })
            .await?;
        let Some((token, session, user)) = found else {
            return Err(invalid());
        };
        // Deactivation also revokes sessions; the user is told why rather than "invalid".
        if !user.is_active {
            return Err(AppError::user(
                UserErrorCode::AccountDisabled,
                "this account is disabled",
            ));
        }
        if session.revoked_at.is_some() || session.expires_at <= now {
            return Err(invalid());
        }
        let rotated = self
            .db
            .transaction(async |tx| {
                if !repo::mark_token_rotated(tx, token.id, now).await? {
                    return Ok::<_, AppError>(None);
                }
                let refresh_token = random_token();
                repo::insert_refresh_token(
                    tx,
                    session.id,
                    &hash_refresh_token(&refresh_token),
                    now,
                )
                .await?;
                Ok(Some(refresh_token))
            })
            .await?;
        let Some(new_refresh_token) = rotated else {
            // Reuse detected: revoke outside the (rolled back) transaction so it sticks.
            self.db
                .run(async |c| repo::revoke_session(c, session.id, now).await)
                .await?;
            tracing::warn!(
                session_id = session.id,
                "rotated refresh token presented again; session revoked"
            );
            return Err(invalid());
        };
        let (access_token, access_token_expires_at) =
            self.issue_access_token(&user, session.id, now);
        Ok(Session {
            user,
            access_token,
            access_token_expires_at,
            refresh_token: new_refresh_token,
            refresh_token_expires_at: session.expires_at,
        })
    }

    /// Revokes the session of `refresh_token`, or every session of its user.
    pub(crate) async fn logout(&self, refresh_token: &str, everywhere: bool) -> AppResult<()> {
        let hash = hash_refresh_token(refresh_token);
        let now = now();
        let found = self
            .db
            .run(async |c| {
                let Some((_, session)) = repo::find_refresh_token(c, &hash).await? else {
                    return Ok(false);
                };
                if everywhere {
                    repo::revoke_user_sessions(c, session.user_id, now).await?;
                } else {
                    repo::revoke_session(c, session.id, now).await?;
                }
                QueryResult::Ok(true)
            })
            .await?;
        if !found {
            return Err(AppError::input(
                UserErrorCode::InvalidToken,
                "refreshToken",
                "invalid refresh token",
            ));
        }
        Ok(())
    }

    pub(crate) async fn update_profile(
        &self,
        user: &UserRow,
        changes: ProfileChanges,
    ) -> AppResult<UserRow> {
        let first_name = match &changes.first_name {
            Some(name) => check_name(name, "firstName")?,
            None => user.first_name.clone(),
        };
        let last_name = match &changes.last_name {
            Some(name) => check_name(name, "lastName")?,
            None => user.last_name.clone(),
        };
        let phone = match &changes.phone {
            Some(phone) => check_phone(phone, "phone")?,
            None => user.phone.clone(),
        };
        let now = now();
        let updated = self
            .db
            .run(async |c| {
                repo::update_profile(c, user.id, &first_name, &last_name, phone.as_deref(), now)
                    .await
            })
            .await?;
        self.viewers.changed(user.id).await;
        Ok(updated)
    }

    /// Sets a new password, revokes every session (the caller's too) and signs in afresh.
    pub(crate) async fn change_password(
        &self,
        client: Option<IpAddr>,
        user: &UserRow,
        current: &str,
        new: &str,
    ) -> AppResult<Session> {
        self.limits.check_address(client).await?;
        self.limits.check_email(&user.email).await?;
        // The hash as it is now, not as the viewer cache remembers it: a password just
        // reset through another process must not be checked against the old one.
        let stored = self
            .db
            .run(async |c| repo::find_user(c, user.id).await)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if !self
            .hasher
            .verify(current, Some(&stored.password_hash))
            .await?
        {
            self.limits.record_failure(&user.email).await?;
            return Err(AppError::input(
                UserErrorCode::InvalidCredentials,
                "currentPassword",
                "the current password is wrong",
            ));
        }
        check_password_rules(new, &user.email, "newPassword")?;
        let password_hash = self.hasher.hash(new).await?;
        let now = now();
        let session = self
            .db
            .transaction(async |tx| {
                repo::update_password(tx, user.id, &password_hash, now).await?;
                repo::revoke_user_sessions(tx, user.id, now).await?;
                super::password_reset::void_resets(tx, user.id, now).await?;
                let user = repo::find_user(tx, user.id)
                    .await?
                    .ok_or(AppError::Unauthenticated)?;
                self.start_session(tx, user, now).await
            })
            .await?;
        self.viewers.changed(user.id).await;
        Ok(session)
    }

    /// An admin changes another user's role.
    pub(crate) async fn set_role(
        &self,
        admin: &UserRow,
        user_id: Option<i64>,
        role: Role,
    ) -> AppResult<UserRow> {
        let user_id = target_user(admin, user_id, "demote")?;
        let now = now();
        let user = self
            .db
            .run(async |c| repo::set_role(c, user_id, role, now).await)
            .await?
            .ok_or_else(user_not_found)?;
        self.viewers.changed(user_id).await;
        Ok(user)
    }

    /// An admin (de)activates another user; deactivation also ends their sessions.
    pub(crate) async fn set_active(
        &self,
        admin: &UserRow,
        user_id: Option<i64>,
        is_active: bool,
    ) -> AppResult<UserRow> {
        let user_id = target_user(admin, user_id, "deactivate")?;
        let now = now();
        let user = self
            .db
            .transaction(async |tx| {
                let user = repo::set_active(tx, user_id, is_active, now)
                    .await?
                    .ok_or_else(user_not_found)?;
                if !is_active {
                    repo::revoke_user_sessions(tx, user_id, now).await?;
                }
                Ok::<_, AppError>(user)
            })
            .await?;
        self.viewers.changed(user_id).await;
        Ok(user)
    }

    /// Creates a session with its first refresh token, and an access token for it.
    pub(super) async fn start_session(
        &self,
        tx: &mut Conn<'_>,
        user: UserRow,
        now: NaiveDateTime,
    ) -> AppResult<Session> {
        let refresh_token_expires_at = now + ttl(self.ttls.refresh_secs);
        let session_id = repo::insert_session(tx, user.id, now, refresh_token_expires_at).await?;
        let refresh_token = random_token();
        repo::insert_refresh_token(tx, session_id, &hash_refresh_token(&refresh_token), now)
            .await?;
        let (access_token, access_token_expires_at) =
            self.issue_access_token(&user, session_id, now);
        Ok(Session {
            user,
            access_token,
            access_token_expires_at,
            refresh_token,
            refresh_token_expires_at,
        })
    }

    fn issue_access_token(
        &self,
        user: &UserRow,
        session_id: i64,
        now: NaiveDateTime,
    ) -> (String, NaiveDateTime) {
        let expires_at = now + ttl(self.ttls.access_secs);
        let token = self.tokens.issue(&Claims {
            sub: user.id.to_string(),
            sid: session_id,
            iat: now.and_utc().timestamp(),
            exp: expires_at.and_utc().timestamp(),
        });
        (token, expires_at)
    }

    /// Creates an admin, or promotes (and re-activates, with the given password) an existing
    /// user: the `create-admin` command.
    pub async fn create_admin(&self, email: &str, password: &str) -> AppResult<UserRow> {
        let email = normalize_email(email, "email")?;
        check_password_rules(password, &email, "password")?;
        let password_hash = self.hasher.hash(password).await?;
        let now = now();
        let admin = self
            .db
            .transaction(async |tx| {
                if let Some(existing) = repo::find_user_by_email(tx, &email).await? {
                    repo::update_password(tx, existing.id, &password_hash, now).await?;
                    repo::set_active(tx, existing.id, true, now).await?;
                    return repo::set_role(tx, existing.id, Role::Admin, now)
                        .await?
                        .ok_or_else(user_not_found);
                }
                let admin = NewUser {
                    email: &email,
                    password_hash: &password_hash,
                    first_name: "Admin",
                    last_name: "Admin",
                    phone: None,
                    role: Role::Admin.as_str(),
                    is_active: true,
                    created_at: now,
                    updated_at: now,
                };
                Ok(repo::insert_user(tx, &admin).await?)
            })
            .await?;
        self.viewers.changed(admin.id).await;
        Ok(admin)
    }
}

fn target_user(admin: &UserRow, user_id: Option<i64>, verb: &str) -> AppResult<i64> {
    let user_id = user_id.ok_or_else(user_not_found)?;
    if user_id == admin.id {
        return Err(AppError::input(
            UserErrorCode::InvalidInput,
            "userId",
            format!("admins cannot {verb} themselves"),
        ));
    }
    Ok(user_id)
}

fn user_not_found() -> AppError {
    AppError::input(UserErrorCode::NotFound, "userId", "no such user")
}

fn ttl(secs: u64) -> TimeDelta {
    // Capped at ten years: a larger setting means "practically forever" and must not overflow.
    TimeDelta::seconds(secs.min(10 * 365 * 24 * 3600) as i64)
}
