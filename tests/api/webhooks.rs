//! Checkout v2: webhooks — admins register them; every order event and sold-out variant
//! becomes a signed POST to a real receiver, retried with backoff, logged, sent once
//! across processes, and kept away from private networks in production.

use std::collections::BTreeMap;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{Backend, TestApp, backend_test, error_code, user_error_code, wait_until};
use crate::webhook_receiver::{Received, Receiver};

const CREATE: &str = "mutation($url: String!, $topics: [WebhookTopic!]!, $secret: String!) {
    createWebhook(input: {url: $url, topics: $topics, secret: $secret}) {
        webhook { id url topics isActive createdAt updatedAt } userErrors { field code message } } }";
const UPDATE: &str = "mutation($input: UpdateWebhookInput!) { updateWebhook(input: $input) {
    webhook { id url topics isActive } userErrors { field code } } }";
const DELETE: &str = "mutation($id: ID!) { deleteWebhook(input: {id: $id}) { deletedWebhookId userErrors { code } } }";
const DELIVERIES: &str = "{ webhooks { id deliveries(first: 50) { nodes {
    id topic payload status attempts lastResponseStatus nextAttemptAt createdAt } } } }";
const SECRET: &str = "a-secret-of-24-bytes-xyz";

async fn register(app: &TestApp, admin: &str, url: &str, topics: Value) -> String {
    let body = app
        .gql(
            CREATE,
            json!({ "url": url, "topics": topics, "secret": SECRET }),
            Some(admin),
        )
        .await;
    assert_eq!(
        body["data"]["createWebhook"]["userErrors"],
        json!([]),
        "{body}"
    );
    body["data"]["createWebhook"]["webhook"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Every delivery of every webhook, by webhook id.
async fn deliveries(app: &TestApp, admin: &str) -> BTreeMap<String, Vec<Value>> {
    let body = app.gql(DELIVERIES, json!({}), Some(admin)).await;
    let hooks = body["data"]["webhooks"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    hooks
        .iter()
        .map(|h| {
            let nodes = h["deliveries"]["nodes"].as_array().unwrap().clone();
            (h["id"].as_str().unwrap().to_owned(), nodes)
        })
        .collect()
}

/// Checks a request's signature as a receiver would.
fn assert_signed(request: &Received) {
    let timestamp = request.header("x-shop-timestamp");
    let seconds: i64 = timestamp.parse().expect("Unix seconds");
    assert!(
        (chrono::Utc::now().timestamp() - seconds).abs() < 120,
        "{timestamp}"
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(&request.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(request.header("x-shop-signature"), expected);
    assert_eq!(request.header("x-shop-webhook-id"), request.json()["id"]);
}

backend_test!(admins_register_webhooks, |app: TestApp| async move {
    let admin = app.admin("admin@example.com").await;
    let customer = app.customer("ann@example.com").await;
    let vars = json!({ "url": "https://hooks.example.com/a", "topics": ["ORDER_EVENT"], "secret": SECRET });
    assert_eq!(
        error_code(&app.gql(CREATE, vars.clone(), Some(&customer)).await),
        "FORBIDDEN"
    );
    assert_eq!(
        error_code(&app.gql(CREATE, vars.clone(), None).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        error_code(&app.gql(DELIVERIES, json!({}), Some(&customer)).await),
        "FORBIDDEN"
    );
    for (url, topics, secret, code, field) in [
        (
            "ftp://hooks.example.com/",
            json!(["ORDER_EVENT"]),
            SECRET,
            "INVALID_URL",
            "url",
        ),
        (
            "not a url",
            json!(["ORDER_EVENT"]),
            SECRET,
            "INVALID_URL",
            "url",
        ),
        (
            &*format!("https://hooks.example.com/{}", "a".repeat(2000)),
            json!(["ORDER_EVENT"]),
            SECRET,
            "INVALID_URL",
            "url",
        ),
        (
            "https://hooks.example.com/",
            json!(["ORDER_EVENT"]),
            "fifteen-bytes!!",
            "INVALID_INPUT",
            "secret",
        ),
        (
            "https://hooks.example.com/",
            json!([]),
            SECRET,
            "INVALID_INPUT",
            "topics",
        ),
    ] {
        let body = app
            .gql(
                CREATE,
                json!({ "url": url, "topics": topics, "secret": secret }),
                Some(&admin),
            )
            .await;
        let error = &body["data"]["createWebhook"]["userErrors"][0];
        assert_eq!(error["code"], code, "{url}: {body}");
        assert_eq!(error["field"], json!(["input", field]), "{body}");
    }
    let body = app.gql(CREATE, vars, Some(&admin)).await;
    let hook = body["data"]["createWebhook"]["webhook"].clone();
    assert_eq!(hook["url"], "https://hooks.example.com/a", "{body}");
    assert_eq!(hook["topics"], json!(["ORDER_EVENT"]));
    assert_eq!(hook["isActive"], true);
    let id = hook["id"].clone();
    let body = app
        .gql(UPDATE, json!({ "input": { "id": id, "topics": ["PRODUCT_OUT_OF_STOCK", "ORDER_EVENT"], "isActive": false } }), Some(&admin))
        .await;
    let updated = &body["data"]["updateWebhook"]["webhook"];
    assert_eq!(
        updated["topics"],
        json!(["ORDER_EVENT", "PRODUCT_OUT_OF_STOCK"]),
        "{body}"
    );
    assert_eq!(updated["isActive"], false);
    assert_eq!(updated["url"], "https://hooks.example.com/a");
    let body = app
        .gql(
            UPDATE,
            json!({ "input": { "id": id, "url": "gopher://x" } }),
            Some(&admin),
        )
        .await;
    assert_eq!(
        user_error_code(&body, "updateWebhook"),
        "INVALID_URL",
        "{body}"
    );
    let body = app
        .gql(
            UPDATE,
            json!({ "input": { "id": id, "secret": "short" } }),
            Some(&admin),
        )
        .await;
    assert_eq!(
        user_error_code(&body, "updateWebhook"),
        "INVALID_INPUT",
        "{body}"
    );
    // The secret is never shown: the type has no field for it.
    let body = app
        .gql("{ webhooks { secret } }", json!({}), Some(&admin))
        .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("secret"),
        "{body}"
    );
    let body = app.gql(DELETE, json!({ "id": id }), Some(&admin)).await;
    assert_eq!(
        body["data"]["deleteWebhook"]["deletedWebhookId"], id,
        "{body}"
    );
    let body = app.gql(DELETE, json!({ "id": id }), Some(&admin)).await;
    assert_eq!(
        user_error_code(&body, "deleteWebhook"),
        "NOT_FOUND",
        "{body}"
    );
    let body = app
        .gql("{ webhooks { id } }", json!({}), Some(&admin))
        .await;
    assert_eq!(body["data"]["webhooks"], json!([]));
});

backend_test!(
    deliveries_are_signed_retried_and_logged,
    |c: &mut mini_ecommerce::config::Config| {
        c.checkout.webhook_retry_base_secs = 1;
        c.checkout.webhook_max_attempts = 2;
    },
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let receiver = Receiver::start().await;
        let refusing = Receiver::start().await;
        refusing.answer(&[500, 503, 500, 500]);
        let hook = register(
            &app,
            &admin,
            &receiver.url(),
            json!(["ORDER_EVENT", "PRODUCT_OUT_OF_STOCK"]),
        )
        .await;
        let dead = register(&app, &admin, &refusing.url(), json!(["ORDER_EVENT"])).await;
        let off = register(&app, &admin, &receiver.url(), json!(["ORDER_EVENT"])).await;
        app.gql(
            UPDATE,
            json!({ "input": { "id": off, "isActive": false } }),
            Some(&admin),
        )
        .await;
        // The first answer fails: that delivery is retried, with the same bytes.
        receiver.answer(&[500]);
        let lamp = app.product(&admin, "Lamp", "12.50", 1).await;
        let ann = app.customer("ann@example.com").await;
        let order = app
            .order(&ann, &lamp, 1, json!({ "shippingAddress": "Home" }))
            .await;

        let requests = receiver.wait_for(3, Duration::from_secs(20)).await;
        for request in &requests {
            assert_signed(request);
            assert_eq!(request.header("content-type"), "application/json");
        }
        // Whichever came first was refused and retried: its two attempts carry one id
        // and the same bytes.
        let mut by_id: BTreeMap<String, Vec<&Received>> = BTreeMap::new();
        for request in &requests {
            by_id
                .entry(request.header("x-shop-webhook-id").to_owned())
                .or_default()
                .push(request);
        }
        assert_eq!(by_id.len(), 2, "two deliveries: {requests:?}");
        let (retried, attempts) = by_id
            .iter()
            .find(|(_, r)| r.len() == 2)
            .expect("one was retried");
        assert_eq!(
            attempts[0].body, attempts[1].body,
            "the same bytes on every attempt"
        );
        let placed = requests
            .iter()
            .find(|r| r.json()["topic"] == "ORDER_EVENT")
            .expect("the order event");
        let event = placed.json();
        let keys: Vec<&str> = event
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), 4, "{event}");
        let events = app
            .gql(
                "{ orderEvents { nodes { cursor } } }",
                json!({}),
                Some(&admin),
            )
            .await;
        let number = app
            .gql(
                "query($id: ID!) { order(id: $id) { orderNumber } }",
                json!({ "id": order }),
                Some(&admin),
            )
            .await;
        assert_eq!(
            event["data"],
            json!({
                "type": "PLACED",
                "cursor": events["data"]["orderEvents"]["nodes"][0]["cursor"],
                "orderId": order,
                "orderNumber": number["data"]["order"]["orderNumber"],
                "status": "PENDING",
                "paymentStatus": "PENDING",
                "totalAmount": "12.50",
            }),
            "{event}"
        );
        assert!(
            event["occurredAt"].as_str().unwrap().ends_with('Z'),
            "{event}"
        );
        let sold_out = requests
            .iter()
            .find(|r| r.json()["topic"] == "PRODUCT_OUT_OF_STOCK")
            .expect("sold out")
            .json();
        let variant = app
            .gql(
                "query($id: ID!) { product(id: $id) { variants { id sku } } }",
                json!({ "id": lamp }),
                Some(&admin),
            )
            .await;
        let variant = &variant["data"]["product"]["variants"][0];
        assert_eq!(
            sold_out["data"],
            json!({ "productId": lamp, "variantId": variant["id"], "sku": variant["sku"] }),
            "{sold_out}"
        );

        // The refusing receiver: two attempts (WEBHOOK_MAX_ATTEMPTS), then FAILED.
        refusing.wait_for(2, Duration::from_secs(20)).await;
        let mut log = BTreeMap::new();
        wait_until(
            "every delivery has its outcome",
            Duration::from_secs(20),
            async || {
                log = deliveries(&app, &admin).await;
                log.values().flatten().all(|d| d["status"] != "PENDING")
            },
        )
        .await;
        let ours = &log[&hook];
        assert_eq!(ours.len(), 2, "{ours:?}");
        for delivery in ours {
            let id = delivery["id"].as_str().unwrap();
            assert_eq!(delivery["status"], "SUCCEEDED", "{delivery}");
            assert_eq!(
                delivery["attempts"],
                if id == retried { 2 } else { 1 },
                "{delivery}"
            );
            assert_eq!(delivery["lastResponseStatus"], 200);
            assert_eq!(delivery["nextAttemptAt"], Value::Null);
            let sent = &by_id[id][0].body;
            assert_eq!(
                delivery["payload"].as_str().unwrap().as_bytes(),
                &sent[..],
                "the log shows the body sent"
            );
        }
        let order_delivery = ours.iter().find(|d| d["topic"] == "ORDER_EVENT").unwrap();
        let failed = &log[&dead];
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0]["status"], "FAILED", "{failed:?}");
        assert_eq!(failed[0]["attempts"], 2);
        assert_eq!(failed[0]["lastResponseStatus"], 503);
        assert_eq!(refusing.received().len(), 2, "not attempted again");
        assert!(log[&off].is_empty(), "an inactive webhook gets nothing");
        let node = app
            .gql(
                "query($id: ID!) { node(id: $id) { ... on WebhookDelivery { status } } }",
                json!({ "id": order_delivery["id"] }),
                Some(&ann),
            )
            .await;
        assert_eq!(node["data"]["node"], Value::Null, "admins only: {node}");
    }
);

