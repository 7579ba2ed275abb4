//! From a request's text to a checked document and back to a finished response, around
//! async-graphql's execution: the text limits, Apollo persisted queries (APQ), a cache of
//! parsed documents, the alias limit, the refusal of NUL in text, the deeper depth
//! allowance of introspection queries, and on the way out null propagation, error codes
//! and a cap on error messages.
//!
//! This is done here, not with async-graphql extensions, because a schema with any
//! extension sends every resolved field through the extension chain (a registry lookup
//! and a formatted type name per field); on a catalog page that chain cost about an
//! eighth of the server's CPU (bench/RESULTS.md). HTTP (POST, GET, multipart) and
//! WebSocket requests all go through [`CheckedSchema`], so every transport checks the
//! same things.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use async_graphql::futures_util::stream::{self, BoxStream, StreamExt};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection,
};
use async_graphql::{Data, Executor, Request, Response, ServerError};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::config::Config;
use crate::graphql::limits::{
    TextLimits, check_aliases, check_document_text, check_document_text_values,
    check_expanded_size, check_variable_text, with_code,
};
use crate::graphql::measure::CostSlot;
use crate::graphql::null_propagation::{OutputTypes, propagate_nulls, selected_operation};
use crate::graphql::revalidation::Revalidation;
use crate::graphql::schema::{AppSchema, Handles, build_schema_with};
use crate::telemetry::metrics::{self, OperationLabels, Outcome};
use crate::telemetry::traces_enabled;

/// The longest error message a response carries: a message may quote the client's text
/// (a syntax error its line, a validation error a name), which must not come back
/// megabytes long.
pub(crate) const MAX_ERROR_MESSAGE_CHARS: usize = 1000;

/// How deep an introspection query may be. The standard ones (graphql-js's
/// `getIntrospectionQuery`, which GraphiQL, Apollo and code generators send) are 15
/// levels deep with their nested `ofType`s, over the depth limit for ordinary queries;
/// they stay bounded by this depth, the complexity limit and the text limits.
pub(crate) const INTROSPECTION_MAX_DEPTH: usize = 20;

/// The schema behind the document checks; what the HTTP and WebSocket endpoints execute.
#[derive(Clone)]
pub(crate) struct CheckedSchema {
    plain: Schemas,
    /// The plain schema with fast validation, for cached documents that passed the full
    /// one (`graphql::revalidation`).
    fast: AppSchema,
    /// The same with the cost-counting extension (`graphql::measure`), for requests that
    /// ask for their cost and for traced ones; made on first use (at start while
    /// traces are on).
    measured: Arc<OnceLock<Schemas>>,
    build_measured: Arc<dyn Fn() -> Schemas + Send + Sync>,
    max_complexity: usize,
    documents: Arc<Documents>,
    types: Arc<OutputTypes>,
}

/// The ordinary schema and, when introspection is on, the same with the depth that
/// introspection queries need.
#[derive(Clone)]
pub(crate) struct Schemas {
    pub schema: AppSchema,
    pub introspection: Option<AppSchema>,
}

/// What documents may be and how many parsed ones are kept.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DocumentLimits {
    pub text: TextLimits,
    pub max_aliases: usize,
    /// Parsed documents kept; 0 turns the cache and persisted queries off.
    pub cache_size: usize,
}

/// The schemas the server executes, with the limits of `config`.
pub(crate) fn checked_schema(config: &Config, handles: &Handles) -> CheckedSchema {
    let limits = DocumentLimits {
        text: TextLimits {
            max_bytes: config.limits.max_query_bytes,
            max_tokens: config.limits.max_query_tokens,
        },
        max_aliases: config.limits.max_aliases,
        cache_size: config.limits.apq_cache_size,
    };
    let max_complexity = config.limits.max_query_complexity;
    let fast = build_schema_with(
        config,
        Some(handles),
        config.limits.max_query_depth,
        false,
        true,
    );
    let (config, handles) = (config.clone(), handles.clone());
    let build = move |measured| {
        let introspection = config.introspection_enabled().then(|| {
            let depth = config.limits.max_query_depth.max(INTROSPECTION_MAX_DEPTH);
            build_schema_with(&config, Some(&handles), depth, measured, false)
        });
        let schema = build_schema_with(
            &config,
            Some(&handles),
            config.limits.max_query_depth,
            measured,
            false,
        );
        Schemas {
            schema,
            introspection,
        }
    };
    CheckedSchema::new(
        build(false),
        fast,
        Arc::new(move || build(true)),
        max_complexity,
        limits,
    )
}

