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

const SUBSCRIBE: &str = "subscription($id: ID) {
    orderUpdated(orderId: $id) { id status shippingAddress payment { status } } }";

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

/// Every probe order is shipped here, so that readers can tell its events from the
/// test's own.
const PROBE_ADDRESS: &str = "probe order: not part of the test";
/// The subscription of the test itself; the one that waits out events of earlier
/// changes; the one that confirms the test's is registered.
const MAIN: &str = "1";
const SETTLE: &str = "settle";
const PROBE: &str = "probe";
/// How long a probe event may take before the next is sent, and how long probing may
/// take in all before the test fails.
const PROBE_PATIENCE: Duration = Duration::from_millis(100);
const PROBE_DEADLINE: Duration = Duration::from_secs(10);

/// Knows when a subscription is registered, so that a test changes nothing before the
/// server listens: sending `subscribe` is acknowledged by nothing, and an event published
/// before the subscription exists is gone for it.
///
/// Each subscribing customer gets an order of their own, shipped to `PROBE_ADDRESS`,
/// placed before they subscribe (admins use one of a probe customer). A declined
/// payment of the probe order is an event that changes nothing but the probe's payment
/// (FAILED again), so it is sent again until a subscription narrowed to the probe order
/// hears of it. Subscribing takes two such rounds on one connection:
///
/// 1. `settle`, alone: once it hears, every event of a change made before (on
///    PostgreSQL they come through the listener, in commit order, after the mutation
///    answered) has been handed out, so none of them can reach what subscribes next.
/// 2. the test's subscription, then `probe`: the server takes a connection's messages
///    in order and starts its streams on one task, the test's first, so once `probe`
///    hears (or the test's own hears of the probe order), the test's listens too.
///
/// The readers below skip every message of `settle` and `probe`, and every event about
/// a probe order.
pub struct Probes<'a> {
    app: &'a TestApp,
    admin: String,
    product: String,
    /// For each subscriber's token: its probe order, and the token that may pay it.
    orders: std::cell::RefCell<std::collections::HashMap<String, (String, String)>>,
}