backend_test!(
    a_receiver_that_hangs_never_holds_up_a_mutation,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let receiver = Receiver::start().await;
        receiver.hold();
        register(&app, &admin, &receiver.url(), json!(["ORDER_EVENT"])).await;
        let lamp = app.product(&admin, "Lamp", "1.00", 100).await;
        let ann = app.customer("ann@example.com").await;
        app.order(&ann, &lamp, 1, json!({ "shippingAddress": "Home" }))
            .await;
        receiver.wait_for(1, Duration::from_secs(20)).await;
        // The receiver holds its answer: mutations go on being answered meanwhile.
        for _ in 0..3 {
            app.order(&ann, &lamp, 1, json!({ "shippingAddress": "Home" }))
                .await;
        }
        let log = deliveries(&app, &admin).await;
        assert_eq!(log.values().flatten().count(), 4);
        receiver.release();
        wait_until(
            "all four are delivered",
            Duration::from_secs(30),
            async || {
                deliveries(&app, &admin)
                    .await
                    .values()
                    .flatten()
                    .all(|d| d["status"] == "SUCCEEDED")
            },
        )
        .await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_keeps_webhooks_off_private_networks() {
    use mini_ecommerce::config::AppEnv;
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.server.app_env = AppEnv::Production;
        c.mail.mail_disabled = true;
        c.checkout.webhook_retry_base_secs = 1;
    })
    .await
    .unwrap();
    let admin = app.admin("admin@example.com").await;
    for url in [
        receiver.url().as_str(),
        "http://localhost/hook",
        "http://10.1.2.3/",
        "http://169.254.169.254/latest",
        "http://[::1]:8080/",
        "http://0.0.0.0/",
    ] {
        let body = app
            .gql(
                CREATE,
                json!({ "url": url, "topics": ["ORDER_EVENT"], "secret": SECRET }),
                Some(&admin),
            )
            .await;
        assert_eq!(
            user_error_code(&body, "createWebhook"),
            "INVALID_URL",
            "{url}: {body}"
        );
    }
    // A name that pointed elsewhere at registration and points inside now is refused at
    // delivery (the row is written directly, as registration could not).
    app.execute_sql(&format!(
        "INSERT INTO webhooks (url, secret, on_order_event, on_out_of_stock, is_active, created_at, updated_at) \
         VALUES ('{}', '{SECRET}', TRUE, FALSE, TRUE, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
        receiver.url()
    ))
    .await;
    let lamp = app.product(&admin, "Lamp", "1.00", 100).await;
    let ann = app.customer("ann@example.com").await;
    app.order(&ann, &lamp, 1, json!({ "shippingAddress": "Home" }))
        .await;
    let mut log = BTreeMap::new();
    wait_until(
        "the delivery was attempted twice",
        Duration::from_secs(20),
        async || {
            log = deliveries(&app, &admin).await;
            log.values()
                .flatten()
                .any(|d| d["attempts"].as_i64() >= Some(2))
        },
    )
    .await;
    let delivery = log.values().flatten().next().unwrap();
    assert_eq!(delivery["status"], "PENDING", "retried later: {delivery}");
    assert_eq!(delivery["lastResponseStatus"], Value::Null);
    assert!(
        receiver.received().is_empty(),
        "nothing reached the private address"
    );

    // Unless the operator allows private networks.
    let allowed = TestApp::spawn(Backend::Sqlite, |c| {
        c.server.app_env = AppEnv::Production;
        c.mail.mail_disabled = true;
        c.checkout.webhook_allow_private_networks = true;
    })
    .await
    .unwrap();
    let admin = allowed.admin("admin@example.com").await;
    let other = Receiver::start().await;
    register(&allowed, &admin, &other.url(), json!(["ORDER_EVENT"])).await;
    let lamp = allowed.product(&admin, "Lamp", "1.00", 100).await;
    let ann = allowed.customer("ann@example.com").await;
    allowed
        .order(&ann, &lamp, 1, json!({ "shippingAddress": "Home" }))
        .await;
    assert_signed(&other.wait_for(1, Duration::from_secs(20)).await[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(postgres_tests), ignore = "TEST_POSTGRES_URL is not set")]
