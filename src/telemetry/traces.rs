//! OpenTelemetry traces over OTLP/HTTP (protobuf), off unless
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set: the exporter, the W3C `traceparent` of incoming
//! requests, and the spans that exist only for traces.
//!
//! The tree of one request: `POST /graphql` (child of the caller's `traceparent`) ─>
//! `query Name` (the operation, with its complexity and depth) ─> `Query.field` (each
//! root field, whose resolver does the I/O of everything under it) and `dataloader Name`
//! (a batch, which serves many resolvers at once) ─> `SELECT …` (each SQL statement, its
//! text without the values).

use std::time::Duration;

use anyhow::Context;
use axum::http::HeaderMap;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::config::TelemetrySettings;

/// How long one export may take; the batch is dropped after it (traces are best effort).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The tracer provider: spans are batched on the SDK's own thread and sent with the
/// server's HTTP client on the runtime that is current now.
pub(super) fn provider(
    endpoint: &str,
    settings: &TelemetrySettings,
) -> anyhow::Result<SdkTracerProvider> {
    let client = RuntimeClient {
        client: reqwest::Client::builder()
            .timeout(EXPORT_TIMEOUT)
            .build()
            .context("building the trace exporter's client")?,
        runtime: tokio::runtime::Handle::try_current()
            .context("the trace exporter needs the runtime")?,
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .context("OTEL_EXPORTER_OTLP_ENDPOINT: building the trace exporter")?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(settings.otel_service_name.clone())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        // By the trace id alone, not the caller's flag: any client may send a
        // `traceparent`, and it must not decide what the server exports.
        .with_sampler(Sampler::TraceIdRatioBased(settings.trace_sample_ratio))
        .with_resource(resource)
        .build())
}

/// Makes `span` a child of the trace a request's `traceparent` names (and `tracestate`
/// carries), when it names one.
pub(crate) fn adopt_remote_parent(span: &tracing::Span, headers: &HeaderMap) {
    let context =
        TraceContextPropagator::new().extract(&opentelemetry_http::HeaderExtractor(headers));
    let _ = span.set_parent(context);
}

/// Whether the current span's trace is kept: spans that exist only for traces are not
/// made for the others (with TRACE_SAMPLE_RATIO below 1).
pub(crate) fn current_is_sampled() -> bool {
    use opentelemetry::trace::TraceContextExt;
    tracing::Span::current()
        .context()
        .span()
        .span_context()
        .is_sampled()
}

/// opentelemetry-http's client trait over the server's reqwest client. The SDK calls it
/// from its batch thread, outside the runtime, so each request is run on the runtime and
/// awaited from there.
#[derive(Debug)]
struct RuntimeClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for RuntimeClient {
    async fn send_bytes(
        &self,
        request: axum::http::Request<bytes::Bytes>,
    ) -> Result<axum::http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let request = reqwest::Request::try_from(request.map(reqwest::Body::from))?;
        let client = self.client.clone();
        let sent = self.runtime.spawn(async move {
            let response = client.execute(request).await?;
            let status = response.status();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, body))
        });
        let (status, body) = sent.await??;
        let mut response = axum::http::Response::new(body);
        *response.status_mut() = status;
        Ok(response)
    }
}
