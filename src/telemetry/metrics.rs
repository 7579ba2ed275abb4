//! Every Prometheus metric the server exports, recorded through the `metrics` facade and
//! rendered by `metrics-exporter-prometheus` at `/metrics`; the list below is the one
//! place that names them (deploy/grafana-dashboard.json reads them).
//!
//! Labels are bounded: routes are the server's own, operation names are the first
//! [`MAX_OPERATION_NAMES`] that executed (later ones are `other`), error codes are the
//! server's. A scrape reads the pools' state and the queues' depth at that moment.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use ::metrics::{
    Histogram, SharedString, Unit, counter, describe_counter, describe_gauge, describe_histogram,
    gauge, histogram,
};
use anyhow::Context;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds, from a cached catalog read (sub-millisecond) to a slow
/// checkout.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Distinct operation names labelled before the rest fold into `other`: a client cannot
/// grow the label set (and Prometheus's memory) by inventing names.
pub(crate) const MAX_OPERATION_NAMES: usize = 200;
/// Longer names are `other` (a GraphQL name may be as long as the document).
pub(crate) const MAX_OPERATION_NAME_LEN: usize = 64;

/// How often histograms' samples are folded into their buckets between scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The process's recorder and what a scrape adds to it.
#[derive(Clone)]
pub(crate) struct Metrics {
    handle: PrometheusHandle,
    process: Arc<metrics_process::Collector>,
}

static INSTALLED: OnceLock<Metrics> = OnceLock::new();

/// Installs the process-wide recorder on first call (later calls, such as a test's
/// second server in one process, share it).
pub(crate) fn install() -> anyhow::Result<Metrics> {
    // One installer at a time: two servers built at once in one process must not race
    // between setting the recorder and remembering it.
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _installing = INSTALLING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(metrics) = INSTALLED.get() {
        return Ok(metrics.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets(&BUCKETS)
        .context("metric buckets")?
        .build_recorder();
    let handle = recorder.handle();
    ::metrics::set_global_recorder(recorder)
        .map_err(|e| anyhow::anyhow!("installing the metrics recorder: {e}"))?;
    let metrics = Metrics {
        handle: handle.clone(),
        process: Arc::new(metrics_process::Collector::default()),
    };
    describe();
    metrics.process.describe();
    let _ = INSTALLED.set(metrics.clone());
    std::thread::Builder::new()
        .name("metrics-upkeep".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                handle.run_upkeep();
            }
        })
        .context("starting the metrics upkeep thread")?;
    Ok(metrics)
}

/// Whether a recorder is installed: without one, hot paths skip building labels.
pub(crate) fn enabled() -> bool {
    INSTALLED.get().is_some()
}

impl Metrics {
    /// The exposition text, after the gauges read at scrape time.
    pub(crate) fn render(&self, pools: &[&crate::db::Db], queues: Option<QueueDepths>) -> String {
        self.process.collect();
        for db in pools {
            let state = db.pool_state();
            let pool = state.name;
            gauge!("db_pool_connections", "pool" => pool).set(f64::from(state.connections));
            gauge!("db_pool_idle_connections", "pool" => pool)
                .set(f64::from(state.idle_connections));
            gauge!("db_pool_max_connections", "pool" => pool).set(f64::from(state.max_size));
            counter!("db_pool_waits_total", "pool" => pool).absolute(state.waits);
            counter!("db_pool_timeouts_total", "pool" => pool).absolute(state.timeouts);
            // Whole microseconds, so the counter only ever grows by what bb8 adds.
            counter!("db_pool_wait_microseconds_total", "pool" => pool)
                .absolute(state.wait_time.as_micros() as u64);
        }
        if let Some(queues) = queues {
            gauge!("mail_outbox_pending").set(queues.mail as f64);
            gauge!("webhook_deliveries_pending").set(queues.webhooks as f64);
        }
        self.handle.render()
    }
}

/// Rows waiting in the outboxes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueueDepths {
    pub mail: i64,
    pub webhooks: i64,
}