async fn several_processes_send_each_delivery_once() {
    let app = TestApp::spawn(Backend::Postgres, |_| {})
        .await
        .expect(crate::helpers::NO_POSTGRES);
    let one = app.server_process().await;
    let two = app.server_process().await;
    let admin = app.admin("admin@example.com").await;
    let receiver = Receiver::start().await;
    register(&app, &admin, &receiver.url(), json!(["ORDER_EVENT"])).await;
    let lamp = app.product(&admin, "Lamp", "1.00", 1000).await;
    let place = "mutation { placeOrder(input: {shippingAddress: \"X\"}) { order { id } userErrors { code } } }";
    let add = "mutation($p: ID!) { addToCart(input: {productId: $p}) { userErrors { code } } }";
    let mut customers = Vec::new();
    for i in 0..12 {
        customers.push(app.customer(&format!("c{i}@example.com")).await);
    }
    let orders = customers.iter().enumerate().map(|(i, token)| {
        let addr = [app.addr, one.addr, two.addr][i % 3];
        let (app, lamp) = (&app, &lamp);
        async move {
            app.gql_at(addr, add, json!({ "p": lamp }), Some(token))
                .await;
            app.gql_at(addr, place, json!({}), Some(token)).await
        }
    });
    for placed in futures_util::future::join_all(orders).await {
        assert!(
            placed["data"]["placeOrder"]["order"]["id"].is_string(),
            "{placed}"
        );
    }
    let requests = receiver.wait_for(12, Duration::from_secs(30)).await;
    wait_until("all delivered", Duration::from_secs(30), async || {
        deliveries(&app, &admin)
            .await
            .values()
            .flatten()
            .all(|d| d["status"] == "SUCCEEDED")
    })
    .await;
    let mut ids: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.header("x-shop-webhook-id").to_owned())
        .collect();
    ids.sort();
    let before = ids.len();
    ids.dedup();
    assert_eq!(
        (before, ids.len()),
        (12, 12),
        "each delivery sent once: {requests:?}"
    );
}

