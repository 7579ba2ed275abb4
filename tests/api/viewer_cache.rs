//! The viewer cache: a signed-in user's row is read once and then served from memory,
//! and every change to the user through the API is seen by the next request, in this
//! process at once and in every other process as soon as the change's notification
//! arrives. The cache's age limit is set to an hour in these tests, so that only the
//! forgetting can explain a change being seen.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, backend_test, wait_until};

const ME: &str = "{ me { role firstName } }";
const SET_ROLE: &str = "mutation($u: ID!, $r: Role!) { setUserRole(input: {userId: $u, role: $r}) {
    user { role } userErrors { code } } }";
const SET_ACTIVE: &str = "mutation($u: ID!, $a: Boolean!) {
    setUserActive(input: {userId: $u, isActive: $a}) { user { isActive } userErrors { code } } }";

/// `me`'s role and first name, or the error code.
fn seen(body: &Value) -> String {
    if let Some(code) = body["errors"][0]["extensions"]["code"].as_str() {
        return code.to_owned();
    }
    let me = &body["data"]["me"];
    match (me["role"].as_str(), me["firstName"].as_str()) {
        (Some(role), Some(name)) => format!("{role} {name}"),
        _ => panic!("unexpected answer: {body}"),
    }
}

fn long_lived(config: &mut mini_ecommerce::config::Config) {
    config.auth.viewer_cache_secs = 3600;
}

backend_test!(
    a_signed_in_user_is_read_once_and_every_change_is_seen_at_once,
    long_lived,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let (ann, _, ann_id) = app.register("ann@example.com").await;
        let me = async || seen(&app.gql(ME, json!({}), Some(&ann)).await);
        assert_eq!(me().await, "CUSTOMER Test");
        // Served from memory: no statement at all.
        let before = app.state.db.statement_count();
        assert_eq!(me().await, "CUSTOMER Test");
        assert_eq!(app.state.db.statement_count() - before, 0);

        // A change made behind the server's back (SQL) is not seen while the entry lives:
        // this is what the cache keeps. Every change through the API is seen at once.
        app.execute_sql("UPDATE users SET first_name = 'Behind' WHERE email = 'ann@example.com'")
            .await;
        assert_eq!(me().await, "CUSTOMER Test");

        let body = app
            .gql(SET_ROLE, json!({ "u": ann_id, "r": "ADMIN" }), Some(&admin))
            .await;
        assert_eq!(
            body["data"]["setUserRole"]["user"]["role"], "ADMIN",
            "{body}"
        );
        assert_eq!(me().await, "ADMIN Behind");
        // The promotion is in force: an admin-only field answers.
        let users = app
            .gql("{ users { totalCount } }", json!({}), Some(&ann))
            .await;
        assert!(users["data"]["users"]["totalCount"].is_number(), "{users}");

        let body = app
            .gql(
                SET_ROLE,
                json!({ "u": ann_id, "r": "CUSTOMER" }),
                Some(&admin),
            )
            .await;
        assert_eq!(
            body["data"]["setUserRole"]["user"]["role"], "CUSTOMER",
            "{body}"
        );
        let users = app
            .gql("{ users { totalCount } }", json!({}), Some(&ann))
            .await;
        assert_eq!(
            users["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{users}"
        );

        let update =
            "mutation { updateProfile(input: {firstName: \"Annie\"}) { user { firstName } } }";
        app.gql(update, json!({}), Some(&ann)).await;
        assert_eq!(me().await, "CUSTOMER Annie");

        let body = app
            .gql(SET_ACTIVE, json!({ "u": ann_id, "a": false }), Some(&admin))
            .await;
        assert_eq!(
            body["data"]["setUserActive"]["user"]["isActive"], false,
            "{body}"
        );
        assert_eq!(me().await, "UNAUTHENTICATED");
        let body = app
            .gql(SET_ACTIVE, json!({ "u": ann_id, "a": true }), Some(&admin))
            .await;
        assert_eq!(
            body["data"]["setUserActive"]["user"]["isActive"], true,
            "{body}"
        );
        // The old access token names an active user again (its session was revoked, which
        // only refreshing checks).
        assert_eq!(me().await, "CUSTOMER Annie");

        // A password change: the user's row changed, and the new session works.
        let change = "mutation($c: String!, $n: String!) {
            changePassword(input: {currentPassword: $c, newPassword: $n}) { accessToken } }";
        let body = app
            .gql(
                change,
                json!({ "c": PASSWORD, "n": "another-password-9" }),
                Some(&ann),
            )
            .await;
        let fresh = body["data"]["changePassword"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"))
            .to_owned();
        assert_eq!(
            seen(&app.gql(ME, json!({}), Some(&fresh)).await),
            "CUSTOMER Annie"
        );
    }
);

