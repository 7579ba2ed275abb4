//! The process's tracing subscriber, set up once by `main`: log lines in text or JSON
//! (`LOG_FORMAT`), filtered by `RUST_LOG`, and, when an OTLP endpoint is set, the layer
//! that turns spans into OpenTelemetry traces.

use anyhow::Context;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

use super::{TRACE_ONLY, TRACES_ON, traces};
use crate::config::{LogFormat, TelemetrySettings};

/// Keeps the trace exporter alive; dropping it sends the spans still buffered (call it
/// after the server has stopped, while the runtime still runs).
pub struct TelemetryGuard {
    tracer: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(tracer) = self.tracer.take()
            && let Err(e) = tracer.shutdown()
        {
            eprintln!("error: sending the last traces: {e}");
        }
    }
}

/// Installs the subscriber. Must run inside the tokio runtime when traces are on (the
/// exporter sends on it).
pub fn init(settings: &TelemetrySettings) -> anyhow::Result<TelemetryGuard> {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .add_directive(format!("{TRACE_ONLY}=off").parse().context("log filter")?);
    let lines = match settings.log_format {
        LogFormat::Text => fmt::layer().boxed(),
        // One object per line: the event's fields at the top level, and every span it is
        // in with its fields (the request id, the operation's name).
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .boxed(),
    }
    .with_filter(filter);
    let (spans, tracer) = match &settings.otel_exporter_otlp_endpoint {
        Some(endpoint) => {
            let tracer = traces::provider(endpoint, settings)?;
            // Traces follow this crate's spans (and those that exist only for them), not
            // other crates' debug spans.
            let targets = Targets::new()
                .with_target("mini_ecommerce", LevelFilter::INFO)
                .with_default(LevelFilter::WARN);
            let layer = tracing_opentelemetry::layer()
                .with_tracer(opentelemetry::trace::TracerProvider::tracer(
                    &tracer,
                    "mini-ecommerce",
                ))
                .with_filter(targets);
            (Some(layer), Some(tracer))
        }
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(lines)
        .with(spans)
        .try_init()
        .context("installing the log subscriber")?;
    if tracer.is_some() {
        TRACES_ON.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    Ok(TelemetryGuard { tracer })
}