backend_test!(
    a_receiver_that_was_down_gets_the_delivery_on_a_retry,
    |c: &mut mini_ecommerce::config::Config| c.checkout.webhook_retry_base_secs = 1,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let receiver = Receiver::start().await;
        let addr = receiver.addr;
        register(&app, &admin, &receiver.url(), json!(["ORDER_EVENT"])).await;
        receiver.stop();
        let lamp = app.product(&admin, "Lamp", "1.00", 100).await;
        let ann = app.customer("ann@example.com").await;
        app.order(&ann, &lamp, 1, json!({ "shippingAddress": "Home" }))
            .await;
        let mut log = BTreeMap::new();
        wait_until(
            "an attempt found nobody",
            Duration::from_secs(20),
            async || {
                log = deliveries(&app, &admin).await;
                log.values()
                    .flatten()
                    .any(|d| d["attempts"].as_i64() >= Some(1))
            },
        )
        .await;
        let delivery = log.values().flatten().next().unwrap().clone();
        assert_eq!(delivery["status"], "PENDING", "{delivery}");
        assert_eq!(
            delivery["lastResponseStatus"],
            Value::Null,
            "no HTTP answer"
        );
        assert!(delivery["nextAttemptAt"].is_string(), "{delivery}");
        let back = Receiver::start_on(addr).await;
        let request = &back.wait_for(1, Duration::from_secs(20)).await[0];
        assert_signed(request);
        assert_eq!(request.header("x-shop-webhook-id"), delivery["id"]);
    }
);

