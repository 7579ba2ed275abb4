//! Rate limits of the sign-in mutations: per client address, and per email after
//! repeated failures. The state is in the database (`rate_limits`), so every process on
//! it enforces one shared limit: with N processes behind a load balancer an attacker
//! still gets the configured number of attempts, not N times it.
//!
//! Each key is a GCRA (the generic cell rate algorithm, as in governor): a limit of `n`
//! per `window` lets `n` attempts through at once and then one every `window / n`. Its
//! whole state is one time, the *theoretical arrival time* (TAT); an attempt at `now`
//! moves it to `max(tat, now) + window / n` and is allowed while that stays within a
//! window of `now`. The check and the move are one conditional upsert, so concurrent
//! attempts from any process are counted exactly once each (PostgreSQL locks the row,
//! SQLite has one writer). A refused attempt changes nothing.

use std::net::IpAddr;
use std::time::Duration;

use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{OptionalExtension, QueryableByName};
use diesel_async::RunQueryDsl;

use crate::db::{Db, db_run};
use crate::error::AppError;

/// The window of the per-email failure allowance.
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// The window of the per-address allowance.
const ADDRESS_WINDOW: Duration = Duration::from_secs(60);

/// `n` attempts per window; `interval` = window / n, in microseconds.
#[derive(Debug, Clone, Copy)]
struct Quota {
    n: i64,
    interval: i64,
}

impl Quota {
    fn new(n: u32, window: Duration) -> Option<Quota> {
        (n > 0).then(|| Quota {
            n: i64::from(n),
            interval: (window.as_micros() / u128::from(n)) as i64,
        })
    }

    fn window(&self) -> i64 {
        self.n * self.interval
    }
}

#[derive(Clone)]
pub(crate) struct RateLimits {
    db: Db,
    per_address: Option<Quota>,
    failures_per_email: Option<Quota>,
}

#[derive(QueryableByName)]
struct Tat {
    #[diesel(sql_type = BigInt)]
    tat: i64,
}

#[derive(QueryableByName)]
struct Lock {
    #[diesel(sql_type = Nullable<BigInt>)]
    locked_until: Option<i64>,
}

impl RateLimits {
    /// `per_address` attempts per minute from one address, `login_failures` failed
    /// sign-ins per email in 15 minutes; 0 turns a limit off.
    pub(crate) fn new(db: Db, per_address: u32, login_failures: u32) -> Self {
        RateLimits {
            db,
            per_address: Quota::new(per_address, ADDRESS_WINDOW),
            failures_per_email: Quota::new(login_failures, FAILURE_WINDOW),
        }
    }

    /// Counts one attempt from `addr`; `RATE_LIMITED` past the allowance.
    pub(crate) async fn check_address(&self, addr: Option<IpAddr>) -> Result<(), AppError> {
        let (Some(quota), Some(addr)) = (self.per_address, addr) else {
            return Ok(());
        };
        let key = format!("address:{addr}");
        match self.take(&key, quota).await? {
            None => Ok(()),
            Some(wait) => {
                crate::telemetry::metrics::rate_limited("address");
                Err(AppError::RateLimited {
                    retry_after: seconds(wait),
                })
            }
        }
    }