fn describe() {
    describe_counter!(
        "http_requests_total",
        "HTTP requests answered, by route and status."
    );
    describe_histogram!(
        "http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request (a WebSocket: to its upgrade), by route."
    );
    describe_counter!(
        "graphql_operations_total",
        "GraphQL operations, by operation name, type and outcome (ok, error: some fields \
         failed, rejected: refused before execution)."
    );
    describe_histogram!(
        "graphql_operation_duration_seconds",
        Unit::Seconds,
        "Time to execute a GraphQL operation, by operation name and type (not subscriptions)."
    );
    describe_counter!(
        "graphql_errors_total",
        "GraphQL errors returned, by extensions.code."
    );
    describe_gauge!("graphql_subscriptions_open", "Subscriptions running now.");
    describe_gauge!("db_pool_connections", "Open database connections, by pool.");
    describe_gauge!(
        "db_pool_idle_connections",
        "Idle database connections, by pool."
    );
    describe_gauge!("db_pool_max_connections", "The pool's size, by pool.");
    describe_counter!(
        "db_pool_waits_total",
        "Connection checkouts that had to wait for a connection, by pool."
    );
    describe_counter!(
        "db_pool_timeouts_total",
        "Connection checkouts that gave up waiting, by pool."
    );
    describe_counter!(
        "db_pool_wait_microseconds_total",
        Unit::Microseconds,
        "Time spent waiting for connections, by pool."
    );
    describe_histogram!(
        "db_statement_duration_seconds",
        Unit::Seconds,
        "Time of each SQL statement, by pool."
    );
    describe_gauge!("mail_outbox_pending", "Mails waiting to be sent.");
    describe_counter!("mail_sent_total", "Mails the SMTP server took.");
    describe_counter!(
        "mail_failures_total",
        "Mails the SMTP server did not take, by outcome (retry, given_up)."
    );
    describe_gauge!(
        "webhook_deliveries_pending",
        "Webhook deliveries waiting to be sent."
    );
    describe_counter!(
        "webhook_deliveries_total",
        "Webhook delivery attempts, by outcome (delivered, retry, failed)."
    );
    describe_counter!(
        "orders_expired_total",
        "Unpaid orders cancelled at their deadline."
    );
    describe_counter!(
        "rate_limited_total",
        "Sign-in attempts refused by a rate limit, by limit (address, email)."
    );
    // Counters of rare events exist from the start, at 0: a dashboard's rate() then
    // reads 0, not "no data", and an alert on them can tell the two apart.
    counter!("mail_sent_total").absolute(0);
    for outcome in ["retry", "given_up"] {
        counter!("mail_failures_total", "outcome" => outcome).absolute(0);
    }
    for outcome in ["delivered", "retry", "failed"] {
        counter!("webhook_deliveries_total", "outcome" => outcome).absolute(0);
    }
    counter!("orders_expired_total").absolute(0);
    for limit in ["address", "email"] {
        counter!("rate_limited_total", "limit" => limit).absolute(0);
    }
    gauge!("graphql_subscriptions_open").set(0.0);
}

/// The bounded route label of a request path.
pub(crate) fn route_label(path: &str) -> &'static str {
    match path {
        "/graphql" => "/graphql",
        "/graphql/ws" => "/graphql/ws",
        "/healthz" => "/healthz",
        "/readyz" => "/readyz",
        "/metrics" => "/metrics",
        _ if path.starts_with("/media/") => "/media",
        _ if path.starts_with("/graphiql") => "/graphiql",
        _ => "other",
    }
}

pub(crate) fn http_request(route: &'static str, status: u16, elapsed: Duration) {
    if !enabled() {
        return;
    }
    let status: SharedString = match status {
        200 => SharedString::const_str("200"),
        400 => SharedString::const_str("400"),
        401 => SharedString::const_str("401"),
        404 => SharedString::const_str("404"),
        413 => SharedString::const_str("413"),
        other => SharedString::from(other.to_string()),
    };
    counter!("http_requests_total", "route" => route, "status" => status).increment(1);
    histogram!("http_request_duration_seconds", "route" => route).record(elapsed);
}

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ok,
    /// Executed, with field errors.
    Error,
    /// Refused before execution: parse, validation, limits.
    Rejected,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Rejected => "rejected",
        }
    }
}

/// An operation's name and type, as labels.
#[derive(Debug, Clone)]
pub(crate) struct OperationLabels {
    pub name: SharedString,
    pub kind: &'static str,
}