impl CheckedSchema {
    pub(crate) fn new(
        plain: Schemas,
        fast: AppSchema,
        build_measured: Arc<dyn Fn() -> Schemas + Send + Sync>,
        max_complexity: usize,
        limits: DocumentLimits,
    ) -> Self {
        let types = OutputTypes::from_sdl(&plain.schema.sdl());
        let measured = Arc::new(OnceLock::new());
        if traces_enabled() {
            // Traced requests use it from the first one on: made now, not on a request.
            let _ = measured.set(build_measured());
        }
        CheckedSchema {
            plain,
            fast,
            measured,
            build_measured,
            max_complexity,
            documents: Arc::new(Documents {
                cache: NonZeroUsize::new(limits.cache_size).map(|size| {
                    Mutex::new(DocumentCache {
                        entries: lru::LruCache::new(size),
                        tokens: 0,
                    })
                }),
                limits,
            }),
            types: Arc::new(types),
        }
    }

    /// Checks the request's document (parsing it unless it is cached) and its variables.
    #[expect(
        clippy::result_large_err,
        reason = "the refusal is the response itself, made once per request; Prepared is as large"
    )]
    pub(crate) fn prepare(&self, mut request: Request) -> Result<Prepared, Response> {
        let checked = self
            .documents
            .document_of(&mut request)
            .and_then(|document| check_variable_text(&request.variables).map(|()| document));
        let (document, revalidation) = match checked {
            Ok(document) => document,
            Err(error) => {
                let response = finish_error(error);
                // A document that did not parse has no name of its own to label.
                let name = match request.operation_name.as_deref() {
                    Some(name) => metrics::operation_name_label(Some(name), false),
                    None => metrics::OTHER.clone(),
                };
                let labels = OperationLabels {
                    name,
                    kind: "unknown",
                };
                metrics::operation(&labels, Outcome::Rejected, None);
                metrics::errors(&response.errors);
                return Err(response);
            }
        };
        request.set_parsed_query((*document).clone());
        Ok(Prepared {
            request,
            document,
            revalidation,
            include_cost: false,
        })
    }

    /// Executes a prepared request and finishes its response, in a span that names the
    /// operation, so that what it logs (an internal error, say) says which one it was.
    pub(crate) async fn run(&self, prepared: Prepared) -> Response {
        let started = Instant::now();
        let kind = prepared.kind_label();
        let span = operation_span(&prepared, kind);
        let Prepared {
            mut request,
            document,
            revalidation,
            include_cost,
        } = prepared;
        let operation_name = request.operation_name.clone();
        // A traced request is measured (its root fields get spans); one whose trace is
        // not sampled pays for nothing of it.
        let measured = include_cost || is_traced();
        let cost = measured.then(CostSlot::default);
        if let Some(cost) = &cost {
            request.data.insert(cost.clone());
        }
        // Validated in full until the document has passed once (the measured schema,
        // for the cost it reports, always validates in full).
        let revalidation = revalidation.filter(|_| !measured);
        let fast = revalidation
            .as_ref()
            .is_some_and(|r| r.may_skip(&request.variables))
            && !self.is_introspection_run(&document, operation_name.as_deref());
        let schema = if fast {
            &self.fast
        } else {
            self.schema_for(&document, operation_name.as_deref(), measured)
        };
        let mut response = schema.execute(request).instrument(span.clone()).await;
        if let Some(revalidation) = revalidation.filter(|_| !fast)
            && !is_request_error(&response)
        {
            revalidation.passed();
        }
        if !response.errors.is_empty() {
            span.in_scope(|| log_field_errors(&response));
        }
        self.finish(&mut response, &document, operation_name.as_deref());
        if let Some(cost) = cost.and_then(|slot| slot.get()) {
            // As i64: OpenTelemetry has no unsigned integers (a u64 would arrive as text).
            span.record("complexity", cost.complexity as i64);
            span.record("depth", cost.depth as i64);
            if include_cost {
                response.extensions.insert(
                    "cost".to_owned(),
                    async_graphql::value!({
                        "requestedQueryCost": cost.complexity,
                        "maximumAvailable": self.max_complexity,
                    }),
                );
            }
        }
        count_operation(
            &document,
            operation_name.as_deref(),
            kind,
            outcome_of(&response),
            Some(started.elapsed()),
        );
        metrics::errors(&response.errors);
        response
    }

    /// Whether the operation runs with the introspection schema (its deeper limit).
    fn is_introspection_run(&self, document: &ExecutableDocument, operation: Option<&str>) -> bool {
        self.plain.introspection.is_some() && is_introspection(document, operation)
    }

    fn schema_for(
        &self,
        document: &ExecutableDocument,
        operation: Option<&str>,
        measured: bool,
    ) -> &AppSchema {
        let schemas = if measured {
            self.measured.get_or_init(|| (self.build_measured)())
        } else {
            &self.plain
        };
        match &schemas.introspection {
            Some(introspection) if is_introspection(document, operation) => introspection,
            _ => &schemas.schema,
        }
    }

    fn finish(
        &self,
        response: &mut Response,
        document: &ExecutableDocument,
        operation: Option<&str>,
    ) {
        propagate_nulls(response, document, operation, &self.types);
        finish_errors(&mut response.errors);
    }
}