impl<'a> Probes<'a> {
    /// Probes on `app`; `admin` creates the product that probe orders hold.
    pub async fn new(app: &'a TestApp, admin: &str) -> Probes<'a> {
        let product = app.product(admin, "Probe", "1.00", 1_000).await;
        Probes {
            app,
            admin: admin.to_owned(),
            product,
            orders: Default::default(),
        }
    }

    /// The probe order `token` can see, and who pays it; placed on first use, which
    /// needs a customer's cart to be empty.
    async fn order_for(&self, token: &str) -> (String, String) {
        if let Some(known) = self.orders.borrow().get(token) {
            return known.clone();
        }
        let owner = if token == self.admin {
            self.app.register("probe@example.com").await.0
        } else {
            token.to_owned()
        };
        let add = "mutation($p: ID!) { addToCart(input: {productId: $p}) { userErrors { code } } }";
        self.app
            .gql(add, json!({ "p": self.product }), Some(&owner))
            .await;
        let place = "mutation($a: String!) { placeOrder(input: {shippingAddress: $a, paymentMethod: CARD}) { order { id itemCount } userErrors { code } } }";
        let body = self
            .app
            .gql(place, json!({ "a": PROBE_ADDRESS }), Some(&owner))
            .await;
        let order = &body["data"]["placeOrder"]["order"];
        assert_eq!(
            order["itemCount"], 1,
            "the probe order took only its own line: {body}"
        );
        let probe = (order["id"].as_str().unwrap().to_owned(), owner);
        self.orders
            .borrow_mut()
            .insert(token.to_owned(), probe.clone());
        probe
    }

    /// A graphql-transport-ws subscription of `token` to `orderUpdated(orderId:
    /// order_id)`, acknowledged and listening.
    pub async fn subscribe(
        &self,
        addr: std::net::SocketAddr,
        token: &str,
        order_id: Option<&str>,
    ) -> Socket {
        self.subscribe_with("graphql-transport-ws", addr, token, order_id)
            .await
    }

    /// The same over `protocol` (`graphql-ws` is the legacy one: `start` and `stop`).
    pub async fn subscribe_with(
        &self,
        protocol: &str,
        addr: std::net::SocketAddr,
        token: &str,
        order_id: Option<&str>,
    ) -> Socket {
        let (probe_order, _) = self.order_for(token).await;
        let legacy = protocol == "graphql-ws";
        let (start, stop) = if legacy {
            ("start", "stop")
        } else {
            ("subscribe", "complete")
        };
        let subscription = |id: &str, order: Option<&str>| {
            json!({ "id": id, "type": start,
                "payload": { "query": SUBSCRIBE, "variables": { "id": order } } })
        };
        let mut socket = signed_in(addr, protocol, token).await;
        send(&mut socket, subscription(SETTLE, Some(&probe_order))).await;
        self.probe_until(&mut socket, token, |m| m["id"] == SETTLE)
            .await;
        send(&mut socket, json!({ "id": SETTLE, "type": stop })).await;
        send(&mut socket, subscription(MAIN, order_id)).await;
        send(&mut socket, subscription(PROBE, Some(&probe_order))).await;
        let unexpected = self
            .probe_until(&mut socket, token, |m| {
                m["id"] == PROBE || m["id"] == MAIN && is_about_a_probe(m)
            })
            .await;
        assert_eq!(unexpected, Vec::<Value>::new(), "events before any change");
        send(&mut socket, json!({ "id": PROBE, "type": stop })).await;
        socket
    }

    /// Sends probe events for `token` until `socket` hears of one (on any of its
    /// subscriptions); returns what else the test's subscription heard meanwhile. Fails after
    /// `PROBE_DEADLINE`.
    pub async fn until_probe_heard(&self, socket: &mut Socket, token: &str) -> Vec<Value> {
        self.probe_until(socket, token, is_about_a_probe).await
    }

    /// Sends probe events for `token` until `socket` receives a message that is
    /// `heard`; returns the other messages of the test's subscription that are not
    /// about a probe order. Fails after `PROBE_DEADLINE`.
    async fn probe_until(
        &self,
        socket: &mut Socket,
        token: &str,
        heard: impl Fn(&Value) -> bool,
    ) -> Vec<Value> {
        let (order, owner) = self.order_for(token).await;
        let pay = "mutation($o: ID!) { payOrder(input: {orderId: $o, paymentToken: \"tok_chargeDeclined\"}) { userErrors { code } } }";
        let deadline = tokio::time::Instant::now() + PROBE_DEADLINE;
        let mut others = Vec::new();
        loop {
            let body = self.app.gql(pay, json!({ "o": order }), Some(&owner)).await;
            assert_eq!(
                body["data"]["payOrder"]["userErrors"][0]["code"], "PAYMENT_DECLINED",
                "the probe is a declined payment: {body}"
            );
            let wait = (tokio::time::Instant::now() + PROBE_PATIENCE).min(deadline);
            while let Ok(Some(message)) = tokio::time::timeout_at(wait, next_json(socket)).await {
                if heard(&message) {
                    return others;
                }
                if message["id"] == MAIN && !is_about_a_probe(&message) {
                    others.push(message);
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no probe event reached the subscription within {PROBE_DEADLINE:?}"
            );
        }
    }
}
async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .unwrap();
}

fn is_about_a_probe(message: &Value) -> bool {
    message["payload"]["data"]["orderUpdated"]["shippingAddress"] == PROBE_ADDRESS
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

/// The next message of a subscription made by `Probes`, skipping the probe's; `None`
/// when nothing arrives within two seconds.
pub async fn next_message(socket: &mut Socket) -> Option<Value> {
    loop {
        let message = next_json(socket).await?;
        if message["id"] != SETTLE && message["id"] != PROBE && !is_about_a_probe(&message) {
            return Some(message);
        }
    }
}

/// The next `orderUpdated` payload: (status, payment status).
pub async fn next_update(socket: &mut Socket) -> Option<(String, String)> {
    let message = next_message(socket).await?;
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
    let input = json!({ "shippingAddress": "X", "paymentMethod": method });
    app.order(customer, &product, 1, input).await
}

pub const SET_STATUS: &str = "mutation($o: ID!, $s: OrderStatus!) { updateOrderStatus(input: {orderId: $o, status: $s}) { userErrors { code } } }";

backend_test!(
    subscribers_see_their_own_orders_move,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let (ann, _, _) = app.register("ann@example.com").await;
        let (bob, _, _) = app.register("bob@example.com").await;
        let probes = Probes::new(&app, &admin).await;
        let mut ann_socket = probes.subscribe(app.addr, &ann, None).await;
        let mut bob_socket = probes.subscribe(app.addr, &bob, None).await;
        let mut admin_socket = probes.subscribe(app.addr, &admin, None).await;

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
        let mut narrow = probes.subscribe(app.addr, &ann, Some(&other)).await;
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
        let mut peeking = probes.subscribe(app.addr, &bob, Some(&other)).await;
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
        let probes = Probes::new(&app, &admin).await;
        let mut socket = probes
            .subscribe_with("graphql-ws", app.addr, &ann, None)
            .await;
        order_with_one_item(&app, &admin, &ann, "CARD").await;
        loop {
            let message = next_message(&mut socket).await.expect("an event");
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
