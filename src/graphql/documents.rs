//! From a request's text to a checked document, before async-graphql executes it: Apollo
//! persisted queries (APQ), a cache of parsed documents, and the alias limit.
//!
//! This is done here, not with async-graphql extensions, because a schema with any
//! extension sends every resolved field through the extension chain (a registry lookup
//! and a formatted type name per field); on a catalog page that chain cost about an
//! eighth of the server's CPU (bench/RESULTS.md). Both HTTP and WebSocket requests go
//! through [`CheckedSchema`], so the two transports check the same things.

use std::sync::Arc;

use async_graphql::extensions::apollo_persisted_queries::{CacheStorage, LruCacheStorage};
use async_graphql::futures_util::stream::{self, BoxStream, StreamExt};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Data, Executor, Request, Response, ServerError};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::graphql::limits::check_aliases;
use crate::graphql::schema::AppSchema;

/// The schema behind the document checks; what the HTTP and WebSocket endpoints execute.
#[derive(Clone)]
pub struct CheckedSchema {
    schema: AppSchema,
    documents: Documents,
}

impl CheckedSchema {
    pub fn new(schema: AppSchema, cache_size: usize, max_aliases: usize) -> Self {
        CheckedSchema {
            schema,
            documents: Documents {
                cache: LruCacheStorage::new(cache_size.max(1)),
                max_aliases,
            },
        }
    }
}

impl Executor for CheckedSchema {
    async fn execute(&self, request: Request) -> Response {
        match self.documents.prepare(request).await {
            Ok(request) => self.schema.execute(request).await,
            Err(error) => Response::from_errors(vec![error]),
        }
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let this = self.clone();
        stream::once(async move {
            match this.documents.prepare(request).await {
                Ok(request) => this
                    .schema
                    .execute_stream_with_session_data(request, session_data.unwrap_or_default()),
                Err(error) => stream::once(async { Response::from_errors(vec![error]) }).boxed(),
            }
        })
        .flatten()
        .boxed()
    }
}

/// Parsed documents that passed the checks, by the SHA-256 of their text: the same map
/// serves APQ (clients send only the hash once the server knows the text) and spares
/// re-parsing the queries a client sends again and again. A bounded LRU per process
/// (APQ_CACHE_SIZE); a miss only costs a parse.
#[derive(Clone)]
struct Documents {
    cache: LruCacheStorage,
    max_aliases: usize,
}

/// The `persistedQuery` request extension of Apollo's APQ protocol.
#[derive(Deserialize)]
struct PersistedQuery {
    version: i32,
    #[serde(rename = "sha256Hash")]
    sha256_hash: String,
}

impl Documents {
    /// The request with its checked document attached, or the error to answer with.
    async fn prepare(&self, mut request: Request) -> Result<Request, ServerError> {
        let hash = match request.extensions.remove("persistedQuery") {
            Some(value) => {
                let persisted: PersistedQuery = async_graphql::from_value(value).map_err(|_| {
                    ServerError::new("Invalid \"PersistedQuery\" extension configuration.", None)
                })?;
                if persisted.version != 1 {
                    return Err(ServerError::new(
                        "Only version 1 of the \"PersistedQuery\" extension is supported.",
                        None,
                    ));
                }
                if request.query.is_empty() {
                    let document = self
                        .cache
                        .get(persisted.sha256_hash)
                        .await
                        .ok_or_else(|| ServerError::new("PersistedQueryNotFound", None))?;
                    request.set_parsed_query(document);
                    return Ok(request);
                }
                let hash = sha256_hex(&request.query);
                if persisted.sha256_hash != hash {
                    return Err(ServerError::new("provided sha does not match query", None));
                }
                hash
            }
            None => sha256_hex(&request.query),
        };
        let document = match self.cache.get(hash.clone()).await {
            Some(document) => document,
            None => {
                let document = self.parse(&request.query)?;
                self.cache.set(hash, document.clone()).await;
                document
            }
        };
        request.set_parsed_query(document);
        Ok(request)
    }

    fn parse(&self, query: &str) -> Result<ExecutableDocument, ServerError> {
        let document = async_graphql::parser::parse_query(query)?;
        check_aliases(&document, self.max_aliases)?;
        Ok(document)
    }
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}