    /// `RATE_LIMITED` while the email is locked after too many failures.
    pub(crate) async fn check_email(&self, email: &str) -> Result<(), AppError> {
        if self.failures_per_email.is_none() {
            return Ok(());
        }
        let key = email_key(email);
        let now = now_micros();
        let lock: Option<Lock> = self
            .db
            .run(async |c| {
                db_run!(c,
                    sqlite c => diesel::sql_query("SELECT locked_until FROM rate_limits WHERE key = ?")
                        .bind::<Text, _>(&key)
                        .get_result(c)
                        .await,
                    postgres c => diesel::sql_query("SELECT locked_until FROM rate_limits WHERE key = $1")
                        .bind::<Text, _>(&key)
                        .get_result(c)
                        .await,
                )
                .optional()
            })
            .await?;
        match lock.and_then(|lock| lock.locked_until) {
            Some(until) if until > now => {
                crate::telemetry::metrics::rate_limited("email");
                Err(AppError::RateLimited {
                    retry_after: seconds(until - now),
                })
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed sign-in; the failure that exceeds the allowance locks the email
    /// (for one interval: then one more attempt may fail) and is answered `RATE_LIMITED`
    /// itself.
    pub(crate) async fn record_failure(&self, email: &str) -> Result<(), AppError> {
        let Some(quota) = self.failures_per_email else {
            return Ok(());
        };
        let key = email_key(email);
        if self.take(&key, quota).await?.is_none() {
            return Ok(());
        }
        let until = now_micros() + quota.interval;
        self.db
            .run(async |c| {
                db_run!(c,
                    sqlite c => diesel::sql_query("UPDATE rate_limits SET locked_until = ? WHERE key = ?")
                        .bind::<BigInt, _>(until)
                        .bind::<Text, _>(&key)
                        .execute(c)
                        .await,
                    postgres c => diesel::sql_query("UPDATE rate_limits SET locked_until = $1 WHERE key = $2")
                        .bind::<BigInt, _>(until)
                        .bind::<Text, _>(&key)
                        .execute(c)
                        .await,
                )
            })
            .await?;
        crate::telemetry::metrics::rate_limited("email");
        Err(AppError::RateLimited {
            retry_after: seconds(quota.interval),
        })
    }

    /// One attempt against `key`'s allowance: `None` when it is taken, or how long
    /// (in microseconds) until the next one would be.
    async fn take(&self, key: &str, quota: Quota) -> Result<Option<i64>, AppError> {
        let now = now_micros();
        let (interval, window) = (quota.interval, quota.window());
        self.db
            .run(async |c| {
                let taken: Option<Tat> = db_run!(c,
                    sqlite c => diesel::sql_query(
                        "INSERT INTO rate_limits (key, tat) VALUES (?, ? + ?) \
                         ON CONFLICT (key) DO UPDATE \
                           SET tat = MAX(rate_limits.tat, ?) + ? \
                           WHERE MAX(rate_limits.tat, ?) + ? - ? <= ? \
                         RETURNING tat",
                    )
                    .bind::<Text, _>(key)
                    .bind::<BigInt, _>(now)
                    .bind::<BigInt, _>(interval)
                    .bind::<BigInt, _>(now)
                    .bind::<BigInt, _>(interval)
                    .bind::<BigInt, _>(now)
                    .bind::<BigInt, _>(interval)
                    .bind::<BigInt, _>(now)
                    .bind::<BigInt, _>(window)
                    .get_result(c)
                    .await,
                    postgres c => crate::db::fixed_sql::FixedSql(diesel::sql_query(
                        "INSERT INTO rate_limits (key, tat) VALUES ($1, $2 + $3) \
                         ON CONFLICT (key) DO UPDATE \
                           SET tat = GREATEST(rate_limits.tat, $2) + $3 \
                           WHERE GREATEST(rate_limits.tat, $2) + $3 - $2 <= $4 \
                         RETURNING tat",
                    )
                    .bind::<Text, _>(key)
                    .bind::<BigInt, _>(now)
                    .bind::<BigInt, _>(interval)
                    .bind::<BigInt, _>(window))
                    .get_result(c)
                    .await,
                )
                .optional()?;
                if taken.is_some() {
                    return Ok(None);
                }
                // Refused: the row is a full window ahead (unless a prune took it since;
                // then the wait is one interval).
                let current: Option<Tat> = db_run!(c,
                    sqlite c => diesel::sql_query("SELECT tat FROM rate_limits WHERE key = ?")
                        .bind::<Text, _>(key)
                        .get_result(c)
                        .await,
                    postgres c => diesel::sql_query("SELECT tat FROM rate_limits WHERE key = $1")
                        .bind::<Text, _>(key)
                        .get_result(c)
                        .await,
                )
                .optional()?;
                let wait = current.map_or(interval, |current| {
                    current.tat.max(now) + interval - window - now
                });
                Ok::<_, diesel::result::Error>(Some(wait))
            })
            .await
    }

    /// Forgets keys that have fully recovered (their TAT has passed and no lock holds),
    /// so the table stays as small as the set of recent attempts.
    pub(crate) async fn prune(&self) -> Result<usize, AppError> {
        let now = now_micros();
        self.db
            .run(async |c| {
                db_run!(c,
                    sqlite c => diesel::sql_query(
                        "DELETE FROM rate_limits WHERE tat < ? \
                         AND (locked_until IS NULL OR locked_until < ?)",
                    )
                    .bind::<BigInt, _>(now)
                    .bind::<BigInt, _>(now)
                    .execute(c)
                    .await,
                    postgres c => diesel::sql_query(
                        "DELETE FROM rate_limits WHERE tat < $1 \
                         AND (locked_until IS NULL OR locked_until < $1)",
                    )
                    .bind::<BigInt, _>(now)
                    .execute(c)
                    .await,
                )
            })
            .await
    }
}

fn email_key(email: &str) -> String {
    format!("email:{email}")
}

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Whole seconds to wait, at least one.
fn seconds(wait_micros: i64) -> u64 {
    (wait_micros.max(1) as u64).div_ceil(1_000_000)
}
