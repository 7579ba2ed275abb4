//! Subscriptions over WebSocket at /graphql/ws (`graphql-transport-ws`, and the legacy
//! `graphql-ws`). The access token comes in `connection_init`; without a valid one the
//! connection is closed with 4403 before any subscription starts.

use async_graphql::Data;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tracing::Instrument;

use crate::graphql::http::GraphqlEndpoint;
use crate::graphql::loaders::insert_loaders;
use crate::graphql::viewer::{Bearer, RequestAuth};
use crate::server::ConnectionSlot;

/// Close code for a refused `connection_init` (the graphql-transport-ws "Forbidden").
const FORBIDDEN: u16 = 4403;
/// Close code for a connection that sent no `connection_init` in time.
const INIT_TIMEOUT: u16 = 4408;
/// How long a new connection may take to send `connection_init`: an upgraded socket that
/// never speaks would otherwise hold a file for good.
const INIT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

pub(crate) async fn graphql_ws(
    State(app): State<Arc<GraphqlEndpoint>>,
    slot: Option<Extension<ConnectionSlot>>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    // A message is at most what a POST body may be: the same documents and variables.
    let max_message = app.limits.max_body_bytes;
    // The connection lives on in the upgrade's request span: what its operations log
    // carries that request's id.
    let span = tracing::Span::current();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .on_upgrade(move |socket| {
            async move {
                serve(app, protocol, socket).await;
                drop(slot);
            }
            .instrument(span)
        })
}

async fn serve(app: Arc<GraphqlEndpoint>, protocol: GraphQLProtocol, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    // The first message must be connection_init with a valid token.
    let first = async {
        loop {
            match stream.next().await {
                Some(Ok(Message::Text(text))) => return Some(text),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                _ => return None,
            }
        }
    };
    let first = match tokio::time::timeout(INIT_DEADLINE, first).await {
        Ok(Some(first)) => first,
        Ok(None) => return,
        Err(_) => {
            let frame = CloseFrame {
                code: INIT_TIMEOUT,
                reason: "Connection initialisation timeout".into(),
            };
            let _ = sink.send(Message::Close(Some(frame))).await;
            return;
        }
    };
    let auth = match bearer_of_init(first.as_str()) {
        Some(header) => RequestAuth::from_header(Some(&header), &app.accounts),
        None => RequestAuth::new(Bearer::Invalid),
    };
    if !matches!(auth.user(&app.accounts).await, Ok(Some(_))) {
        let frame = CloseFrame {
            code: FORBIDDEN,
            reason: "Forbidden".into(),
        };
        let _ = sink.send(Message::Close(Some(frame))).await;
        return;
    }
    let mut data = Data::default();
    data.insert(auth);
    insert_loaders(&mut data, &app.db, false);

    // Hand the connection, its first message included, to async-graphql.
    let replay =
        futures_util::stream::once(async move { Ok::<_, axum::Error>(Message::Text(first)) });
    GraphQLWebSocket::new_with_pair(sink, replay.chain(stream), app.schema.clone(), protocol)
        .with_data(data)
        .serve()
        .await;
}

/// The `authorization` of a `connection_init` payload ({"authorization": "Bearer …"}).
fn bearer_of_init(text: &str) -> Option<String> {
    let message: Value = serde_json::from_str(text).ok()?;
    if message["type"] != "connection_init" {
        return None;
    }
    let payload = &message["payload"];
    payload
        .get("authorization")
        .or_else(|| payload.get("Authorization"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}