pub(crate) fn operation(labels: &OperationLabels, outcome: Outcome, elapsed: Option<Duration>) {
    if !enabled() {
        return;
    }
    counter!(
        "graphql_operations_total",
        "operation" => labels.name.clone(),
        "type" => labels.kind,
        "outcome" => outcome.label()
    )
    .increment(1);
    if let Some(elapsed) = elapsed {
        histogram!(
            "graphql_operation_duration_seconds",
            "operation" => labels.name.clone(),
            "type" => labels.kind
        )
        .record(elapsed);
    }
}

/// Counts each error of a finished response by its code (every error has one by then).
pub(crate) fn errors(errors: &[async_graphql::ServerError]) {
    if !enabled() {
        return;
    }
    for error in errors {
        let code = match error.extensions.as_ref().and_then(|e| e.get("code")) {
            Some(async_graphql::Value::String(code)) if is_code(code) => code.clone(),
            _ => "OTHER".to_owned(),
        };
        counter!("graphql_errors_total", "code" => code).increment(1);
    }
}

/// Codes are the server's own SCREAMING_CASE words; anything else is not a label.
fn is_code(code: &str) -> bool {
    (1..=40).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
}

/// The label of names past the cap, and of documents that have none.
pub(crate) const OTHER: SharedString = SharedString::const_str("other");

/// The label of an operation's name: the name itself while fewer than
/// [`MAX_OPERATION_NAMES`] are known, `anonymous` for none, `other` past the cap or
/// past [`MAX_OPERATION_NAME_LEN`].
/// `executed` is false for a request refused before execution: its name is only
/// labelled when it is already known.
pub(crate) fn operation_name_label(name: Option<&str>, executed: bool) -> SharedString {
    static KNOWN: OnceLock<RwLock<HashSet<Arc<str>>>> = OnceLock::new();
    let Some(name) = name else {
        return SharedString::const_str("anonymous");
    };
    // A label is on every line of its series: a long one would make every scrape long.
    if name.len() > MAX_OPERATION_NAME_LEN {
        return OTHER;
    }
    let known = KNOWN.get_or_init(Default::default);
    // Nearly every operation has a known name: a shared read, no contention.
    if let Some(known) = read(known).get(name) {
        return SharedString::from(known.clone());
    }
    if !executed {
        return OTHER;
    }
    let mut known = known
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(known) = known.get(name) {
        return SharedString::from(known.clone());
    }
    if known.len() >= MAX_OPERATION_NAMES {
        return OTHER;
    }
    let name: Arc<str> = Arc::from(name);
    known.insert(name.clone());
    SharedString::from(name)
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Counts a subscription while it lives.
pub(crate) struct SubscriptionOpen(());

impl SubscriptionOpen {
    pub(crate) fn start() -> Self {
        if enabled() {
            gauge!("graphql_subscriptions_open").increment(1.0);
        }
        SubscriptionOpen(())
    }
}

impl Drop for SubscriptionOpen {
    fn drop(&mut self) {
        if enabled() {
            gauge!("graphql_subscriptions_open").decrement(1.0);
        }
    }
}

/// The statement-latency histogram of one pool, looked up once per connection.
pub(crate) fn statement_histogram(pool: &'static str) -> Histogram {
    histogram!("db_statement_duration_seconds", "pool" => pool)
}

pub(crate) fn mail_sent() {
    counter!("mail_sent_total").increment(1);
}

pub(crate) fn mail_failed(given_up: bool) {
    let outcome = if given_up { "given_up" } else { "retry" };
    counter!("mail_failures_total", "outcome" => outcome).increment(1);
}

/// A webhook attempt's outcome: `delivered`, `retry` or `failed` (given up).
pub(crate) fn webhook_delivery(outcome: &'static str) {
    counter!("webhook_deliveries_total", "outcome" => outcome).increment(1);
}

pub(crate) fn orders_expired(orders: u64) {
    counter!("orders_expired_total").increment(orders);
}

/// A refusal by the per-address (`address`) or per-email (`email`) limit.
pub(crate) fn rate_limited(limit: &'static str) {
    counter!("rate_limited_total", "limit" => limit).increment(1);
}
