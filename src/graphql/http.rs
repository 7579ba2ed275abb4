//! GraphQL over HTTP: POST (JSON, batches), GET (queries only), GraphiQL for browsers.

use async_graphql::http::MultipartOptions;
use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse, ParseRequestError, Request};
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};

use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;

use crate::accounts::Accounts;
use crate::accounts::model::Role;
use crate::db::Db;
use crate::graphql::documents::{CheckedSchema, is_request_error};
use crate::graphql::loaders::insert_loaders;
use crate::graphql::viewer::{ClientAddr, RequestAuth};

/// The state of the GraphQL endpoints (HTTP and WebSocket): the schema, the accounts
/// (who a token names), the database (for each operation's DataLoaders) and the limits
/// the transport enforces.
#[derive(Clone)]
pub(crate) struct GraphqlEndpoint {
    pub schema: CheckedSchema,
    pub accounts: Accounts,
    pub db: Db,
    pub limits: std::sync::Arc<TransportLimits>,
}

/// What the transport enforces before the schema sees a request.
#[derive(Debug, Clone)]
pub(crate) struct TransportLimits {
    /// Largest JSON body (and WebSocket message), in bytes.
    pub max_body_bytes: usize,
    /// Largest image an upload may carry, in bytes.
    pub max_image_bytes: usize,
    pub max_batch_size: usize,
    /// Proxies whose X-Forwarded-For is believed.
    pub trusted_proxies: Vec<IpAddr>,
}

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// `POST /graphql`: one operation or a batch, as JSON or as a multipart upload. JSON
/// bodies are capped at MAX_BODY_BYTES; multipart ones at the image limit plus 1 MiB.
pub(crate) async fn graphql_post(
    State(app): State<Arc<GraphqlEndpoint>>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let limits = &app.limits;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let multipart = content_type
        .as_deref()
        .is_some_and(|t| t.starts_with("multipart/form-data"));
    if multipart && let Err(refusal) = uploader(&app, &parts.headers).await {
        // A small body is read and dropped first: closing a socket with unread bytes
        // resets it, and the client could lose the answer. A large one is not read.
        let small = http_body_util::Limited::new(body, REFUSED_BODY_DRAIN_BYTES);
        let drain = http_body_util::BodyExt::collect(small);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), drain).await;
        return closing(refusal.into_response());
    }
    let limit = if multipart {
        limits.max_image_bytes + UPLOAD_OVERHEAD_BYTES
    } else {
        limits.max_body_bytes
    };
    if parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|length| length > limit)
    {
        return closing(BadRequest::too_large().into_response());
    }
    let stream = axum::body::Body::new(http_body_util::Limited::new(body, limit))
        .into_data_stream()
        .map_err(|e| {
            let e = e.into_inner();
            if e.is::<http_body_util::LengthLimitError>() {
                std::io::Error::new(std::io::ErrorKind::FileTooLarge, "length limit exceeded")
            } else {
                std::io::Error::other(e)
            }
        });
    let mut reader = tokio_util::compat::TokioAsyncReadCompatExt::compat(
        tokio_util::io::StreamReader::new(stream),
    );
    if !multipart {
        let mut bytes = Vec::new();
        let read = futures_util::AsyncReadExt::read_to_end(&mut reader, &mut bytes);
        match tokio::time::timeout(BODY_TIMEOUT, read).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::FileTooLarge => {
                return closing(BadRequest::too_large().into_response());
            }
            Ok(Err(_)) => return BadRequest::message("invalid request body").into_response(),
            Err(_) => return body_too_slow().into_response(),
        }
        if let Err(message) = check_json_value_count(&bytes, MAX_JSON_VALUES) {
            return BadRequest::message(&message).into_response();
        }
        return match parse_json_body(&bytes) {
            Ok(batch) => execute(&app, &parts, batch).await,
            Err(e) => BadRequest::message(&body_error(&e)).into_response(),
        };
    }
    let options = MultipartOptions::default()
        .max_num_files(MAX_UPLOAD_FILES)
        .max_file_size(limits.max_image_bytes + UPLOAD_OVERHEAD_BYTES);
    let receive = async_graphql::http::receive_batch_body(content_type, reader, options);
    match tokio::time::timeout(BODY_TIMEOUT, receive).await {
        Ok(Ok(batch)) => execute(&app, &parts, batch).await,
        Ok(Err(e)) => BadRequest::from(e).into_response(),
        Err(_) => body_too_slow().into_response(),
    }
}

fn body_too_slow() -> BadRequest {
    BadRequest::refused(
        StatusCode::REQUEST_TIMEOUT,
        "BAD_USER_INPUT",
        "the request body took too long to arrive",
    )
}

/// The most JSON values (objects, lists, scalars) a request body may hold. A megabyte of
/// `[0,0,0,…]` in `variables` would otherwise become half a million values (tens of
/// megabytes) before any check could look at them; real variables hold tens or hundreds.
const MAX_JSON_VALUES: usize = 20_000;

