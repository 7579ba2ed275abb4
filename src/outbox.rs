//! What the outbox workers (mail, webhook deliveries) share: when a failed attempt is
//! tried again.

use std::time::Duration;

use chrono::{NaiveDateTime, TimeDelta};

/// A doubling retry schedule: `base` after the first failed attempt, twice that after
/// the second, and so on, never more than `max` apart.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// When the next attempt is due after `attempts` failed ones.
    pub(crate) fn retry_at(&self, now: NaiveDateTime, attempts: i32) -> NaiveDateTime {
        let doublings = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        let wait = self.base.saturating_mul(1 << doublings).min(self.max);
        now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap() {
        let now = chrono::DateTime::from_timestamp(0, 0).unwrap().naive_utc();
        let backoff = Backoff {
            base: Duration::from_secs(10),
            max: Duration::from_secs(60),
        };
        let waits: Vec<i64> = (1..=5)
            .map(|n| (backoff.retry_at(now, n) - now).num_seconds())
            .collect();
        assert_eq!(waits, [10, 20, 40, 60, 60]);
    }
}
