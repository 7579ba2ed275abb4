//! Checkout v2: unpaid card orders expire — once, with their stock and coupon use given
//! back, never both paid and cancelled, and once across several processes.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_test, wait_until};

const PLACE: &str = "mutation($m: PaymentMethod!) { placeOrder(input: {shippingAddress: \"Home\", paymentMethod: $m}) {
    order { id createdAt paymentDueAt } userErrors { code } } }";
const ORDER: &str = "query($id: ID!) { order(id: $id) {
    status cancellationReason paymentDueAt payment { status } events { type paymentStatus } } }";
const PAY: &str = "mutation($o: ID!) { payOrder(input: {orderId: $o, paymentToken: \"tok_visa\"}) {
    order { id } userErrors { code } } }";

async fn place(app: &TestApp, token: &str, product: &str, method: &str) -> Value {
    app.add_to_cart(token, product, 1).await;
    let body = app.gql(PLACE, json!({ "m": method }), Some(token)).await;
    let order = body["data"]["placeOrder"]["order"].clone();
    assert!(order.is_object(), "{body}");
    order
}

async fn order(app: &TestApp, token: &str, id: &Value) -> Value {
    let body = app.gql(ORDER, json!({ "id": id }), Some(token)).await;
    body["data"]["order"].clone()
}

fn millis(at: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(at.as_str().expect("a time"))
        .expect("RFC 3339")
        .timestamp_millis()
}

async fn stock(app: &TestApp, admin: &str, product: &str) -> i64 {
    let body = app
        .gql(
            "query($id: ID!) { product(id: $id) { stock } }",
            json!({ "id": product }),
            Some(admin),
        )
        .await;
    body["data"]["product"]["stock"].as_i64().unwrap()
}

backend_test!(
    unpaid_card_orders_expire_and_give_back_what_they_held,
    |c: &mut mini_ecommerce::config::Config| c.checkout.order_payment_timeout_secs = 3600,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let lamp = app.product(&admin, "Lamp", "10.00", 10).await;
        let ann = app.customer("ann@example.com").await;
        let create = "mutation { createCoupon(input: {code: \"HALF\", type: PERCENTAGE, value: \"50\"}) { userErrors { code } } }";
        app.gql(create, json!({}), Some(&admin)).await;
        app.gql(
            "mutation { applyCoupon(input: {code: \"HALF\"}) { userErrors { code } } }",
            json!({}),
            Some(&ann),
        )
        .await;
        let unpaid = place(&app, &ann, &lamp, "CARD").await;
        let paid = place(&app, &ann, &lamp, "CARD").await;
        let cash = place(&app, &ann, &lamp, "CASH_ON_DELIVERY").await;
        assert_eq!(
            millis(&unpaid["paymentDueAt"]) - millis(&unpaid["createdAt"]),
            3_600_000,
            "{unpaid}"
        );
        assert_eq!(
            cash["paymentDueAt"],
            Value::Null,
            "cash on delivery has no deadline"
        );
        let body = app.gql(PAY, json!({ "o": paid["id"] }), Some(&ann)).await;
        assert_eq!(body["data"]["payOrder"]["userErrors"], json!([]), "{body}");
        let uses = "{ coupons { nodes { usageCount } } }";
        assert_eq!(
            app.gql(uses, json!({}), Some(&admin)).await["data"]["coupons"]["nodes"][0]["usageCount"],
            1
        );
        assert_eq!(stock(&app, &admin, &lamp).await, 7);

        // Both card orders reach their deadline; only the unpaid one is cancelled.
        app.execute_sql("UPDATE orders SET payment_due_at = '2020-01-01 00:00:00' WHERE payment_method = 'CARD'").await;
        wait_until(
            "the unpaid order expired",
            Duration::from_secs(15),
            async || order(&app, &ann, &unpaid["id"]).await["status"] == "CANCELLED",
        )
        .await;
        let expired = order(&app, &ann, &unpaid["id"]).await;
        assert_eq!(
            expired["cancellationReason"], "PAYMENT_TIMEOUT",
            "{expired}"
        );
        assert_eq!(expired["payment"]["status"], "FAILED");
        assert_eq!(
            expired["paymentDueAt"], "2020-01-01T00:00:00.000Z",
            "kept once cancelled"
        );
        assert_eq!(
            expired["events"],
            json!([
                { "type": "PLACED", "paymentStatus": "PENDING" },
                { "type": "CANCELLED", "paymentStatus": "FAILED" },
            ])
        );
        assert_eq!(stock(&app, &admin, &lamp).await, 8, "its unit went back");
        assert_eq!(
            app.gql(uses, json!({}), Some(&admin)).await["data"]["coupons"]["nodes"][0]["usageCount"],
            0,
            "and its coupon use"
        );
        // The sweeps go on: the paid order and the cash order stay as they were.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let still = order(&app, &ann, &paid["id"]).await;
        assert_eq!(still["status"], "PENDING", "{still}");
        assert_eq!(still["payment"]["status"], "PAID");
        assert_eq!(
            still["paymentDueAt"], "2020-01-01T00:00:00.000Z",
            "kept once paid"
        );
        assert_eq!(order(&app, &ann, &cash["id"]).await["status"], "PENDING");
        let events = app
            .count("SELECT COUNT(*) FROM order_events WHERE event_type = 'CANCELLED'")
            .await;
        assert_eq!(events, 1, "expired once");

        // With ORDER_PAYMENT_TIMEOUT_SECS=0, card orders have no deadline.
        let backend = if app.config.database.database_url.starts_with("postgres") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        let off = TestApp::spawn(backend, |c| c.checkout.order_payment_timeout_secs = 0)
            .await
            .unwrap();
        let admin = off.admin("admin@example.com").await;
        let lamp = off.product(&admin, "Lamp", "10.00", 10).await;
        let bob = off.customer("bob@example.com").await;
        assert_eq!(
            place(&off, &bob, &lamp, "CARD").await["paymentDueAt"],
            Value::Null
        );
    }
);

