//! Several server processes on one PostgreSQL database: events cross between them and
//! stock stays exact.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::{Backend, TestApp, wait_until};
use crate::subscriptions::{Probes, SET_STATUS, next_update};

const ADD: &str = "mutation($p: ID!) { addToCart(input: {productId: $p}) { userErrors { code } } }";
const PLACE: &str =
    "mutation { placeOrder(input: {shippingAddress: \"X\"}) { order { id } userErrors { code } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(postgres_tests), ignore = "TEST_POSTGRES_URL is not set")]
async fn events_and_stock_are_shared_across_processes() {
    let app = TestApp::spawn(Backend::Postgres, |_| {})
        .await
        .expect(crate::helpers::NO_POSTGRES);
    let one = app.server_process().await;
    let two = app.server_process().await;
    let admin = app.admin("admin@example.com").await;
    let (ann, _, _) = app.register("ann@example.com").await;

    // Subscribed on process one; everything changes through process two.
    let probes = Probes::new(&app, &admin).await;
    let mut socket = probes.subscribe(one.addr, &ann, None).await;
    let lamp = app.product(&admin, "Lamp", "10.00", 3).await;
    app.gql_at(two.addr, ADD, json!({ "p": lamp }), Some(&ann))
        .await;
    let placed = app.gql_at(two.addr, PLACE, json!({}), Some(&ann)).await;
    let order = placed["data"]["placeOrder"]["order"]["id"]
        .as_str()
        .expect("order")
        .to_owned();
    assert_eq!(
        next_update(&mut socket).await,
        Some(("PENDING".into(), "PENDING".into()))
    );
    app.gql_at(
        two.addr,
        SET_STATUS,
        json!({ "o": order, "s": "CONFIRMED" }),
        Some(&admin),
    )
    .await;
    assert_eq!(
        next_update(&mut socket).await,
        Some(("CONFIRMED".into(), "PENDING".into()))
    );

    // The database drops process one's listening connection (as in a restart): it
    // reconnects, and the subscription on it keeps receiving.
    cut_listening_connections(&app).await;
    // What else arrives until the probe is heard is not checked: around a reconnect an
    // earlier state may be repeated (below).
    probes.until_probe_heard(&mut socket, &ann).await;
    app.gql_at(
        two.addr,
        SET_STATUS,
        json!({ "o": order, "s": "SHIPPED" }),
        Some(&admin),
    )
    .await;
    // Delivery is at least once: around a reconnect an earlier state may be repeated,
    // but the new one must arrive.
    let mut seen = Vec::new();
    while let Some(update) = next_update(&mut socket).await {
        seen.push(update.0.clone());
        if update.0 == "SHIPPED" {
            break;
        }
    }
    assert_eq!(seen.last().map(String::as_str), Some("SHIPPED"), "{seen:?}");

    // Twelve buyers for the last two units, half through each process.
    let buyers = app.customers_with_carts("b", 12, &lamp, 1).await;
    let attempts = buyers.iter().enumerate().map(|(i, token)| {
        let addr = if i % 2 == 0 { one.addr } else { two.addr };
        app.gql_at(addr, PLACE, json!({}), Some(token))
    });
    let results = join_all(attempts).await;
    let sold = results
        .iter()
        .filter(|b| b["data"]["placeOrder"]["order"].is_object())
        .count();
    let short = results
        .iter()
        .filter(|b| b["data"]["placeOrder"]["userErrors"][0]["code"] == "INSUFFICIENT_STOCK")
        .count();
    assert_eq!((sold, short), (2, 10), "{results:?}");
    let stock = app
        .gql(
            "query($id: ID!) { product(id: $id) { stock } }",
            json!({ "id": lamp }),
            Some(&admin),
        )
        .await;
    assert_eq!(stock["data"]["product"]["stock"], 0);
}