/// Counts the values of a JSON text without parsing it (commas, brackets and braces
/// outside strings), and refuses more than `max`.
fn check_json_value_count(bytes: &[u8], max: usize) -> Result<(), String> {
    let mut values = 1usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b',' | b'[' | b'{' => {
                values += 1;
                if values > max {
                    return Err(format!(
                        "the request holds too many JSON values (at most {max})"
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// How long a whole request body may take to arrive: a client trickling a body holds a
/// connection slot (an image upload of the largest size over a slow line fits).
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Only admins upload (`uploadProductImage` is the one upload), and an upload body may be
/// several megabytes, all of it read (`operations` included) before any resolver runs:
/// who sends one is checked first, from the token, so that nobody else makes the server
/// read and parse megabytes.
async fn uploader(app: &GraphqlEndpoint, headers: &HeaderMap) -> Result<(), BadRequest> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let auth = RequestAuth::from_header(authorization, &app.accounts);
    match auth.user(&app.accounts).await {
        Ok(Some(user)) if matches!(user.role(), Role::Admin) => Ok(()),
        Ok(Some(_)) => Err(BadRequest::refused(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "uploads are for admins",
        )),
        _ => Err(BadRequest::refused(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "uploads need an admin's access token",
        )),
    }
}

/// Marks an answer given before the request's body was read: the connection then closes
/// (its unread bytes cannot be skipped), and the client must not send another request
/// on it.
fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The most of a refused upload's body that is read (and dropped) before answering.
const REFUSED_BODY_DRAIN_BYTES: usize = 64 * 1024;

/// Room for the `operations` and `map` parts beside the file in an upload.
const UPLOAD_OVERHEAD_BYTES: usize = 1024 * 1024;
/// Files one multipart request may carry (uploadProductImage takes one).
const MAX_UPLOAD_FILES: usize = 1;

/// `GET /graphql`: GraphiQL for a browser, otherwise a query from the query string.
pub(crate) async fn graphql_get(State(app): State<Arc<GraphqlEndpoint>>, parts: Parts) -> Response {
    let accepts_html = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if accepts_html {
        let mut page = crate::graphql::graphiql::page();
        page.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("accept"));
        return page;
    }
    let request = match request_of_query_string(&parts.uri) {
        Ok(request) => request,
        Err(message) => return BadRequest::message(&message).into_response(),
    };
    let mut prepared = match app.schema.prepare(request) {
        Ok(prepared) => prepared,
        Err(response) => return respond(&parts.headers, BatchResponse::Single(response)),
    };
    // GET is for queries: a mutation there could be triggered by a link or an image tag
    // (and a subscription needs the WebSocket).
    if prepared
        .operation_type()
        .is_some_and(|ty| ty != OperationType::Query)
    {
        let mut response = BadRequest::message("mutations need POST").into_response();
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    add_request_data(&app, &parts, &mut prepared.request);
    prepared.include_cost = wants_cost(&parts.headers);
    let response = app.schema.run(prepared).await;
    let mut response = respond(&parts.headers, BatchResponse::Single(response));
    // The same URL answers HTML or JSON by `Accept`, with or without the cost: caches
    // must keep them apart.
    response.headers_mut().insert(
        header::VARY,
        HeaderValue::from_static("accept, x-include-query-cost"),
    );
    response
}

/// A GET request's parameters (GraphQL over HTTP): `variables` and `extensions` are JSON
/// text. async-graphql's own parser of the query string misses `operationName`.
fn request_of_query_string(uri: &axum::http::Uri) -> Result<Request, String> {
    #[derive(Deserialize)]
    struct Params {
        #[serde(default)]
        query: String,
        #[serde(rename = "operationName")]
        operation_name: Option<String>,
        variables: Option<String>,
        extensions: Option<String>,
    }
    let axum::extract::Query(params) = axum::extract::Query::<Params>::try_from_uri(uri)
        .map_err(|e| format!("invalid query string: {}", e.body_text()))?;
    let mut request = Request::new(params.query);
    request.operation_name = params.operation_name.filter(|name| !name.is_empty());
    if let Some(variables) = params.variables.filter(|v| !v.is_empty()) {
        request.variables =
            serde_json::from_str(&variables).map_err(|e| format!("invalid variables: {e}"))?;
    }
    if let Some(extensions) = params.extensions.filter(|e| !e.is_empty()) {
        request.extensions =
            serde_json::from_str(&extensions).map_err(|e| format!("invalid extensions: {e}"))?;
    }
    Ok(request)
}

/// Who asks, from where, and loaders whose cache lives as long as the operation.
fn add_request_data(app: &GraphqlEndpoint, parts: &Parts, request: &mut Request) {
    let headers = &parts.headers;
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let client = ClientAddr(client_ip(peer, headers, &app.limits.trusted_proxies));
    request
        .data
        .insert(RequestAuth::from_header(authorization, &app.accounts));
    request.data.insert(client);
    insert_loaders(&mut request.data, &app.db, true);
}

/// Whether the client asked for each response's cost (`x-include-query-cost: 1`, as
/// Saleor's clients send it); other responses stay as small as they are.
fn wants_cost(headers: &HeaderMap) -> bool {
    headers
        .get("x-include-query-cost")
        .is_some_and(|v| v.as_bytes() == b"1")
}

async fn execute(app: &GraphqlEndpoint, parts: &Parts, batch: BatchRequest) -> Response {
    let include_cost = wants_cost(&parts.headers);
    let run = async |mut request: Request| {
        add_request_data(app, parts, &mut request);
        match app.schema.prepare(request) {
            Ok(mut prepared) => {
                prepared.include_cost = include_cost;
                app.schema.run(prepared).await
            }
            Err(response) => response,
        }
    };
    let response = match batch {
        BatchRequest::Single(request) => BatchResponse::Single(run(request).await),
        BatchRequest::Batch(requests) => {
            if requests.is_empty() {
                return BadRequest::message("a batch must hold at least one operation")
                    .into_response();
            }
            if requests.len() > app.limits.max_batch_size {
                return BadRequest::message(&format!(
                    "a batch may hold at most {} operations",
                    app.limits.max_batch_size
                ))
                .into_response();
            }
            let mut responses = Vec::with_capacity(requests.len());
            for request in requests {
                responses.push(run(request).await);
            }
            BatchResponse::Batch(responses)
        }
    };
    respond(&parts.headers, response)
}

/// One operation (an object) or a batch (an array), told apart by the first byte:
/// async-graphql's untagged `BatchRequest` would read an array as one request's fields
/// in order (`[]` became an empty document, `["{ a }"]` a query).
fn parse_json_body(bytes: &[u8]) -> Result<BatchRequest, serde_json::Error> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => serde_json::from_slice(bytes).map(BatchRequest::Batch),
        _ => serde_json::from_slice(bytes).map(BatchRequest::Single),
    }
}

/// What was wrong with a JSON body: where the JSON broke, or that it was JSON of
/// another shape (serde's words for that name an internal type).
fn body_error(error: &serde_json::Error) -> String {
    match error.classify() {
        serde_json::error::Category::Data => "invalid request body: expected an object with \
            `query` (and optional `variables`, `operationName`, `extensions`), or an array of \
            them"
            .to_owned(),
        _ => format!("invalid request body: {error}"),
    }
}

/// The client's address: the peer, or, when the peer is a trusted proxy, the nearest
/// untrusted hop of X-Forwarded-For (the entries further left are the client's word).
pub(crate) fn client_ip(
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let peer = peer?.ip();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|hop| !trusted.contains(hop))
            .unwrap_or(peer),
    )
}

