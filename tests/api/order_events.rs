//! Checkout v2: the order event log — one event per committed change, one order every
//! reader sees (also with concurrent writers), and the `orderEvents` subscription that
//! replays from a cursor and goes live with no gap and no repeat, across reconnects and
//! processes.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::future::join_all;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{Backend, TestApp, backend_test, error_code};
use crate::subscriptions::{Socket, next_json, signed_in};

const EVENTS: &str = "query($first: Int, $after: String, $o: ID) {
    orderEvents(first: $first, after: $after, orderId: $o) {
        edges { cursor node { id type status paymentStatus cursor occurredAt order { id } } }
        pageInfo { hasNextPage hasPreviousPage } } }";
const ORDER_EVENTS: &str =
    "query($id: ID!) { order(id: $id) { events { type status paymentStatus } } }";
const PLACE_CARD: &str =
    "mutation { placeOrder(input: {shippingAddress: \"1 Main St\", paymentMethod: CARD}) {
    order { id } userErrors { code } } }";
const PAY: &str =
    "mutation($o: ID!, $t: String!) { payOrder(input: {orderId: $o, paymentToken: $t}) {
    order { id } userErrors { code } } }";
const CANCEL: &str =
    "mutation($o: ID!) { cancelOrder(input: {orderId: $o}) { userErrors { code } } }";
const SET_STATUS: &str = "mutation($o: ID!, $s: OrderStatus!) {
    updateOrderStatus(input: {orderId: $o, status: $s}) { userErrors { code } } }";
const SUBSCRIBE: &str = "subscription($after: String, $o: ID) {
    orderEvents(after: $after, orderId: $o) { id type status paymentStatus cursor order { id } } }";

/// (type, status, paymentStatus) of each event.
fn kinds(events: &Value) -> Vec<(String, String, String)> {
    events
        .as_array()
        .unwrap_or_else(|| panic!("events: {events}"))
        .iter()
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (text("type"), text("status"), text("paymentStatus"))
        })
        .collect()
}

fn kind(t: &str, s: &str, p: &str) -> (String, String, String) {
    (t.to_owned(), s.to_owned(), p.to_owned())
}

/// Every event `token` may read after `after`, by pages of `first`: their ids.
async fn read_all(
    app: &TestApp,
    addr: SocketAddr,
    token: &str,
    after: Option<String>,
    order: Option<&str>,
) -> (Vec<String>, Option<String>) {
    let mut ids = Vec::new();
    let mut cursor = after;
    loop {
        let body = app
            .gql_at(
                addr,
                EVENTS,
                json!({ "first": 7, "after": cursor, "o": order }),
                Some(token),
            )
            .await;
        let page = &body["data"]["orderEvents"];
        let edges = page["edges"].as_array().unwrap_or_else(|| panic!("{body}"));
        for edge in edges {
            assert_eq!(edge["cursor"], edge["node"]["cursor"]);
            ids.push(edge["node"]["id"].as_str().unwrap().to_owned());
            cursor = Some(edge["cursor"].as_str().unwrap().to_owned());
        }
        if page["pageInfo"]["hasNextPage"] != true {
            return (ids, cursor);
        }
    }
}

async fn set_status(app: &TestApp, admin: &str, order: &str, status: &str) {
    let body = app
        .gql(SET_STATUS, json!({ "o": order, "s": status }), Some(admin))
        .await;
    assert_eq!(
        body["data"]["updateOrderStatus"]["userErrors"],
        json!([]),
        "{body}"
    );
}