backend_test!(
    deleting_a_webhook_gives_up_its_deliveries,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let receiver = Receiver::start().await;
        receiver.hold();
        let hook = register(&app, &admin, &receiver.url(), json!(["ORDER_EVENT"])).await;
        let lamp = app.product(&admin, "Lamp", "1.00", 100).await;
        let ann = app.customer("ann@example.com").await;
        // The first delivery is in flight (held), the second waits its turn.
        app.order(&ann, &lamp, 1, json!({ "shippingAddress": "Home" }))
            .await;
        receiver.wait_for(1, Duration::from_secs(20)).await;
        app.order(&ann, &lamp, 1, json!({ "shippingAddress": "Home" }))
            .await;
        let body = app.gql(DELETE, json!({ "id": hook }), Some(&admin)).await;
        assert_eq!(
            body["data"]["deleteWebhook"]["deletedWebhookId"], hook,
            "{body}"
        );
        // Orders go on; the deleted webhook gets no more deliveries.
        app.order(&ann, &lamp, 1, json!({ "shippingAddress": "Home" }))
            .await;
        receiver.release();
        assert_eq!(
            app.count("SELECT COUNT(*) FROM webhook_deliveries").await,
            2
        );
        let given_up = app
            .count("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'FAILED'")
            .await;
        assert_eq!(given_up, 2, "the deleted webhook's deliveries are given up");
        let body = app
            .gql("{ webhooks { id } }", json!({}), Some(&admin))
            .await;
        assert_eq!(body["data"]["webhooks"], json!([]), "{body}");
        let body = app
            .gql(
                UPDATE,
                json!({ "input": { "id": hook, "isActive": true } }),
                Some(&admin),
            )
            .await;
        assert_eq!(
            user_error_code(&body, "updateWebhook"),
            "NOT_FOUND",
            "{body}"
        );
    }
);