backend_test!(
    a_payment_racing_the_expiry_is_either_taken_or_refused,
    |c: &mut mini_ecommerce::config::Config| c.checkout.order_payment_timeout_secs = 1,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let lamp = app.product(&admin, "Lamp", "10.00", 100).await;
        let mut orders = Vec::new();
        for i in 0..16 {
            let token = app.customer(&format!("c{i}@example.com")).await;
            let placed = place(&app, &token, &lamp, "CARD").await;
            orders.push((token, placed));
        }
        // Pay each around its deadline, from 0.8 s before (the last placed) to 2.2 s
        // after (the first): some before a sweep, some after.
        let started = tokio::time::Instant::now();
        let count = orders.len() as i64;
        let pays = orders.iter().enumerate().map(|(i, (token, placed))| {
            let app = &app;
            async move {
                let due = millis(&placed["paymentDueAt"]) - chrono::Utc::now().timestamp_millis();
                let at = (due - 800 + 200 * (count - 1 - i as i64)).max(0) as u64;
                tokio::time::sleep_until(started + Duration::from_millis(at)).await;
                app.gql(PAY, json!({ "o": placed["id"] }), Some(token))
                    .await
            }
        });
        let results = join_all(pays).await;
        wait_until(
            "no order is left unpaid and open",
            Duration::from_secs(15),
            async || {
                let open = app
                    .count(
                        "SELECT COUNT(*) FROM orders o JOIN payments p ON p.order_id = o.id \
                                  WHERE o.status = 'PENDING' AND p.status <> 'PAID'",
                    )
                    .await;
                open == 0
            },
        )
        .await;
        let (mut taken, mut refused) = (0, 0);
        for ((token, placed), result) in orders.iter().zip(&results) {
            let now = order(&app, token, &placed["id"]).await;
            let types: Vec<&str> = now["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["type"].as_str().unwrap())
                .collect();
            if result["data"]["payOrder"]["userErrors"] == json!([]) {
                taken += 1;
                assert_eq!(
                    (&now["status"], &now["payment"]["status"]),
                    (&json!("PENDING"), &json!("PAID")),
                    "{now}"
                );
                assert_eq!(types, ["PLACED", "PAYMENT_SUCCEEDED"]);
            } else {
                refused += 1;
                assert_eq!(
                    result["data"]["payOrder"]["userErrors"][0]["code"],
                    "INVALID_STATUS_TRANSITION",
                    "{result}"
                );
                assert_eq!(now["status"], "CANCELLED", "{now}");
                assert_eq!(now["cancellationReason"], "PAYMENT_TIMEOUT");
                assert_eq!(now["payment"]["status"], "FAILED");
                assert_eq!(types, ["PLACED", "CANCELLED"]);
            }
        }
        assert_eq!(taken + refused, 16);
        assert!(
            taken > 0 && refused > 0,
            "both sides of the race were run: {taken} paid, {refused} refused"
        );
        assert_eq!(
            stock(&app, &admin, &lamp).await,
            100 - taken,
            "exactly the expired units came back"
        );
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(postgres_tests), ignore = "TEST_POSTGRES_URL is not set")]
async fn several_processes_expire_each_order_once() {
    let app = TestApp::spawn(Backend::Postgres, |c| {
        c.checkout.order_payment_timeout_secs = 1
    })
    .await
    .expect(crate::helpers::NO_POSTGRES);
    let env = [("ORDER_PAYMENT_TIMEOUT_SECS", "1")];
    let _one = app.server_process_with(&env, None).await;
    let _two = app.server_process_with(&env, None).await;
    let admin = app.admin("admin@example.com").await;
    let lamp = app.product(&admin, "Lamp", "10.00", 20).await;
    for i in 0..20 {
        let token = app.customer(&format!("c{i}@example.com")).await;
        place(&app, &token, &lamp, "CARD").await;
    }
    assert_eq!(stock(&app, &admin, &lamp).await, 0);
    wait_until("every order expired", Duration::from_secs(20), async || {
        app.count("SELECT COUNT(*) FROM orders WHERE status = 'CANCELLED'")
            .await
            == 20
    })
    .await;
    assert_eq!(stock(&app, &admin, &lamp).await, 20, "each unit back once");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM order_events WHERE event_type = 'CANCELLED'")
            .await,
        20
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM orders WHERE cancellation_reason = 'PAYMENT_TIMEOUT'")
            .await,
        20
    );
}