backend_test!(
    every_change_of_an_order_appends_one_event,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let lamp = app.product(&admin, "Lamp", "10.00", 100).await;
        let ann = app.customer("ann@example.com").await;
        let bob = app.customer("bob@example.com").await;

        let cod = app
            .order(&ann, &lamp, 1, json!({ "shippingAddress": "Home" }))
            .await;
        for status in ["CONFIRMED", "SHIPPED", "DELIVERED"] {
            set_status(&app, &admin, &cod, status).await;
        }
        let body = app
            .gql(ORDER_EVENTS, json!({ "id": cod }), Some(&ann))
            .await;
        assert_eq!(
            kinds(&body["data"]["order"]["events"]),
            vec![
                kind("PLACED", "PENDING", "PENDING"),
                kind("CONFIRMED", "CONFIRMED", "PENDING"),
                kind("SHIPPED", "SHIPPED", "PENDING"),
                kind("DELIVERED", "DELIVERED", "PAID"),
            ],
            "{body}"
        );

        app.add_to_cart(&ann, &lamp, 2).await;
        let placed = app.gql(PLACE_CARD, json!({}), Some(&ann)).await;
        let card = placed["data"]["placeOrder"]["order"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let declined = app
            .gql(
                PAY,
                json!({ "o": card, "t": "tok_chargeDeclined" }),
                Some(&ann),
            )
            .await;
        assert_eq!(
            declined["data"]["payOrder"]["userErrors"][0]["code"],
            "PAYMENT_DECLINED"
        );
        let paid = app
            .gql(PAY, json!({ "o": card, "t": "tok_visa" }), Some(&ann))
            .await;
        assert_eq!(paid["data"]["payOrder"]["userErrors"], json!([]), "{paid}");
        let again = app
            .gql(PAY, json!({ "o": card, "t": "tok_visa" }), Some(&ann))
            .await;
        assert_eq!(
            again["data"]["payOrder"]["userErrors"][0]["code"],
            "ALREADY_PAID"
        );
        let cancelled = app.gql(CANCEL, json!({ "o": card }), Some(&ann)).await;
        assert_eq!(
            cancelled["data"]["cancelOrder"]["userErrors"],
            json!([]),
            "{cancelled}"
        );
        let body = app
            .gql(ORDER_EVENTS, json!({ "id": card }), Some(&ann))
            .await;
        assert_eq!(
            kinds(&body["data"]["order"]["events"]),
            vec![
                kind("PLACED", "PENDING", "PENDING"),
                kind("PAYMENT_FAILED", "PENDING", "FAILED"),
                kind("PAYMENT_SUCCEEDED", "PENDING", "PAID"),
                kind("CANCELLED", "CANCELLED", "PAID"),
                kind("REFUNDED", "CANCELLED", "REFUNDED"),
            ],
            "refused changes append nothing: {body}"
        );

        let bobs = app
            .order(&bob, &lamp, 1, json!({ "shippingAddress": "Bob's" }))
            .await;
        // Customers read their own orders' events, admins all, oldest first.
        let (anns, _) = read_all(&app, app.addr, &ann, None, None).await;
        assert_eq!(anns.len(), 9);
        let (all, last) = read_all(&app, app.addr, &admin, None, None).await;
        assert_eq!(all.len(), 10);
        let (bobs_events, _) = read_all(&app, app.addr, &bob, None, None).await;
        assert_eq!(bobs_events, vec![all[9].clone()]);
        let (only_cod, _) = read_all(&app, app.addr, &admin, None, Some(&cod)).await;
        assert_eq!(only_cod, all[..4].to_vec());
        let (none, _) = read_all(&app, app.addr, &ann, None, Some(&bobs)).await;
        assert!(
            none.is_empty(),
            "another customer's order gives an empty page"
        );
        let product_id = lamp.clone();
        let (none, _) = read_all(&app, app.addr, &admin, None, Some(&product_id)).await;
        assert!(none.is_empty(), "an ID of another type names no order");
        let (after_last, _) = read_all(&app, app.addr, &admin, last, None).await;
        assert!(after_last.is_empty());
        // Resuming from any event's cursor gives exactly the events after it.
        let body = app.gql(EVENTS, json!({ "first": 3 }), Some(&admin)).await;
        let page = &body["data"]["orderEvents"];
        assert_eq!(
            page["pageInfo"],
            json!({ "hasNextPage": true, "hasPreviousPage": false }),
            "{body}"
        );
        let third = page["edges"][2]["cursor"].as_str().unwrap().to_owned();
        let (rest, _) = read_all(&app, app.addr, &admin, Some(third), None).await;
        assert_eq!(rest, all[3..].to_vec());

        for bad in ["nope", "-1", "1.5", "", "99999999999999999999"] {
            let body = app.gql(EVENTS, json!({ "after": bad }), Some(&admin)).await;
            assert_eq!(error_code(&body), "BAD_USER_INPUT", "{bad:?}: {body}");
        }
        let body = app.gql(EVENTS, json!({ "first": 101 }), Some(&admin)).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        let body = app.gql(EVENTS, json!({}), None).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
        // node(id:) shows an event to whoever may see its order.
        let node = "query($id: ID!) { node(id: $id) { ... on OrderEvent { type order { id } } } }";
        let body = app.gql(node, json!({ "id": all[9] }), Some(&bob)).await;
        assert_eq!(body["data"]["node"]["type"], "PLACED", "{body}");
        let body = app.gql(node, json!({ "id": all[9] }), Some(&ann)).await;
        assert_eq!(body["data"]["node"], Value::Null, "{body}");
    }
);

