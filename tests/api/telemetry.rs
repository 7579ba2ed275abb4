//! Operations: /metrics (parsed as Prometheus text), its token and private listener,
//! the request id, JSON logs and `extensions.cost`. Metrics are process-wide, so the
//! tests that read them run the server binary as a process of its own.

use std::net::SocketAddr;

use prometheus_parse::{Scrape, Value as Sample};
use serde_json::{Value, json};

use crate::helpers::{TestApp, backend_test};

/// GET /metrics at `addr`; the status and, for a 200, the parsed exposition text.
async fn scrape(app: &TestApp, addr: SocketAddr, token: Option<&str>) -> (u16, Option<Scrape>) {
    let mut request = app.client.get(format!("http://{addr}/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("scrape sent");
    let status = response.status().as_u16();
    if status != 200 {
        return (status, None);
    }
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    let parsed = Scrape::parse(text.lines().map(|line| Ok(line.to_owned())))
        .expect("the exposition text parses");
    (status, Some(parsed))
}

async fn metrics(app: &TestApp, addr: SocketAddr) -> Scrape {
    let (status, scrape) = scrape(app, addr, None).await;
    assert_eq!(status, 200);
    scrape.unwrap()
}

/// The value of the counter, gauge or untyped sample `name` whose labels include
/// `labels`; 0 when there is none.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let matching: Vec<f64> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Sample::Counter(v) | Sample::Gauge(v) | Sample::Untyped(v) => *v,
            other => panic!("{name} is not a single value: {other:?}"),
        })
        .collect();
    assert!(
        matching.len() <= 1,
        "{name} {labels:?} matches several series"
    );
    matching.first().copied().unwrap_or(0.0)
}

/// Whether `name` is exported as a histogram with buckets (not a summary).
fn is_histogram(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> bool {
    scrape.samples.iter().any(|s| {
        s.metric == name
            && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
            && matches!(&s.value, Sample::Histogram(buckets) if buckets.len() > 5)
    })
}

fn label_values(scrape: &Scrape, name: &str, label: &str) -> std::collections::BTreeSet<String> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter_map(|s| s.labels.get(label).map(str::to_owned))
        .collect()
}

