//! Rate limits of the sign-in mutations: per client address, and per email after
//! repeated failures. Counting is governor's (GCRA); the state is in this process's
//! memory, so with several processes each enforces its own share (see README).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::AppError;

/// The window of the per-email failure allowance.
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

pub(crate) struct RateLimits {
    per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    failures_per_email: Option<(DefaultKeyedRateLimiter<String>, Duration)>,
    /// Emails whose failures ran out, and until when: while locked even the right
    /// password is refused (governor has no look-without-taking, so the lock is noted).
    locked: Mutex<HashMap<String, Instant>>,
}

impl RateLimits {
    /// `per_address` attempts per minute from one address, `login_failures` failed
    /// sign-ins per email in 15 minutes; 0 turns a limit off.
    pub(crate) fn new(per_address: u32, login_failures: u32) -> Self {
        let per_address =
            NonZeroU32::new(per_address).map(|n| RateLimiter::keyed(Quota::per_minute(n)));
        let failures_per_email = NonZeroU32::new(login_failures).map(|n| {
            let replenish = FAILURE_WINDOW / n.get();
            let quota = Quota::with_period(replenish)
                .expect("a non-zero period")
                .allow_burst(n);
            (RateLimiter::keyed(quota), replenish)
        });
        RateLimits {
            per_address,
            failures_per_email,
            locked: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one attempt from `addr`; `RATE_LIMITED` past the allowance.
    pub(crate) fn check_address(&self, addr: Option<IpAddr>) -> Result<(), AppError> {
        let (Some(limiter), Some(addr)) = (&self.per_address, addr) else {
            return Ok(());
        };
        limiter
            .check_key(&addr)
            .map_err(|not_until| AppError::RateLimited {
                retry_after: seconds(not_until.wait_time_from(DefaultClock::default().now())),
            })
    }

    /// `RATE_LIMITED` while the email is locked after too many failures.
    pub(crate) fn check_email(&self, email: &str) -> Result<(), AppError> {
        let mut locked = self.locked.lock().unwrap_or_else(|e| e.into_inner());
        match locked.get(email) {
            Some(until) if *until > Instant::now() => Err(AppError::RateLimited {
                retry_after: seconds(*until - Instant::now()),
            }),
            Some(_) => {
                locked.remove(email);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Counts a failed sign-in; the failure that exceeds the allowance locks the email
    /// and is answered `RATE_LIMITED` itself.
    pub(crate) fn record_failure(&self, email: &str) -> Result<(), AppError> {
        let Some((limiter, replenish)) = &self.failures_per_email else {
            return Ok(());
        };
        let key = email.to_owned();
        if limiter.check_key(&key).is_ok() {
            return Ok(());
        }
        let until = Instant::now() + *replenish;
        self.locked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, until);
        Err(AppError::RateLimited {
            retry_after: seconds(*replenish),
        })
    }

    /// Forgets keys that have fully recovered, so memory stays bounded.
    pub(crate) fn prune(&self) {
        if let Some(limiter) = &self.per_address {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some((limiter, _)) = &self.failures_per_email {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let now = Instant::now();
        self.locked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, until| *until > now);
    }
}

/// Whole seconds to wait, at least one.
fn seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}