backend_test!(
    with_no_age_the_user_is_read_on_every_request,
    |c: &mut mini_ecommerce::config::Config| c.auth.viewer_cache_secs = 0,
    |app: TestApp| async move {
        let (ann, _, _) = app.register("ann@example.com").await;
        app.gql(ME, json!({}), Some(&ann)).await;
        let before = app.state.db.statement_count();
        assert_eq!(
            seen(&app.gql(ME, json!({}), Some(&ann)).await),
            "CUSTOMER Test"
        );
        assert_eq!(app.state.db.statement_count() - before, 1);
        app.execute_sql("UPDATE users SET first_name = 'Behind' WHERE email = 'ann@example.com'")
            .await;
        assert_eq!(
            seen(&app.gql(ME, json!({}), Some(&ann)).await),
            "CUSTOMER Behind"
        );
    }
);

/// Two server processes with an hour-long cache: what an admin changes through one is
/// seen by the other within moments, and a reconnection of a process's listener voids
/// everything it remembered (a notification may have been lost meanwhile).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(postgres_tests), ignore = "TEST_POSTGRES_URL is not set")]
async fn changes_made_through_one_process_reach_the_others() {
    let app = TestApp::spawn(Backend::Postgres, long_lived)
        .await
        .expect(crate::helpers::NO_POSTGRES);
    let env = [("VIEWER_CACHE_SECS", "3600")];
    let one = app.server_process_with(&env, None).await;
    let two = app.server_process_with(&env, None).await;
    let admin = app.admin("admin@example.com").await;
    let (ann, _, ann_id) = app.register("ann@example.com").await;
    let me_at = async |addr| seen(&app.gql_at(addr, ME, json!({}), Some(&ann)).await);
    assert_eq!(me_at(two.addr).await, "CUSTOMER Test");
    // Remembered by process two: a change behind the servers' backs is not seen there.
    app.execute_sql("UPDATE users SET first_name = 'Behind' WHERE email = 'ann@example.com'")
        .await;
    assert_eq!(me_at(two.addr).await, "CUSTOMER Test");

    let body = app
        .gql_at(
            one.addr,
            SET_ROLE,
            json!({ "u": ann_id, "r": "ADMIN" }),
            Some(&admin),
        )
        .await;
    assert_eq!(
        body["data"]["setUserRole"]["user"]["role"], "ADMIN",
        "{body}"
    );
    wait_until(
        "process two sees the promotion",
        Duration::from_secs(10),
        async || me_at(two.addr).await == "ADMIN Behind",
    )
    .await;

    let body = app
        .gql_at(
            one.addr,
            SET_ACTIVE,
            json!({ "u": ann_id, "a": false }),
            Some(&admin),
        )
        .await;
    assert_eq!(
        body["data"]["setUserActive"]["user"]["isActive"], false,
        "{body}"
    );
    wait_until(
        "process two refuses the deactivated user",
        Duration::from_secs(10),
        async || me_at(two.addr).await == "UNAUTHENTICATED",
    )
    .await;
    app.gql_at(
        one.addr,
        SET_ACTIVE,
        json!({ "u": ann_id, "a": true }),
        Some(&admin),
    )
    .await;
    wait_until(
        "process two lets the reactivated user in",
        Duration::from_secs(10),
        async || me_at(two.addr).await == "ADMIN Behind",
    )
    .await;

    // Remembered again; then changed behind the servers' backs, and the listeners cut:
    // after the reconnection nothing remembered from before is served.
    app.execute_sql("UPDATE users SET first_name = 'Lost' WHERE email = 'ann@example.com'")
        .await;
    assert_eq!(me_at(two.addr).await, "ADMIN Behind");
    crate::multiprocess::cut_listening_connections(&app).await;
    assert_eq!(me_at(two.addr).await, "ADMIN Lost");
}