async fn post(app: &TestApp, addr: SocketAddr, body: Value) -> reqwest::Response {
    app.client
        .post(format!("http://{addr}/graphql"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

backend_test!(
    metrics_count_requests_operations_errors_and_statements,
    |app| async move {
        let server = app.server_process().await;
        let addr = server.addr;
        let before = metrics(&app, addr).await;
        let probe = [
            ("operation", "MetricsProbe"),
            ("type", "query"),
            ("outcome", "ok"),
        ];
        assert_eq!(value(&before, "graphql_operations_total", &probe), 0.0);

        let (token, _, _) = app.register("metrics@example.com").await;
        let query = "query MetricsProbe { me { email } }";
        for _ in 0..3 {
            let body = app.gql_at(addr, query, json!({}), Some(&token)).await;
            assert_eq!(body["data"]["me"]["email"], "metrics@example.com", "{body}");
        }
        // A field error (no token), and a request refused before execution.
        let body = app
            .gql_at(
                addr,
                "query Anonymous { products(first: 1) { totalCount } }",
                json!({}),
                None,
            )
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{body}"
        );
        let broken = json!({ "query": "query Broken { me { ", "operationName": "Broken" });
        let body: Value = post(&app, addr, broken).await.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );

        let after = metrics(&app, addr).await;
        assert_eq!(value(&after, "graphql_operations_total", &probe), 3.0);
        let failed = [
            ("operation", "Anonymous"),
            ("type", "query"),
            ("outcome", "error"),
        ];
        assert_eq!(value(&after, "graphql_operations_total", &failed), 1.0);
        // A document that did not parse has no known name: it is not given a label.
        let broken = [("operation", "other"), ("outcome", "rejected")];
        assert_eq!(value(&after, "graphql_operations_total", &broken), 1.0);
        assert!(!label_values(&after, "graphql_operations_total", "operation").contains("Broken"));
        let latency = [("operation", "MetricsProbe"), ("type", "query")];
        assert!(is_histogram(
            &after,
            "graphql_operation_duration_seconds",
            &latency
        ));
        assert_eq!(
            value(&after, "graphql_operation_duration_seconds_count", &latency),
            3.0
        );
        let code = |s: &Scrape, c| value(s, "graphql_errors_total", &[("code", c)]);
        assert_eq!(
            code(&after, "UNAUTHENTICATED") - code(&before, "UNAUTHENTICATED"),
            1.0
        );
        assert_eq!(
            code(&after, "BAD_USER_INPUT") - code(&before, "BAD_USER_INPUT"),
            1.0
        );

        // 5 operations, all answered 200 on /graphql (the registration went to the test's
        // own server); a scrape is counted once it is answered.
        let http = |s: &Scrape| {
            value(
                s,
                "http_requests_total",
                &[("route", "/graphql"), ("status", "200")],
            )
        };
        assert_eq!(http(&after) - http(&before), 5.0);
        assert_eq!(
            value(
                &after,
                "http_requests_total",
                &[("route", "/metrics"), ("status", "200")]
            ),
            1.0
        );
        assert!(is_histogram(
            &after,
            "http_request_duration_seconds",
            &[("route", "/graphql")]
        ));

        // Statements of the request pool were timed; its state is read at the scrape.
        let statements = [("pool", "requests")];
        assert!(is_histogram(
            &after,
            "db_statement_duration_seconds",
            &statements
        ));
        let counted = value(&after, "db_statement_duration_seconds_count", &statements)
            - value(&before, "db_statement_duration_seconds_count", &statements);
        assert!(counted >= 3.0, "statements timed: {counted}");
        assert_eq!(value(&after, "db_pool_max_connections", &statements), 5.0);
        for pool in ["requests", "mail", "webhooks", "expiry"] {
            let open = value(&after, "db_pool_connections", &[("pool", pool)]);
            assert!((0.0..=5.0).contains(&open), "{pool}: {open}");
            assert!(
                after.samples.iter().any(
                    |s| s.metric == "db_pool_waits_total" && s.labels.get("pool") == Some(pool)
                ),
                "{pool}"
            );
        }
        // The registration queued no mail; nothing waits.
        assert_eq!(value(&after, "mail_outbox_pending", &[]), 0.0);
        assert_eq!(value(&after, "webhook_deliveries_pending", &[]), 0.0);
        assert!(value(&after, "process_resident_memory_bytes", &[]) > 1_000_000.0);
        assert!(
            after
                .samples
                .iter()
                .any(|s| s.metric == "process_cpu_seconds_total")
        );
        assert_eq!(value(&after, "graphql_subscriptions_open", &[]), 0.0);
    }
);

backend_test!(queued_mail_shows_as_pending, |app| async move {
    // No SMTP server: the reset mail is logged as sent at once in development, so a
    // mail worker that cannot reach its server is what keeps it pending.
    let server = app
        .server_process_with(
            &[
                ("SMTP_URL", "smtp://127.0.0.1:9"),
                ("MAIL_RETRY_MS", "3600000"),
            ],
            None,
        )
        .await;
    let addr = server.addr;
    app.register("pending@example.com").await;
    let body = app
        .gql_at(
            addr,
            "mutation { requestPasswordReset(input: {email: \"pending@example.com\"}) { userErrors { code } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(
        body["data"]["requestPasswordReset"]["userErrors"],
        json!([]),
        "{body}"
    );
    crate::helpers::wait_until(
        "the failed attempt is counted",
        std::time::Duration::from_secs(10),
        async || {
            let scrape = metrics(&app, addr).await;
            value(&scrape, "mail_failures_total", &[("outcome", "retry")]) >= 1.0
        },
    )
    .await;
    let scrape = metrics(&app, addr).await;
    assert_eq!(value(&scrape, "mail_outbox_pending", &[]), 1.0);
});

backend_test!(metrics_token_is_required_when_set, |app| async move {
    let token = "a-metrics-token-of-some-length";
    let server = app
        .server_process_with(&[("METRICS_TOKEN", token)], None)
        .await;
    assert_eq!(scrape(&app, server.addr, None).await.0, 401);
    assert_eq!(
        scrape(&app, server.addr, Some("a-metrics-token-of-some-lengtH"))
            .await
            .0,
        401
    );
    let (status, parsed) = scrape(&app, server.addr, Some(token)).await;
    assert_eq!(status, 200);
    assert!(value(&parsed.unwrap(), "process_resident_memory_bytes", &[]) > 0.0);
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_to_their_private_address_or_stay_off() {
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite, |_| {})
        .await
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let private = format!("127.0.0.1:{port}");
    let server = app
        .server_process_with(&[("METRICS_BIND_ADDR", &private)], None)
        .await;
    assert_eq!(scrape(&app, server.addr, None).await.0, 404);
    let parsed = metrics(&app, private.parse().unwrap()).await;
    assert!(value(&parsed, "process_resident_memory_bytes", &[]) > 0.0);
    drop(server);

    // Production without a token does not publish them on BIND_ADDR; with one it does,
    // behind it (the scheme's name in any case).
    let production = [("APP_ENV", "production"), ("MAIL_DISABLED", "true")];
    let server = app.server_process_with(&production, None).await;
    assert_eq!(scrape(&app, server.addr, None).await.0, 404);
    drop(server);
    let token = "production-metrics-token";
    let with_token = [production[0], production[1], ("METRICS_TOKEN", token)];
    let server = app.server_process_with(&with_token, None).await;
    assert_eq!(scrape(&app, server.addr, None).await.0, 401);
    let lower = app
        .client
        .get(format!("http://{}/metrics", server.addr))
        .header("authorization", format!("bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(lower.status(), 200);
    drop(server);
    // The private listener asks for the token too, when there is one.
    let both = [
        ("METRICS_BIND_ADDR", private.as_str()),
        ("METRICS_TOKEN", token),
    ];
    let server = app.server_process_with(&both, None).await;
    let private_addr = private.parse().unwrap();
    assert_eq!(scrape(&app, private_addr, None).await.0, 401);
    assert_eq!(scrape(&app, private_addr, Some(token)).await.0, 200);
    drop(server);

    let off = app
        .server_process_with(&[("METRICS_ENABLED", "false")], None)
        .await;
    assert_eq!(scrape(&app, off.addr, None).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operation_names_are_bounded() {
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite, |_| {})
        .await
        .unwrap();
    let server = app.server_process().await;
    let addr = server.addr;
    // A refused operation does not take a label, even before the cap.
    let body = app
        .gql_at(addr, "query Refused { noSuchField }", json!({}), None)
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    let batch: Vec<Value> = (0..250)
        .map(|i| json!({ "query": format!("query Name{i} {{ __typename }}") }))
        .collect();
    for chunk in batch.chunks(10) {
        let response = post(&app, addr, Value::Array(chunk.to_vec())).await;
        assert_eq!(response.status(), 200);
    }
    let scrape = metrics(&app, addr).await;
    let names = label_values(&scrape, "graphql_operations_total", "operation");
    assert!(!names.contains("Refused"), "{names:?}");
    let named = names.iter().filter(|n| n.starts_with("Name")).count();
    assert_eq!(named, 200, "{names:?}");
    let folded = [("operation", "other"), ("outcome", "ok")];
    assert_eq!(value(&scrape, "graphql_operations_total", &folded), 50.0);
    let refused = [("operation", "other"), ("outcome", "rejected")];
    assert_eq!(value(&scrape, "graphql_operations_total", &refused), 1.0);

    // A known name keeps its label even when its document is refused; a name too long
    // for a label, and an anonymous operation, have their own.
    let again = json!({ "query": "query Name7 { nope }", "operationName": "Name7" });
    post(&app, addr, again).await;
    let long = format!("query {} {{ __typename }}", "L".repeat(65));
    post(&app, addr, json!({ "query": long })).await;
    post(&app, addr, json!({ "query": "{ __typename }" })).await;
    let scrape = metrics(&app, addr).await;
    let known = [("operation", "Name7"), ("outcome", "rejected")];
    assert_eq!(value(&scrape, "graphql_operations_total", &known), 1.0);
    assert_eq!(value(&scrape, "graphql_operations_total", &folded), 51.0);
    let anonymous = [("operation", "anonymous"), ("outcome", "ok")];
    assert_eq!(value(&scrape, "graphql_operations_total", &anonymous), 1.0);
    let longest = label_values(&scrape, "graphql_operations_total", "operation")
        .into_iter()
        .map(|name| name.len())
        .max();
    assert!(longest <= Some(64), "{longest:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_has_a_request_id() {
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite, |_| {})
        .await
        .unwrap();
    let id_of = |response: &reqwest::Response| {
        response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let first = app.client.get(app.url("/healthz")).send().await.unwrap();
    let second = post(&app, app.addr, json!({ "query": "{ __typename }" })).await;
    let (first, second) = (id_of(&first), id_of(&second));
    assert_eq!(first.len(), 32);
    assert!(first.bytes().all(|b| b.is_ascii_hexdigit()), "{first}");
    assert_ne!(first, second);

    let send = |id: &'static str| {
        app.client
            .get(app.url("/healthz"))
            .header("x-request-id", id)
            .send()
    };
    assert_eq!(
        id_of(&send("proxy-id-0af7651916cd43dd").await.unwrap()),
        "proxy-id-0af7651916cd43dd"
    );
    // Not an id to repeat in logs and headers: a new one is made.
    let replaced = id_of(&send("two words").await.unwrap());
    assert_eq!(replaced.len(), 32);
    let long = Box::leak("x".repeat(129).into_boxed_str());
    assert_eq!(id_of(&send(long).await.unwrap()).len(), 32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_request_id_and_operation() {
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite, |_| {})
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.log");
    let log = std::fs::File::create(&path).unwrap();
    let env = [("LOG_FORMAT", "json"), ("RUST_LOG", "info")];
    let server = app.server_process_logging(&env, None, Some(log)).await;
    let response = app
        .client
        .post(format!("http://{}/graphql", server.addr))
        .header("x-request-id", "log-probe-42")
        .json(&json!({ "query": "query LogProbe { products(first: 1) { totalCount } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "log-probe-42");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");

    let mut found = None;
    crate::helpers::wait_until(
        "the field error is logged",
        std::time::Duration::from_secs(5),
        async || {
            let text = std::fs::read_to_string(&path).unwrap();
            let lines: Vec<Value> = text
                .lines()
                .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
                .collect();
            found = lines
                .into_iter()
                .find(|line| line["message"] == "field error");
            found.is_some()
        },
    )
    .await;
    let line = found.unwrap();
    assert_eq!(line["level"], "INFO", "{line}");
    assert!(
        line["timestamp"]
            .as_str()
            .is_some_and(|t| t.starts_with("20")),
        "{line}"
    );
    assert_eq!(
        line["target"], "mini_ecommerce::graphql::documents",
        "{line}"
    );
    assert_eq!(line["code"], "UNAUTHENTICATED", "{line}");
    let spans = line["spans"].as_array().expect("the spans the event is in");
    let request = spans
        .iter()
        .find(|s| s["name"] == "request")
        .expect("request span");
    assert_eq!(request["request_id"], "log-probe-42", "{line}");
    let operation = spans
        .iter()
        .find(|s| s["name"] == "graphql")
        .expect("operation span");
    assert_eq!(operation["operation"], "LogProbe", "{line}");
    assert_eq!(operation["kind"], "query", "{line}");
}

/// Sends `query` with `x-include-query-cost: 1`.
async fn with_cost(app: &TestApp, query: &str, token: Option<&str>) -> Value {
    let mut request = app
        .client
        .post(app.url("/graphql"))
        .header("x-include-query-cost", "1")
        .json(&json!({ "query": query }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().json().await.unwrap()
}

backend_test!(
    cost_is_reported_when_asked_for,
    |c: &mut mini_ecommerce::config::Config| {
        c.limits.max_query_complexity = 62;
    },
    |app| async move {
        let (token, _, _) = app.register("cost@example.com").await;
        // A connection costs first × its selection, each field 1 (docs/api.md): first × 6.
        let page = |first: u32| {
            format!(
                "{{ products(first: {first}) {{ nodes {{ id name price description stock }} }} }}"
            )
        };

        // Not asked: the response is as small as ever.
        let plain = app.gql(&page(5), json!({}), Some(&token)).await;
        assert!(plain.get("extensions").is_none(), "{plain}");

        let five = with_cost(&app, &page(5), Some(&token)).await;
        assert!(five.get("errors").is_none(), "{five}");
        assert_eq!(
            five["extensions"]["cost"],
            json!({ "requestedQueryCost": 30, "maximumAvailable": 62 })
        );
        let ten = with_cost(&app, &page(10), Some(&token)).await;
        assert!(ten.get("errors").is_none(), "{ten}");
        assert_eq!(ten["extensions"]["cost"]["requestedQueryCost"], 60);

        // Over the limit: refused as without the header, and told by how much.
        let eleven = with_cost(&app, &page(11), Some(&token)).await;
        assert_eq!(
            eleven["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX",
            "{eleven}"
        );
        assert_eq!(eleven["errors"][0]["message"], "Query is too complex.");
        assert_eq!(eleven["extensions"]["cost"]["requestedQueryCost"], 66);
        let plain = app.gql(&page(11), json!({}), Some(&token)).await;
        assert_eq!(plain["errors"][0]["message"], "Query is too complex.");

        // The depth limit holds on the measured path too (13 levels; the limit is 12).
        let deep = "{ categories { children { children { children { children { children { children { children { children { children { children { children { id } } } } } } } } } } } } }";
        for body in [
            with_cost(&app, deep, Some(&token)).await,
            app.gql(deep, json!({}), Some(&token)).await,
        ] {
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX",
                "{body}"
            );
            assert_eq!(
                body["errors"][0]["message"], "Query is nested too deep.",
                "{body}"
            );
        }
        // A document that does not parse has no cost to report.
        let broken = with_cost(&app, "{ products(", Some(&token)).await;
        assert!(broken.get("extensions").is_none(), "{broken}");
    }
);

/// The metric names of every PromQL expression of the dashboard (the identifiers that
/// open a selector).
fn dashboard_metrics() -> std::collections::BTreeSet<String> {
    fn exprs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("expr", Value::String(expr)) => out.push(expr.clone()),
                        _ => exprs(value, out),
                    }
                }
            }
            Value::Array(values) => values.iter().for_each(|v| exprs(v, out)),
            _ => {}
        }
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/grafana-dashboard.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut found = Vec::new();
    exprs(&dashboard, &mut found);
    assert!(found.len() > 20, "the dashboard's queries: {found:?}");
    let mut names = std::collections::BTreeSet::new();
    for expr in found {
        let bytes = expr.as_bytes();
        for (i, b) in bytes.iter().enumerate() {
            if *b != b'{' {
                continue;
            }
            let start = bytes[..i]
                .iter()
                .rposition(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                .map_or(0, |p| p + 1);
            if start < i {
                names.insert(expr[start..i].to_owned());
            }
        }
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_reads_only_exported_metrics() {
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite, |_| {})
        .await
        .unwrap();
    let server = app.server_process().await;
    let addr = server.addr;
    // A signed-in page and a refused one: every series a dashboard shows exists.
    let (token, _, _) = app.register("dash@example.com").await;
    app.gql_at(
        addr,
        "{ products(first: 1) { totalCount } }",
        json!({}),
        Some(&token),
    )
    .await;
    app.gql_at(
        addr,
        "{ products(first: 1) { totalCount } }",
        json!({}),
        None,
    )
    .await;
    metrics(&app, addr).await;
    let scrape = metrics(&app, addr).await;
    let exported: std::collections::BTreeSet<&str> =
        scrape.samples.iter().map(|s| s.metric.as_str()).collect();
    let used = dashboard_metrics();
    assert!(used.len() >= 20, "{used:?}");
    for name in &used {
        let base = name.strip_suffix("_bucket").unwrap_or(name);
        assert!(
            exported.contains(base),
            "the dashboard reads {name}, which is not exported"
        );
        if name.ends_with("_bucket") {
            assert!(
                is_histogram(&scrape, base, &[]),
                "{base} is not a histogram"
            );
        }
    }
}

backend_test!(
    open_subscriptions_are_counted_while_they_live,
    |app| async move {
        use futures_util::SinkExt;
        use tokio_tungstenite::tungstenite::Message;
        let server = app.server_process().await;
        let addr = server.addr;
        let (token, _, _) = app.register("listener@example.com").await;
        let open = async |expected: f64| {
            crate::helpers::wait_until(
                &format!("{expected} subscriptions are open"),
                std::time::Duration::from_secs(10),
                async || {
                    let scrape = metrics(&app, addr).await;
                    value(&scrape, "graphql_subscriptions_open", &[]) == expected
                },
            )
            .await;
        };
        open(0.0).await;
        let mut socket =
            crate::subscriptions::signed_in(addr, "graphql-transport-ws", &token).await;
        for id in ["a", "b"] {
            let subscribe = json!({ "id": id, "type": "subscribe",
            "payload": { "query": "subscription { orderUpdated { id } }" } });
            socket
                .send(Message::text(subscribe.to_string()))
                .await
                .unwrap();
        }
        open(2.0).await;
        let complete = json!({ "id": "a", "type": "complete" });
        socket
            .send(Message::text(complete.to_string()))
            .await
            .unwrap();
        open(1.0).await;
        drop(socket);
        open(0.0).await;
        let scrape = metrics(&app, addr).await;
        let started = [("type", "subscription"), ("outcome", "ok")];
        assert_eq!(
            value(
                &scrape,
                "graphql_operations_total",
                &[started[0], started[1], ("operation", "anonymous")]
            ),
            2.0
        );
    }
);
