//! The outermost layer of every HTTP request: its id (`X-Request-Id`: the caller's when
//! it is a sane one, made up otherwise, and returned on the response), the span every
//! log line of the request is in, the caller's trace (`traceparent`), and the HTTP
//! metrics.

use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::{metrics, traces, traces_enabled};

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id taken from a caller: ids of proxies and tracing systems
/// (UUIDs, 32-hex trace ids, ELB's `Root=1-…`) are well below it.
const MAX_REQUEST_ID_LEN: usize = 128;

pub(crate) async fn observe(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .filter(|id| is_sane(id.as_bytes()))
        .cloned()
        .unwrap_or_else(new_request_id);
    request.headers_mut().insert(REQUEST_ID, id.clone());
    let method = request.method().clone();
    let route = metrics::route_label(request.uri().path());
    // The otel.* fields name the span for traces only: made (and shown) only then.
    let span = tracing::info_span!(
        "request",
        otel.name = tracing::field::Empty,
        otel.kind = tracing::field::Empty,
        http.request.method = %method,
        url.path = request.uri().path(),
        request_id = id.to_str().unwrap_or_default(),
        http.response.status_code = tracing::field::Empty,
    );
    if traces_enabled() {
        span.record("otel.name", format!("{method} {route}"));
        span.record("otel.kind", "server");
        traces::adopt_remote_parent(&span, request.headers());
    }
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.in_scope(|| tracing::error!(status = status.as_u16(), "request failed"));
    }
    metrics::http_request(route, status.as_u16(), started.elapsed());
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

/// Printable ASCII without spaces or quotes, not too long: safe in a log line and a
/// header whatever the caller sent.
fn is_sane(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\'))
}

/// 128 random bits as 32 hex digits.
fn new_request_id() -> HeaderValue {
    let bytes: [u8; 16] = rand::random();
    HeaderValue::try_from(hex::encode(bytes)).expect("hex is a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sane_ids_are_taken() {
        assert!(is_sane(b"0af7651916cd43dd8448eb211c80319c"));
        assert!(is_sane(b"Root=1-67891233-abcdef012345678912345678"));
        assert!(!is_sane(b""));
        assert!(!is_sane(b"two words"));
        assert!(!is_sane(b"quote\"d"));
        assert!(!is_sane(&[b'a'; MAX_REQUEST_ID_LEN + 1]));
        assert_eq!(new_request_id().len(), 32);
    }
}
