//! The expiry sweeper: a task in every server process that cancels card orders left
//! unpaid past their payment deadline. Several processes may sweep at once: each order
//! is cancelled by whichever locks it first, and only once (`Orders::expire_overdue`).

use std::time::Duration;

use super::Orders;

/// How often the sweeper looks: an order is cancelled within about this of its deadline.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Runs until the process ends. `orders` should be built on a pool of its own, so that
/// sweeping never takes a request's connection.
pub(crate) fn spawn(orders: Orders) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match orders.expire_overdue().await {
                Ok(0) => {}
                Ok(expired) => {
                    tracing::info!(expired, "unpaid orders cancelled");
                    crate::telemetry::metrics::orders_expired(expired as u64);
                }
                Err(error) => tracing::warn!(?error, "sweeping unpaid orders failed"),
            }
        }
    })
}