/// Two shops in two schemas of one PostgreSQL database (as the tests run): NOTIFY channels
/// belong to the database, so each shop's channel is named after its schema, and one
/// shop's order events never reach the other's subscribers, whose order ids would name
/// other orders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(postgres_tests), ignore = "TEST_POSTGRES_URL is not set")]
async fn shops_in_other_schemas_do_not_hear_each_other() {
    let mine = TestApp::spawn(Backend::Postgres, |_| {})
        .await
        .expect(crate::helpers::NO_POSTGRES);
    let theirs = TestApp::spawn(Backend::Postgres, |_| {})
        .await
        .expect(crate::helpers::NO_POSTGRES);
    let mut sockets = Vec::new();
    let mut customers = Vec::new();
    for app in [&mine, &theirs] {
        // The same emails, so both shops have user and order ids 1, 2, ...
        let admin = app.admin("admin@example.com").await;
        let (ann, _, _) = app.register("ann@example.com").await;
        let lamp = app.product(&admin, "Lamp", "10.00", 3).await;
        let probes = Probes::new(app, &admin).await;
        sockets.push(probes.subscribe(app.addr, &ann, None).await);
        customers.push((ann, lamp));
    }
    // My order, then theirs (with the same ids): an event of theirs would make my
    // subscriber read my order again.
    for (app, (ann, lamp)) in [&mine, &theirs].into_iter().zip(customers.iter()) {
        app.gql(ADD, json!({ "p": lamp }), Some(ann)).await;
        let placed = app.gql(PLACE, json!({}), Some(ann)).await;
        assert!(
            placed["data"]["placeOrder"]["order"]["id"].is_string(),
            "{placed}"
        );
    }
    let mine_socket = &mut sockets[0];
    assert_eq!(
        next_update(mine_socket).await,
        Some(("PENDING".into(), "PENDING".into()))
    );
    assert_eq!(
        next_update(mine_socket).await,
        None,
        "an event of the other shop"
    );
    assert_eq!(
        next_update(&mut sockets[1]).await,
        Some(("PENDING".into(), "PENDING".into()))
    );
}

/// The LISTEN connections of this test's servers, by backend pid.
async fn listening_connections(app: &TestApp) -> BTreeSet<i32> {
    let rows = app
        .query_postgres(
            "SELECT pid FROM pg_stat_activity \
             WHERE application_name = current_setting('application_name') \
             AND query LIKE 'LISTEN%' AND state = 'idle' AND pid <> pg_backend_pid()",
        )
        .await;
    rows.iter().map(|row| row.get(0)).collect()
}

/// Ends every LISTEN connection of this test's servers, and waits until each server
/// listens on a new one.
pub(crate) async fn cut_listening_connections(app: &TestApp) {
    let cut = listening_connections(app).await;
    assert!(!cut.is_empty(), "the servers listen");
    app.execute_sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = current_setting('application_name') \
         AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
    )
    .await;
    wait_until(
        "the servers listen again",
        Duration::from_secs(10),
        async || {
            let now = listening_connections(app).await;
            now.len() >= cut.len() && now.is_disjoint(&cut)
        },
    )
    .await;
}

/// Facet counts that one process remembers are forgotten when another process changes
/// the catalog (its notification crosses over): the count follows within moments, not
/// after the cache's age limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(postgres_tests), ignore = "TEST_POSTGRES_URL is not set")]
async fn facets_follow_changes_made_through_another_process() {
    let app = TestApp::spawn(Backend::Postgres, |c| c.database.facet_cache_secs = 3600)
        .await
        .expect(crate::helpers::NO_POSTGRES);
    let other = app.server_process().await;
    let admin = app.admin("admin@example.com").await;
    let lamp = app.product(&admin, "Lamp", "10.00", 3).await;
    let in_stock = async || {
        let body = app
            .gql(
                "{ products { facets { inStockCount } } }",
                json!({}),
                Some(&admin),
            )
            .await;
        body["data"]["products"]["facets"]["inStockCount"].clone()
    };
    assert_eq!(in_stock().await, 1);
    let adjust = "mutation($p: ID!) { adjustStock(input: {productId: $p, delta: -3}) {
        product { stock } userErrors { code } } }";
    let body = app
        .gql_at(other.addr, adjust, json!({ "p": lamp }), Some(&admin))
        .await;
    assert_eq!(body["data"]["adjustStock"]["product"]["stock"], 0, "{body}");
    wait_until(
        "the first process forgets its facet counts",
        Duration::from_secs(10),
        async || in_stock().await == 0,
    )
    .await;
}

