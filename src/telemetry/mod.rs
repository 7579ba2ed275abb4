//! How the server is watched: logs (text or JSON lines), Prometheus metrics at
//! `/metrics` and OpenTelemetry traces over OTLP, each request under one request id.
//!
//! What a request costs in each mode matters more than usual here, because it is paid on
//! every request: metrics are a few atomic adds per request and statement (handles are
//! looked up once where the path is hot); traces, off by default, add spans only while
//! an exporter is configured — the spans of resolvers, DataLoader batches and SQL
//! statements are not even created otherwise (bench/RESULTS.md measures both).

use std::sync::atomic::{AtomicBool, Ordering};

pub mod logging;
pub(crate) mod metrics;
pub(crate) mod request;
pub(crate) mod scrape;
pub(crate) mod traces;

/// Set once at start when traces are exported; read on hot paths before any span that
/// exists only for traces is made.
static TRACES_ON: AtomicBool = AtomicBool::new(false);

pub(crate) fn traces_enabled() -> bool {
    TRACES_ON.load(Ordering::Relaxed)
}

/// The target of the spans that exist only for traces (resolvers, DataLoader batches,
/// SQL statements): the log output leaves them out whatever RUST_LOG says, so a
/// statement's text is never formatted for a log line that does not show it.
pub(crate) const TRACE_ONLY: &str = "mini_ecommerce::spans";
