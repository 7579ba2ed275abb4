//! `orderUpdated` over WebSocket: who hears what, and refused connections.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::helpers::{TestApp, backend_test};

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const SUBSCRIBE: &str =
    "subscription($id: ID) { orderUpdated(orderId: $id) { id status payment { status } } }";

async fn connect(addr: std::net::SocketAddr, protocol: &str) -> Socket {
    let mut request = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_str(protocol).unwrap(),
    );
    tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket connects")
        .0
}

/// A connection whose `connection_init` carried `token`, acknowledged.
pub async fn signed_in(addr: std::net::SocketAddr, protocol: &str, token: &str) -> Socket {
    let mut socket = connect(addr, protocol).await;
    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } });
    socket.send(Message::text(init.to_string())).await.unwrap();
    let ack = next_json(&mut socket).await.expect("connection_ack");
    assert_eq!(ack["type"], "connection_ack");
    socket
}

/// A graphql-transport-ws subscription, acknowledged and started.
pub async fn subscribe(addr: std::net::SocketAddr, token: &str, order_id: Option<&str>) -> Socket {
    let mut socket = signed_in(addr, "graphql-transport-ws", token).await;
    let start = json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIBE, "variables": { "id": order_id } } });
    socket.send(Message::text(start.to_string())).await.unwrap();
    // Give the server a moment to register the subscription before events flow.
    tokio::time::sleep(Duration::from_millis(200)).await;
    socket
}

/// The next JSON message, or `None` when nothing arrives within two seconds.
pub async fn next_json(socket: &mut Socket) -> Option<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(2), socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return Some(serde_json::from_str(&text).unwrap()),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            _ => return None,
        }
    }
}

/// The next `orderUpdated` payload: (status, payment status).
pub async fn next_update(socket: &mut Socket) -> Option<(String, String)> {
    let message = next_json(socket).await?;
    let order = &message["payload"]["data"]["orderUpdated"];
    Some((
        order["status"].as_str()?.to_owned(),
        order["payment"]["status"].as_str()?.to_owned(),
    ))
}