/// Whether the current request is traced and its trace kept.
fn is_traced() -> bool {
    traces_enabled() && crate::telemetry::traces::current_is_sampled()
}

/// A request that failed before execution (parse, validation, limits) has no data and
/// errors without a path.
pub(crate) fn is_request_error(response: &Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

fn outcome_of(response: &Response) -> Outcome {
    if response.errors.is_empty() {
        Outcome::Ok
    } else if is_request_error(response) {
        Outcome::Rejected
    } else {
        Outcome::Error
    }
}

/// The name of the operation a request runs: the one it asks for, or the name of the
/// document's only operation.
fn operation_name_of<'a>(
    document: &'a ExecutableDocument,
    requested: Option<&'a str>,
) -> Option<&'a str> {
    match (requested, &document.operations) {
        (Some(name), _) => Some(name),
        (None, DocumentOperations::Multiple(operations)) if operations.len() == 1 => {
            operations.keys().next().map(|name| name.as_str())
        }
        _ => None,
    }
}

/// One event per field error, in the operation's span, naming the field's path and the
/// error's code: what a client was told, findable by operation. (Internal errors are
/// also logged with their cause where they are masked, `AppError::into_graphql`.)
fn log_field_errors(response: &Response) {
    for error in &response.errors {
        if error.path.is_empty() {
            continue;
        }
        let path = error
            .path
            .iter()
            .map(|segment| match segment {
                async_graphql::PathSegment::Field(name) => name.clone(),
                async_graphql::PathSegment::Index(i) => i.to_string(),
            })
            .collect::<Vec<_>>()
            .join(".");
        let code = match error.extensions.as_ref().and_then(|e| e.get("code")) {
            Some(async_graphql::Value::String(code)) => code.as_str(),
            _ => "-",
        };
        tracing::info!(path, code, "field error");
    }
}

/// `graphql{operation=PlaceOrder kind=mutation}`: the operation's name (the first 64
/// characters; `-` for an anonymous operation) and type; its complexity and depth are
/// recorded once validation has counted them (when the request is measured).
fn operation_span(prepared: &Prepared, kind: &'static str) -> tracing::Span {
    let name = operation_name_of(
        &prepared.document,
        prepared.request.operation_name.as_deref(),
    )
    .unwrap_or("-");
    let name = name
        .char_indices()
        .nth(64)
        .map_or(name, |(end, _)| &name[..end]);
    let span = tracing::info_span!(
        "graphql",
        otel.name = tracing::field::Empty,
        operation = %name,
        kind,
        complexity = tracing::field::Empty,
        depth = tracing::field::Empty,
    );
    if traces_enabled() {
        span.record("otel.name", format!("{kind} {name}"));
    }
    span
}

/// A request whose document passed the checks, ready to run.
pub(crate) struct Prepared {
    pub request: Request,
    document: Arc<ExecutableDocument>,
    /// What is known of the cached document's validation; `None` when not cached.
    revalidation: Option<Arc<Revalidation>>,
    /// Whether the response carries `extensions.cost` (`x-include-query-cost: 1`).
    pub include_cost: bool,
}

impl Prepared {
    /// The type of the operation the request selects (`None` when it names none of the
    /// document's operations: execution then reports that).
    pub(crate) fn operation_type(&self) -> Option<OperationType> {
        selected_operation(&self.document, self.request.operation_name.as_deref()).map(|(ty, _)| ty)
    }

    fn kind_label(&self) -> &'static str {
        match self.operation_type() {
            Some(OperationType::Query) => "query",
            Some(OperationType::Mutation) => "mutation",
            Some(OperationType::Subscription) => "subscription",
            None => "unknown",
        }
    }
}

