//! OpenTelemetry traces: the server process exports over OTLP/HTTP to a receiver this
//! test runs (a real endpoint that decodes the protobuf), and the spans of one request
//! form the tree the caller's `traceparent` starts.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Attribute;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::json;

use crate::helpers::{TestApp, backend_test, wait_until};

/// An OTLP/HTTP trace receiver on a random port: every span it was sent.
struct Collector {
    addr: SocketAddr,
    spans: Arc<Mutex<Vec<Span>>>,
    server: tokio::task::JoinHandle<()>,
}

async fn export(
    State(spans): State<Arc<Mutex<Vec<Span>>>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, [(&'static str, &'static str); 1], Vec<u8>) {
    assert_eq!(headers["content-type"], "application/x-protobuf");
    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf body");
    let mut received = spans.lock().unwrap();
    for resource in request.resource_spans {
        let service = resource
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|a| a.key == "service.name")
            .and_then(|a| a.value.clone()?.value);
        assert_eq!(
            service,
            Some(Attribute::StringValue("shop-under-test".to_owned()))
        );
        for scope in resource.scope_spans {
            received.extend(scope.spans);
        }
    }
    // An empty ExportTraceServiceResponse.
    (
        StatusCode::OK,
        [("content-type", "application/x-protobuf")],
        Vec::new(),
    )
}

impl Collector {
    async fn start() -> Collector {
        let spans = Arc::new(Mutex::new(Vec::new()));
        let router = axum::Router::new()
            .route("/v1/traces", axum::routing::post(export))
            .with_state(spans.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Collector {
            addr,
            spans,
            server,
        }
    }

    /// A server process on `app`'s database that exports here, in batches every 100 ms.
    async fn traced_server(&self, app: &TestApp) -> crate::helpers::Process {
        let endpoint = format!("http://{}", self.addr);
        let env = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_SERVICE_NAME", "shop-under-test"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ];
        app.server_process_with(&env, None).await
    }

    fn of_trace(&self, trace_id: &[u8]) -> Vec<Span> {
        let spans = self.spans.lock().unwrap();
        spans
            .iter()
            .filter(|s| s.trace_id == trace_id)
            .cloned()
            .collect()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn attribute(span: &Span, key: &str) -> Option<Attribute> {
    span.attributes
        .iter()
        .find(|a| a.key == key)?
        .value
        .clone()?
        .value
}

fn named<'a>(spans: &'a [Span], name: &str) -> Vec<&'a Span> {
    spans.iter().filter(|s| s.name == name).collect()
}

fn one<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    match named(spans, name).as_slice() {
        [span] => span,
        other => panic!(
            "{} spans named {name} in {:?}",
            other.len(),
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        ),
    }
}