async fn create_user(app: &TestApp, email: &str) {
    app.state
        .handles
        .accounts
        .create_admin(email, crate::helpers::PASSWORD)
        .await
        .expect("user created");
}

/// A login attempt for `email` with `password` at `addr`: the error code of the
/// request (RATE_LIMITED), of the payload (INVALID_CREDENTIALS), or "OK".
async fn sign_in(app: &TestApp, addr: std::net::SocketAddr, email: &str, password: &str) -> String {
    let body = app
        .gql_at(
            addr,
            crate::helpers::LOGIN,
            json!({ "input": { "email": email, "password": password } }),
            None,
        )
        .await;
    if let Some(code) = body["errors"][0]["extensions"]["code"].as_str() {
        return code.to_owned();
    }
    match body["data"]["login"]["userErrors"][0]["code"].as_str() {
        Some(code) => code.to_owned(),
        None => {
            assert!(body["data"]["login"]["accessToken"].is_string(), "{body}");
            "OK".to_owned()
        }
    }
}

crate::helpers::backend_test!(
    the_address_limit_is_shared_by_all_processes,
    |app| async move {
        let env = [
            ("RATE_LIMIT_PER_ADDRESS", "5"),
            ("RATE_LIMIT_LOGIN_FAILURES", "0"),
        ];
        let one = app.server_process_with(&env, None).await;
        let two = app.server_process_with(&env, None).await;
        // Made without HTTP: the test's own server shares the table, and its sign-ups count.
        create_user(&app, "ann@example.com").await;
        // Five attempts in all, alternating between the processes, then none from either.
        let mut answers = Vec::new();
        for attempt in 0..7 {
            let addr = if attempt % 2 == 0 { one.addr } else { two.addr };
            answers.push(sign_in(&app, addr, "ann@example.com", "wrong password!").await);
        }
        assert_eq!(
            answers,
            ["INVALID_CREDENTIALS"; 5]
                .into_iter()
                .chain(["RATE_LIMITED"; 2])
                .collect::<Vec<_>>()
        );
        // Told when to come back: the next attempt frees up one interval (60 s / 5) after
        // the first.
        let refused = app
            .gql_at(
                two.addr,
                crate::helpers::LOGIN,
                json!({ "input": { "email": "ann@example.com", "password": "wrong password!" } }),
                None,
            )
            .await;
        let retry_after = refused["errors"][0]["extensions"]["retryAfter"].as_u64();
        assert!(
            retry_after.is_some_and(|s| (1..=12).contains(&s)),
            "{refused}"
        );
        // Even the right password: the address is out of attempts everywhere.
        assert_eq!(
            sign_in(&app, one.addr, "ann@example.com", crate::helpers::PASSWORD).await,
            "RATE_LIMITED"
        );
    }
);

crate::helpers::backend_test!(
    an_email_locked_by_one_process_is_locked_in_all,
    |app| async move {
        let env = [
            ("RATE_LIMIT_PER_ADDRESS", "0"),
            ("RATE_LIMIT_LOGIN_FAILURES", "3"),
        ];
        let one = app.server_process_with(&env, None).await;
        let two = app.server_process_with(&env, None).await;
        create_user(&app, "bob@example.com").await;
        create_user(&app, "cy@example.com").await;
        // Concurrent failures from both processes: exactly three are allowed.
        let attempts = (0..8).map(|i| {
            let addr = if i % 2 == 0 { one.addr } else { two.addr };
            sign_in(&app, addr, "bob@example.com", "wrong password!")
        });
        let mut answers = join_all(attempts).await;
        answers.sort();
        let expected: Vec<String> = ["INVALID_CREDENTIALS"; 3]
            .into_iter()
            .chain(["RATE_LIMITED"; 5])
            .map(str::to_owned)
            .collect();
        assert_eq!(answers, expected);
        for addr in [one.addr, two.addr] {
            assert_eq!(
                sign_in(&app, addr, "bob@example.com", crate::helpers::PASSWORD).await,
                "RATE_LIMITED"
            );
            // Another email is not touched.
            assert_eq!(
                sign_in(&app, addr, "cy@example.com", crate::helpers::PASSWORD).await,
                "OK"
            );
        }
    }
);