impl Executor for CheckedSchema {
    async fn execute(&self, request: Request) -> Response {
        match self.prepare(request) {
            Ok(prepared) => self.run(prepared).await,
            Err(response) => response,
        }
    }

    /// Subscriptions (and any operation sent over the WebSocket): see
    /// [`StreamOperation`]; every response's errors are counted by code.
    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let this = self.clone();
        stream::once(async move {
            let prepared = match this.prepare(request) {
                Ok(prepared) => prepared,
                Err(response) => return stream::once(async { response }).boxed(),
            };
            let kind = prepared.kind_label();
            let span = operation_span(&prepared, kind);
            let Prepared {
                request, document, ..
            } = prepared;
            let operation_name = request.operation_name.clone();
            let schema = this
                .schema_for(&document, operation_name.as_deref(), is_traced())
                .clone();
            let mut counted = StreamOperation {
                document: document.clone(),
                operation_name: operation_name.clone(),
                kind,
                started: Instant::now(),
                counted: false,
                _open: (kind == "subscription").then(metrics::SubscriptionOpen::start),
            };
            let mut responses =
                schema.execute_stream_with_session_data(request, session_data.unwrap_or_default());
            // Polled inside the operation's span: what its resolvers log and query is the
            // operation's.
            let in_span = span.clone();
            let responses = stream::poll_fn(move |cx| {
                let _entered = in_span.enter();
                responses.poll_next_unpin(cx)
            });
            let responses = responses.map(move |mut response| {
                if !response.errors.is_empty() {
                    span.in_scope(|| log_field_errors(&response));
                }
                this.finish(&mut response, &document, operation_name.as_deref());
                counted.count(outcome_of(&response));
                metrics::errors(&response.errors);
                response
            });
            responses.boxed()
        })
        .flatten()
        .boxed()
    }
}

/// An operation over the WebSocket, for the metrics: open (a subscription) while its
/// stream lives, counted once, at its first response or, if it sent none, when it ends.
struct StreamOperation {
    document: Arc<ExecutableDocument>,
    operation_name: Option<String>,
    kind: &'static str,
    started: Instant,
    counted: bool,
    _open: Option<metrics::SubscriptionOpen>,
}

impl StreamOperation {
    fn count(&mut self, outcome: Outcome) {
        if std::mem::replace(&mut self.counted, true) {
            return;
        }
        // A subscription's first event may come hours later: not a latency.
        let elapsed = (self.kind != "subscription").then(|| self.started.elapsed());
        let name = self.operation_name.as_deref();
        count_operation(&self.document, name, self.kind, outcome, elapsed);
    }
}

/// Counts one operation of `document` in the metrics; its name is labelled only if it
/// ran (see `metrics::operation_name_label`).
fn count_operation(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    kind: &'static str,
    outcome: Outcome,
    elapsed: Option<std::time::Duration>,
) {
    let labels = OperationLabels {
        name: metrics::operation_name_label(
            operation_name_of(document, operation_name),
            outcome != Outcome::Rejected,
        ),
        kind,
    };
    metrics::operation(&labels, outcome, elapsed);
}

impl Drop for StreamOperation {
    fn drop(&mut self) {
        self.count(Outcome::Ok);
    }
}

/// Parsed documents that passed the checks, by their text and by its SHA-256: the same
/// map serves APQ (clients send only the hash once the server knows the text) and spares
/// re-parsing the queries a client sends again and again. A bounded LRU per process
/// (APQ_CACHE_SIZE); a miss only costs a parse.
struct Documents {
    cache: Option<Mutex<DocumentCache>>,
    limits: DocumentLimits,
}

/// A parsed document costs about 250 bytes per token, so the cache is bounded by the
/// tokens it holds as well as by its entries: a client sending a thousand distinct
/// documents of the largest accepted size would otherwise pin gigabytes (measured: 100
/// cached 15,000-token documents took the process from 13 to 393 MB). 100,000 tokens are
/// about 25 MB, and hold the 1,000 entries of APQ_CACHE_SIZE at 100 tokens each.
const CACHE_TOKEN_BUDGET: usize = 100_000;
/// Larger documents are parsed for each request instead: one of them cannot evict
/// hundreds of ordinary ones. Typical operations have tens to hundreds of tokens, the
/// standard introspection query about 350.
const MAX_CACHED_DOCUMENT_TOKENS: usize = 5_000;
/// About what a parsed token costs: a cache key's text is counted at this rate.
const BYTES_PER_TOKEN: usize = 250;