/// One writer's share of the traffic: `rounds` card orders, each declined once, paid and
/// cancelled (5 events), against `addr`.
async fn write_orders(app: &TestApp, addr: SocketAddr, token: &str, product: &str, rounds: usize) {
    let add = "mutation($p: ID!) { addToCart(input: {productId: $p}) { userErrors { code } } }";
    for _ in 0..rounds {
        app.gql_at(addr, add, json!({ "p": product }), Some(token))
            .await;
        let placed = app.gql_at(addr, PLACE_CARD, json!({}), Some(token)).await;
        let order = placed["data"]["placeOrder"]["order"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{placed}"))
            .to_owned();
        app.gql_at(
            addr,
            PAY,
            json!({ "o": order, "t": "tok_chargeDeclined" }),
            Some(token),
        )
        .await;
        app.gql_at(
            addr,
            PAY,
            json!({ "o": order, "t": "tok_visa" }),
            Some(token),
        )
        .await;
        let body = app
            .gql_at(addr, CANCEL, json!({ "o": order }), Some(token))
            .await;
        assert_eq!(
            body["data"]["cancelOrder"]["userErrors"],
            json!([]),
            "{body}"
        );
    }
}

const WRITERS: usize = 8;
const ROUNDS: usize = 4;
/// Events each writer appends.
const PER_WRITER: usize = ROUNDS * 5;

/// 8 writers at once while a reader keeps resuming from its last cursor: what the reader
/// collects is exactly the log as read afterwards, in the same order. A log whose
/// positions followed insertion rather than commit would make the reader step past an
/// event that committed late, and it would be missing here.
async fn readers_miss_nothing(app: &TestApp, writers_at: SocketAddr) {
    let admin = app.admin("admin@example.com").await;
    let lamp = app.product(&admin, "Lamp", "1.00", 10_000).await;
    let mut tokens = Vec::new();
    for i in 0..WRITERS {
        tokens.push(app.customer(&format!("w{i}@example.com")).await);
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    let writers = join_all(
        tokens
            .iter()
            .map(|t| write_orders(app, writers_at, t, &lamp, ROUNDS)),
    );
    let reader = async {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let finished = done.load(std::sync::atomic::Ordering::SeqCst);
            let (ids, last) = read_all(app, app.addr, &admin, cursor.clone(), None).await;
            seen.extend(ids);
            cursor = last.or(cursor);
            if finished {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    let writing = async {
        writers.await;
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let ((), seen) = tokio::join!(writing, reader);
    let (log, _) = read_all(app, app.addr, &admin, None, None).await;
    assert_eq!(log.len(), WRITERS * PER_WRITER);
    assert_eq!(seen, log, "the resuming reader saw the log exactly");
}

backend_test!(
    a_resuming_reader_misses_nothing_with_concurrent_writers,
    |app: TestApp| async move {
        readers_miss_nothing(&app, app.addr).await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(postgres_tests), ignore = "TEST_POSTGRES_URL is not set")]
async fn a_resuming_reader_misses_nothing_with_writers_in_another_process() {
    let app = TestApp::spawn(Backend::Postgres, |_| {})
        .await
        .expect(crate::helpers::NO_POSTGRES);
    let other = app.server_process().await;
    readers_miss_nothing(&app, other.addr).await;
}

async fn subscribe(socket: &mut Socket, id: &str, after: Option<&str>, order: Option<&str>) {
    let message = json!({ "id": id, "type": "subscribe",
        "payload": { "query": SUBSCRIBE, "variables": { "after": after, "o": order } } });
    socket
        .send(Message::text(message.to_string()))
        .await
        .unwrap();
}

/// The next `orderEvents` payload of subscription `id`; `None` after 10 s of silence.
async fn next_event(socket: &mut Socket, id: &str) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        let Some(message) = next_json(socket).await else {
            continue;
        };
        if message["id"] == id && message["type"] == "next" {
            return Some(message["payload"]["data"]["orderEvents"].clone());
        }
        assert_ne!(message["type"], "error", "{message}");
    }
    None
}

/// 8 writers (on `writers_at`) while a subscriber resumes from a cursor, drops its
/// connection halfway and resumes again with the last cursor it got: it receives exactly
/// the log after the first cursor, in order, each event once.
async fn subscribers_miss_nothing(app: &TestApp, writers_at: SocketAddr) {
    let admin = app.admin("admin@example.com").await;
    let lamp = app.product(&admin, "Lamp", "1.00", 10_000).await;
    let mut tokens = Vec::new();
    for i in 0..WRITERS {
        tokens.push(app.customer(&format!("w{i}@example.com")).await);
    }
    // Some history first: the subscriber starts after its first event.
    write_orders(app, app.addr, &tokens[0], &lamp, 1).await;
    let body = app.gql(EVENTS, json!({ "first": 1 }), Some(&admin)).await;
    let start = body["data"]["orderEvents"]["edges"][0]["cursor"]
        .as_str()
        .unwrap()
        .to_owned();

    let expected = 4 + WRITERS * PER_WRITER;
    let subscriber = async {
        let mut received: Vec<Value> = Vec::new();
        let mut cursor = start.clone();
        for connection in 0..2 {
            let mut socket = signed_in(app.addr, "graphql-transport-ws", &admin).await;
            subscribe(&mut socket, "events", Some(&cursor), None).await;
            // The first connection stops halfway, the second takes the rest.
            let goal = if connection == 0 {
                expected / 2
            } else {
                expected
            };
            while received.len() < goal {
                let event = next_event(&mut socket, "events").await.unwrap_or_else(|| {
                    panic!("silence after {} of {expected} events", received.len())
                });
                cursor = event["cursor"].as_str().unwrap().to_owned();
                received.push(event);
            }
            socket.close(None).await.ok();
        }
        received
    };
    let writers = join_all(
        tokens
            .iter()
            .map(|t| write_orders(app, writers_at, t, &lamp, ROUNDS)),
    );
    let (received, _) = tokio::join!(subscriber, writers);
    let (log, _) = read_all(app, app.addr, &admin, Some(start), None).await;
    let ids: Vec<String> = received
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids, log,
        "replayed, then live: every event once, in log order"
    );
}

backend_test!(
    the_subscription_replays_then_goes_live_across_a_reconnect,
    |app: TestApp| async move {
        subscribers_miss_nothing(&app, app.addr).await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(postgres_tests), ignore = "TEST_POSTGRES_URL is not set")]
async fn the_subscription_hears_writers_in_another_process() {
    let app = TestApp::spawn(Backend::Postgres, |_| {})
        .await
        .expect(crate::helpers::NO_POSTGRES);
    let other = app.server_process().await;
    subscribers_miss_nothing(&app, other.addr).await;
}

backend_test!(
    subscribers_hear_only_what_they_may_see,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let lamp = app.product(&admin, "Lamp", "1.00", 100).await;
        let ann = app.customer("ann@example.com").await;
        let bob = app.customer("bob@example.com").await;
        let old = app
            .order(&ann, &lamp, 1, json!({ "shippingAddress": "Old" }))
            .await;

        // Without `after`: only what commits after it starts. Ann's next change is what she
        // hears first — never the order placed before.
        let mut socket = signed_in(app.addr, "graphql-transport-ws", &ann).await;
        subscribe(&mut socket, "live", None, None).await;
        // Bob's orders never reach Ann; Ann's own do. Until her subscription listens she
        // may miss some of her changes (that is the rule): so she keeps making them.
        app.order(&bob, &lamp, 1, json!({ "shippingAddress": "Bob" }))
            .await;
        let mut heard = None;
        for _ in 0..50 {
            app.add_to_cart(&ann, &lamp, 1).await;
            let placed = app.gql(PLACE_CARD, json!({}), Some(&ann)).await;
            let order = placed["data"]["placeOrder"]["order"]["id"]
                .as_str()
                .unwrap()
                .to_owned();
            if let Ok(Some(message)) =
                tokio::time::timeout(Duration::from_millis(200), next_json(&mut socket)).await
            {
                heard = Some((message, order));
                break;
            }
        }
        let (message, _) = heard.expect("the live subscription heard Ann's order");
        let event = &message["payload"]["data"]["orderEvents"];
        assert_eq!(event["type"], "PLACED", "{message}");
        assert_ne!(event["order"]["id"], old, "not replayed without `after`");

        // With `after`, from the start, narrowed to Bob's order: Ann hears nothing of it;
        // a malformed cursor is BAD_USER_INPUT.
        let bobs = app
            .gql("{ orders { nodes { id } } }", json!({}), Some(&bob))
            .await;
        let bobs_order = bobs["data"]["orders"]["nodes"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut socket = signed_in(app.addr, "graphql-transport-ws", &ann).await;
        subscribe(&mut socket, "theirs", Some("0"), Some(&bobs_order)).await;
        subscribe(&mut socket, "mine", Some("0"), Some(&old)).await;
        let mine = next_event(&mut socket, "mine")
            .await
            .expect("Ann's own order replayed");
        assert_eq!(mine["order"]["id"], old);
        set_status(&app, &admin, &bobs_order, "CONFIRMED").await;
        set_status(&app, &admin, &old, "CONFIRMED").await;
        let mine = next_event(&mut socket, "mine").await.expect("live");
        assert_eq!(mine["type"], "CONFIRMED", "{mine}");
        subscribe(&mut socket, "bad", Some("not a cursor"), None).await;
        let error = loop {
            let message = next_json(&mut socket).await.expect("an answer");
            if message["id"] == "bad" {
                break message;
            }
            assert_ne!(
                message["id"], "theirs",
                "Bob's order reached Ann: {message}"
            );
        };
        // Refused before the stream starts: an `error` message, or a `next` with errors.
        let code = match error["type"].as_str() {
            Some("error") => error["payload"][0]["extensions"]["code"].clone(),
            _ => error["payload"]["errors"][0]["extensions"]["code"].clone(),
        };
        assert_eq!(code, "BAD_USER_INPUT", "{error}");
        let _ = SinkExt::close(&mut socket).await;
        let _ = StreamExt::next(&mut socket).await;
    }
);