backend_test!(
    a_request_is_traced_from_the_callers_span_to_its_sql,
    |app| async move {
        let collector = Collector::start().await;
        let server = collector.traced_server(&app).await;
        let admin = app.admin("admin@example.com").await;
        app.product(&admin, "Lamp", "10.00", 3).await;
        app.product(&admin, "Desk", "99.00", 1).await;

        // The caller's trace: W3C traceparent with its own span as our parent.
        let trace_id = hex::decode("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        let caller_span = hex::decode("00f067aa0ba902b7").unwrap();
        // The search text is bound to a statement: it must not show in the trace.
        let query = "query TraceProbe { products(first: 5, filter: {search: \"Desk\"}) \
            { edges { node { name variants { sku } } } } }";
        let response = app
            .client
            .post(format!("http://{}/graphql", server.addr))
            .bearer_auth(&admin)
            .header(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(
            body["data"]["products"]["edges"][0]["node"]["name"], "Desk",
            "{body}"
        );

        let complete = |spans: &[Span]| {
            let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
            names.contains(&"POST /graphql")
                && names.contains(&"query TraceProbe")
                && names.contains(&"Query.products")
                && names.iter().any(|n| n.starts_with("dataloader "))
                && names.contains(&"SELECT")
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut spans = collector.of_trace(&trace_id);
        while !complete(&spans) {
            let all: Vec<String> = collector
                .spans
                .lock()
                .unwrap()
                .iter()
                .map(|s| {
                    format!(
                        "{} {} <- {}",
                        s.name,
                        hex::encode(&s.span_id),
                        hex::encode(&s.parent_span_id)
                    )
                })
                .collect();
            assert!(
                tokio::time::Instant::now() < deadline,
                "the request's spans never all arrived: {all:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
            spans = collector.of_trace(&trace_id);
        }

        let request = one(&spans, "POST /graphql");
        assert_eq!(
            request.parent_span_id, caller_span,
            "the caller's span is the parent"
        );
        assert_eq!(request.kind, 2, "a server span");
        assert_eq!(
            attribute(request, "http.response.status_code"),
            Some(Attribute::IntValue(200))
        );

        let operation = one(&spans, "query TraceProbe");
        assert_eq!(operation.parent_span_id, request.span_id);
        assert_eq!(
            attribute(operation, "operation"),
            Some(Attribute::StringValue("TraceProbe".into()))
        );
        assert_eq!(
            attribute(operation, "kind"),
            Some(Attribute::StringValue("query".into()))
        );
        let Some(Attribute::IntValue(complexity)) = attribute(operation, "complexity") else {
            panic!("no complexity on {operation:?}");
        };
        assert!(complexity > 5, "{complexity}");
        let Some(Attribute::IntValue(depth)) = attribute(operation, "depth") else {
            panic!("no depth on {operation:?}");
        };
        assert!(depth >= 5, "{depth}");

        let resolver = one(&spans, "Query.products");
        assert_eq!(resolver.parent_span_id, operation.span_id);
        // The variants of the page's products: one batch, started under the products field.
        let batch = one(&spans, "dataloader VariantsOfProductLoader");
        assert_eq!(batch.parent_span_id, resolver.span_id);

        let statements: Vec<&Span> = named(&spans, "SELECT");
        let under = |parent: &Span| {
            statements
                .iter()
                .filter(|s| s.parent_span_id == parent.span_id)
                .count()
        };
        assert!(
            under(resolver) >= 1,
            "the page's own query is the resolver's child"
        );
        assert!(under(batch) >= 1, "the batch's statements are its children");
        for statement in &statements {
            assert_eq!(statement.kind, 3, "a client span");
            let Some(Attribute::StringValue(text)) = attribute(statement, "db.statement") else {
                panic!("no statement text on {statement:?}");
            };
            assert!(text.starts_with("SELECT"), "{text}");
            // The text, never the values bound to it.
            assert!(!text.contains("binds"), "{text}");
            assert!(!text.to_lowercase().contains("desk"), "{text}");
        }
        let system = if app.config.database.database_url.starts_with("postgres") {
            "postgresql"
        } else {
            "sqlite"
        };
        assert_eq!(
            attribute(statements[0], "db.system"),
            Some(Attribute::StringValue(system.into()))
        );
        // Every span of the request is in the caller's trace and under the request.
        let ids: std::collections::HashSet<&Vec<u8>> = spans.iter().map(|s| &s.span_id).collect();
        for span in &spans {
            if span.span_id != request.span_id {
                assert!(
                    ids.contains(&span.parent_span_id),
                    "{} has a parent outside",
                    span.name
                );
            }
        }
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_traceparent_starts_a_trace() {
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite, |_| {})
        .await
        .unwrap();
    let collector = Collector::start().await;
    let server = collector.traced_server(&app).await;
    let body = app
        .gql_at(server.addr, "query Plain { __typename }", json!({}), None)
        .await;
    assert_eq!(body["data"]["__typename"], "Query");
    let mut root = None;
    wait_until("the span arrives", Duration::from_secs(10), async || {
        let spans = collector.spans.lock().unwrap();
        root = spans.iter().find(|s| s.name == "POST /graphql").cloned();
        root.is_some()
    })
    .await;
    let root = root.unwrap();
    assert!(root.parent_span_id.is_empty(), "a root span");
    assert_eq!(root.trace_id.len(), 16);
    let spans = collector.of_trace(&root.trace_id);
    assert_eq!(one(&spans, "query Plain").parent_span_id, root.span_id);
}