/// A cached document and what is known of its validation.
type Checked = (Arc<ExecutableDocument>, Option<Arc<Revalidation>>);

struct Cached {
    document: Arc<ExecutableDocument>,
    revalidation: Arc<Revalidation>,
    /// What the entry counts against the budget: the document's tokens and its key's.
    tokens: usize,
}

/// Entries are found by a document's text (plain requests: no hashing at all) and by
/// [`hash_key`] (APQ clients that send only the hash).
struct DocumentCache {
    entries: lru::LruCache<String, Arc<Cached>>,
    tokens: usize,
}

/// The key of a document by its SHA-256: the hex behind a NUL, which no document text
/// holds (NUL is refused in text), so it never meets a text key.
fn hash_key(sha256_hex: &str) -> String {
    format!("\0{sha256_hex}")
}

impl DocumentCache {
    fn get(&mut self, key: &str) -> Option<Checked> {
        self.entries
            .get(key)
            .map(|cached| (cached.document.clone(), Some(cached.revalidation.clone())))
    }

    /// Keeps `document` under `keys` unless it is too large; returns what the request
    /// runs with. Each key's entry counts the document's tokens and its key's bytes (a
    /// text key may be mostly comments, which are no tokens), at [`BYTES_PER_TOKEN`];
    /// the budget errs high.
    fn put(
        &mut self,
        keys: Vec<String>,
        document: Arc<ExecutableDocument>,
        tokens: usize,
    ) -> Checked {
        if tokens > MAX_CACHED_DOCUMENT_TOKENS {
            return (document, None);
        }
        let revalidation = Arc::new(Revalidation::of(&document));
        for key in keys {
            let cost = tokens + key.len().div_ceil(BYTES_PER_TOKEN);
            let cached = Arc::new(Cached {
                document: document.clone(),
                revalidation: revalidation.clone(),
                tokens: cost,
            });
            while self.tokens + cost > CACHE_TOKEN_BUDGET {
                match self.entries.pop_lru() {
                    Some((_, evicted)) => self.tokens -= evicted.tokens,
                    None => break,
                }
            }
            if let Some((_, replaced)) = self.entries.push(key, cached) {
                self.tokens -= replaced.tokens;
            }
            self.tokens += cost;
        }
        (document, Some(revalidation))
    }
}

/// The `persistedQuery` request extension of Apollo's APQ protocol.
#[derive(Deserialize)]
struct PersistedQuery {
    version: i32,
    #[serde(rename = "sha256Hash")]
    sha256_hash: String,
}

impl Documents {
    /// The checked document of `request`: from the cache, or parsed and checked.
    fn document_of(&self, request: &mut Request) -> Result<Checked, ServerError> {
        let Some(value) = request.extensions.remove("persistedQuery") else {
            // A plain request: found by its text. A text that starts with NUL is never
            // looked up (it could spell a hash key); parsing refuses it.
            if !request.query.starts_with('\0')
                && let Some(found) = self.cached(&request.query)
            {
                return Ok(found);
            }
            let (document, tokens) = parse_checked(&request.query, &self.limits)?;
            // Kept by its hash too: an APQ client may ask for it by hash later.
            let keys = || vec![request.query.clone(), hash_key(&sha256_hex(&request.query))];
            return Ok(self.keep(keys, document, tokens));
        };
        if self.cache.is_none() {
            return Err(with_code(
                ServerError::new("PersistedQueryNotSupported", None),
                "PERSISTED_QUERY_NOT_SUPPORTED",
            ));
        }
        let persisted: PersistedQuery = async_graphql::from_value(value)
            .map_err(|_| bad_input("Invalid \"PersistedQuery\" extension configuration."))?;
        if persisted.version != 1 {
            return Err(bad_input(
                "Only version 1 of the \"PersistedQuery\" extension is supported.",
            ));
        }
        if request.query.is_empty() {
            return self
                .cached(&hash_key(&persisted.sha256_hash))
                .ok_or_else(|| {
                    with_code(
                        ServerError::new("PersistedQueryNotFound", None),
                        "PERSISTED_QUERY_NOT_FOUND",
                    )
                });
        }
        let hash = sha256_hex(&request.query);
        if persisted.sha256_hash != hash {
            return Err(bad_input("provided sha does not match query"));
        }
        let key = hash_key(&hash);
        if let Some(found) = self.cached(&key) {
            return Ok(found);
        }
        let (document, tokens) = parse_checked(&request.query, &self.limits)?;
        Ok(self.keep(|| vec![key], document, tokens))
    }