/// Serialises per the GraphQL-over-HTTP spec: `application/graphql-response+json` (with
/// 4xx for request errors) when the client accepts it, else `application/json` and 200.
fn respond(headers: &HeaderMap, response: BatchResponse) -> Response {
    let modern = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(GRAPHQL_RESPONSE_JSON));
    let status = match &response {
        BatchResponse::Single(r) if modern && is_request_error(r) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    let body = serde_json::to_vec(&response).unwrap_or_else(|_| b"{}".to_vec());
    let content_type = if modern {
        GRAPHQL_RESPONSE_JSON
    } else {
        "application/json"
    };
    let mut http = (status, body).into_response();
    http.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    http
}

/// A request the server would not read: a GraphQL-shaped error with its code and status
/// (400 `BAD_USER_INPUT`, 413 for a body over the limit, 401/403 for an upload by someone
/// who may not upload).
pub(crate) struct BadRequest {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl BadRequest {
    fn too_large() -> Self {
        BadRequest {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "BAD_USER_INPUT",
            message: "request body too large".to_owned(),
        }
    }

    fn message(message: &str) -> Self {
        BadRequest {
            status: StatusCode::BAD_REQUEST,
            code: "BAD_USER_INPUT",
            message: message.to_owned(),
        }
    }

    fn refused(status: StatusCode, code: &'static str, message: &str) -> Self {
        BadRequest {
            status,
            code,
            message: message.to_owned(),
        }
    }
}

impl From<ParseRequestError> for BadRequest {
    fn from(err: ParseRequestError) -> Self {
        match err {
            ParseRequestError::PayloadTooLarge => BadRequest::too_large(),
            ParseRequestError::Io(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
                BadRequest::too_large()
            }
            ParseRequestError::InvalidRequest(e) => {
                BadRequest::message(&format!("invalid request body: {e}"))
            }
            ParseRequestError::InvalidFilesMap(_) | ParseRequestError::InvalidMultipart(_) => {
                BadRequest::message("invalid multipart request")
            }
            ParseRequestError::MissingOperatorsPart | ParseRequestError::MissingMapPart => {
                BadRequest::message("invalid multipart request: missing part")
            }
            ParseRequestError::NotUpload => {
                BadRequest::message("invalid multipart request: not an upload")
            }
            ParseRequestError::MissingFiles => {
                BadRequest::message("invalid multipart request: missing files")
            }
            _ => BadRequest::message("invalid request body"),
        }
    }
}

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "errors": [{ "message": self.message, "extensions": { "code": self.code } }]
        });
        (self.status, axum::Json(body)).into_response()
    }
}