pub async fn order_with_one_item(
    app: &TestApp,
    admin: &str,
    customer: &str,
    method: &str,
) -> String {
    let product = app.product(admin, "Lamp", "10.00", 10).await;
    let add = "mutation($p: ID!) { addToCart(input: {productId: $p}) { userErrors { code } } }";
    app.gql(add, json!({ "p": product }), Some(customer)).await;
    let place = "mutation($m: PaymentMethod) { placeOrder(input: {shippingAddress: \"X\", paymentMethod: $m}) { order { id } } }";
    let body = app.gql(place, json!({ "m": method }), Some(customer)).await;
    body["data"]["placeOrder"]["order"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub const SET_STATUS: &str = "mutation($o: ID!, $s: OrderStatus!) { updateOrderStatus(input: {orderId: $o, status: $s}) { userErrors { code } } }";

backend_test!(
    subscribers_see_their_own_orders_move,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let (ann, _, _) = app.register("ann@example.com").await;
        let (bob, _, _) = app.register("bob@example.com").await;
        let mut ann_socket = subscribe(app.addr, &ann, None).await;
        let mut bob_socket = subscribe(app.addr, &bob, None).await;
        let mut admin_socket = subscribe(app.addr, &admin, None).await;

        let id = order_with_one_item(&app, &admin, &ann, "CARD").await;
        assert_eq!(
            next_update(&mut ann_socket).await,
            Some(("PENDING".into(), "PENDING".into()))
        );
        let pay = "mutation($o: ID!, $t: String!) { payOrder(input: {orderId: $o, paymentToken: $t}) { userErrors { code } } }";
        app.gql(
            pay,
            json!({ "o": id, "t": "tok_chargeDeclined" }),
            Some(&ann),
        )
        .await;
        assert_eq!(
            next_update(&mut ann_socket).await,
            Some(("PENDING".into(), "FAILED".into()))
        );
        app.gql(pay, json!({ "o": id, "t": "tok_visa" }), Some(&ann))
            .await;
        assert_eq!(
            next_update(&mut ann_socket).await,
            Some(("PENDING".into(), "PAID".into()))
        );
        for status in ["CONFIRMED", "SHIPPED", "DELIVERED"] {
            app.gql(SET_STATUS, json!({ "o": id, "s": status }), Some(&admin))
                .await;
            assert_eq!(
                next_update(&mut ann_socket).await,
                Some((status.into(), "PAID".into()))
            );
        }
        // The admin saw all six; Bob saw nothing of Ann's order.
        for _ in 0..6 {
            assert!(next_update(&mut admin_socket).await.is_some());
        }
        assert_eq!(next_update(&mut bob_socket).await, None);

        // orderId narrows to one order; a cancel is an event too.
        let other = order_with_one_item(&app, &admin, &ann, "CASH_ON_DELIVERY").await;
        let mut narrow = subscribe(app.addr, &ann, Some(&other)).await;
        let third = order_with_one_item(&app, &admin, &ann, "CASH_ON_DELIVERY").await;
        let cancel =
            "mutation($o: ID!) { cancelOrder(input: {orderId: $o}) { userErrors { code } } }";
        app.gql(cancel, json!({ "o": third }), Some(&ann)).await;
        app.gql(cancel, json!({ "o": other }), Some(&ann)).await;
        assert_eq!(
            next_update(&mut narrow).await,
            Some(("CANCELLED".into(), "FAILED".into()))
        );
        assert_eq!(next_update(&mut narrow).await, None);
        // Bob cannot even narrow to Ann's order.
        let mut peeking = subscribe(app.addr, &bob, Some(&other)).await;
        app.gql(
            SET_STATUS,
            json!({ "o": id, "s": "DELIVERED" }),
            Some(&admin),
        )
        .await;
        assert_eq!(next_update(&mut peeking).await, None);
    }
);

backend_test!(
    connections_without_a_valid_token_are_refused,
    |app: TestApp| async move {
        // Own the whole app (and so its server): the loop below only reads `app.addr`,
        // and a closure capturing just that field would shut the server down.
        let app = app;
        for payload in [json!({}), json!({ "authorization": "Bearer garbage" })] {
            let mut socket = connect(app.addr, "graphql-transport-ws").await;
            let init = json!({ "type": "connection_init", "payload": payload });
            socket.send(Message::text(init.to_string())).await.unwrap();
            match tokio::time::timeout(Duration::from_secs(2), socket.next()).await {
                Ok(Some(Ok(Message::Close(Some(frame))))) => {
                    assert_eq!(u16::from(frame.code), 4403)
                }
                other => panic!("expected close 4403, got {other:?}"),
            }
        }
    }
);

backend_test!(
    the_legacy_graphql_ws_protocol_works_too,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let (ann, _, _) = app.register("ann@example.com").await;
        let mut socket = signed_in(app.addr, "graphql-ws", &ann).await;
        let start = json!({ "id": "1", "type": "start", "payload": { "query": SUBSCRIBE } });
        socket.send(Message::text(start.to_string())).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        order_with_one_item(&app, &admin, &ann, "CARD").await;
        loop {
            let message = next_json(&mut socket).await.expect("an event");
            if message["type"] == "data" {
                assert_eq!(
                    message["payload"]["data"]["orderUpdated"]["status"],
                    "PENDING"
                );
                break;
            }
        }
    }
);

backend_test!(
    subscriptions_get_the_same_document_limits,
    |app: TestApp| async move {
        let (ann, _, _) = app.register("ann@example.com").await;
        let mut socket = signed_in(app.addr, "graphql-transport-ws", &ann).await;
        let aliases: Vec<String> = (0..101).map(|i| format!("a{i}: id")).collect();
        let query = format!(
            "subscription {{ orderUpdated {{ {} }} }}",
            aliases.join(" ")
        );
        let start = json!({ "id": "1", "type": "subscribe", "payload": { "query": query } });
        socket.send(Message::text(start.to_string())).await.unwrap();
        let message = next_json(&mut socket).await.expect("an answer");
        assert_eq!(message["type"], "next", "{message}");
        assert!(
            message["payload"]["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("too many aliases")),
            "{message}"
        );
    }
);