    /// The request's document, kept under `keys` when there is a cache.
    fn keep(
        &self,
        keys: impl FnOnce() -> Vec<String>,
        document: ExecutableDocument,
        tokens: usize,
    ) -> Checked {
        let document = Arc::new(document);
        match &self.cache {
            Some(cache) => lock(cache).put(keys(), document, tokens),
            None => (document, None),
        }
    }

    fn cached(&self, key: &str) -> Option<Checked> {
        let cache = self.cache.as_ref()?;
        lock(cache).get(key)
    }
}

/// A poisoned lock only means another request panicked while holding it; the cache is a
/// map of immutable documents and stays usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Parses `text` after the text limits, then applies the document checks; returns the
/// document and its token count.
fn parse_checked(
    text: &str,
    limits: &DocumentLimits,
) -> Result<(ExecutableDocument, usize), ServerError> {
    let tokens = check_document_text(text, limits.text)?;
    let document = async_graphql::parser::parse_query(text).map_err(syntax_error)?;
    check_aliases(&document, limits.max_aliases)?;
    check_expanded_size(&document, limits.text.max_tokens)?;
    check_document_text_values(&document)?;
    Ok((document, tokens))
}

/// A parse error without the quoted source line: pest prints the whole line and a caret
/// line under it, which for a one-line document is the document twice.
fn syntax_error(error: async_graphql::parser::Error) -> ServerError {
    let positions: Vec<_> = error.positions().collect();
    let message = match &error {
        async_graphql::parser::Error::Syntax { message, start, .. } => {
            let expected = message
                .lines()
                .rev()
                .find_map(|line| line.trim_start().strip_prefix("= "))
                .unwrap_or("syntax error");
            format!(
                "Syntax error at line {}, column {}: {expected}",
                start.line, start.column
            )
        }
        other => other.to_string(),
    };
    with_code(
        ServerError::new(message, positions.first().copied()),
        "BAD_USER_INPUT",
    )
}

fn bad_input(message: &str) -> ServerError {
    with_code(ServerError::new(message, None), "BAD_USER_INPUT")
}

fn finish_error(error: ServerError) -> Response {
    let mut response = Response::from_errors(vec![error]);
    finish_errors(&mut response.errors);
    response
}

/// The most errors a response lists: a short document of unknown fields can otherwise
/// make thousands of them.
pub(crate) const MAX_ERRORS: usize = 100;

/// Keeps the first [`MAX_ERRORS`] errors (and says so), gives every error a `code`
/// (async-graphql's own parse, validation and limit errors have none) and caps its
/// message.
fn finish_errors(errors: &mut Vec<ServerError>) {
    if errors.len() > MAX_ERRORS {
        let dropped = errors.len() - MAX_ERRORS;
        errors.truncate(MAX_ERRORS);
        errors.push(ServerError::new(
            format!("{dropped} more errors were left out."),
            None,
        ));
    }
    for error in errors {
        if let Some((cut, _)) = error.message.char_indices().nth(MAX_ERROR_MESSAGE_CHARS) {
            error.message.truncate(cut);
            error.message.push('…');
        }
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            let limits = [
                "too complex",
                "too deep",
                "recursion limit",
                "recursion depth",
            ];
            let code = if limits.iter().any(|l| error.message.contains(l)) {
                "QUERY_TOO_COMPLEX"
            } else {
                "BAD_USER_INPUT"
            };
            extensions.set("code", code);
        }
    }
}

/// Whether the selected operation is a query that asks only for `__schema`, `__type`
/// and `__typename` at its root (through fragments too): such a query reads the schema,
/// not the shop, and may be as deep as the standard introspection queries are.
fn is_introspection(document: &ExecutableDocument, operation: Option<&str>) -> bool {
    let Some((OperationType::Query, root)) = selected_operation(document, operation) else {
        return false;
    };
    let mut seen_fragments = std::collections::HashSet::new();
    let mut stack = vec![root];
    let mut any_field = false;
    while let Some(set) = stack.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    if !matches!(name, "__schema" | "__type" | "__typename") {
                        return false;
                    }
                    any_field = true;
                }
                Selection::InlineFragment(fragment) => {
                    stack.push(&fragment.node.selection_set.node)
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    if seen_fragments.insert(name.clone())
                        && let Some(fragment) = document.fragments.get(name)
                    {
                        stack.push(&fragment.node.selection_set.node);
                    }
                }
            }
        }
    }
    any_field
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}
