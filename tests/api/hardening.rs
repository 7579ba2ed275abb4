//! Limits, abuse and hostile input: every request error code provoked, nothing leaked,
//! nothing half-written, the server still healthy afterwards.

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, CREATE_PRODUCT, LOGIN, PASSWORD, REGISTER, TestApp, backend_test, error_code,
    global_id, user_error_code,
};

/// What a hostile request is answered: a request error with this `extensions.code`, a
/// user error with this code, or no error and null in this field.
#[derive(Debug, PartialEq)]
enum Answer<'a> {
    Error(&'a str),
    UserError(&'a str),
    Nothing(&'a str),
}
use Answer::{Error, Nothing, UserError};

fn login_vars(email: &str, password: &str) -> Value {
    json!({ "input": { "email": email, "password": password } })
}

backend_test!(repeated_failures_lock_an_email, |app: TestApp| async move {
    app.register("victim@example.com").await;
    app.register("other@example.com").await;
    for attempt in 0..10 {
        let body = app
            .gql(
                LOGIN,
                login_vars("victim@example.com", "wrong password"),
                None,
            )
            .await;
        assert_eq!(
            user_error_code(&body, "login"),
            "INVALID_CREDENTIALS",
            "attempt {attempt}"
        );
    }
    let body = app
        .gql(
            LOGIN,
            login_vars("victim@example.com", "wrong password"),
            None,
        )
        .await;
    // The wait counts down: the seconds are checked, then left out.
    let seconds = body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap_or_default();
    assert!(seconds >= 1, "{body}");
    insta::assert_json_snapshot!("rate_limited_error", body, {
        ".errors[].extensions.retryAfter" => "[seconds]",
        ".errors[].message" => insta::dynamic_redaction(move |value, _| {
            assert_eq!(value.as_str(), Some(format!("too many attempts, retry in {seconds} s").as_str()));
            "too many attempts, retry in [seconds] s"
        }),
    });
    // Even the right password waits; another email does not.
    let body = app
        .gql(LOGIN, login_vars("VICTIM@example.com", PASSWORD), None)
        .await;
    assert_eq!(error_code(&body), "RATE_LIMITED");
    app.login("other@example.com", PASSWORD).await;
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_addresses_are_rate_limited_and_forwarded_only_by_trusted_proxies() {
    let app = TestApp::spawn(Backend::Sqlite, |c| c.auth.rate_limit_per_address = 3)
        .await
        .unwrap();
    for _ in 0..3 {
        let body = app
            .gql(LOGIN, login_vars("nobody@example.com", PASSWORD), None)
            .await;
        assert_eq!(user_error_code(&body, "login"), "INVALID_CREDENTIALS");
    }
    let body = app
        .gql(
            REGISTER,
            json!({ "input": { "email": "a@example.com", "password": PASSWORD,
        "passwordConfirmation": PASSWORD, "firstName": "A", "lastName": "B" } }),
            None,
        )
        .await;
    assert_eq!(error_code(&body), "RATE_LIMITED", "{body}");
    // X-Forwarded-For is not believed from an untrusted peer.
    let spoofed = post_from(&app, "10.9.9.9").await;
    assert_eq!(error_code(&spoofed), "RATE_LIMITED");

    let proxied = TestApp::spawn(Backend::Sqlite, |c| {
        c.auth.rate_limit_per_address = 2;
        c.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await
    .unwrap();
    for _ in 0..2 {
        assert_eq!(
            user_error_code(&post_from(&proxied, "10.0.0.1").await, "login"),
            "INVALID_CREDENTIALS"
        );
    }
    assert_eq!(
        error_code(&post_from(&proxied, "10.0.0.1").await),
        "RATE_LIMITED"
    );
    assert_eq!(
        user_error_code(&post_from(&proxied, "10.0.0.2").await, "login"),
        "INVALID_CREDENTIALS"
    );
}

async fn post_json(app: &TestApp, body: Value) -> Value {
    app.client
        .post(app.url("/graphql"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn post_from(app: &TestApp, forwarded_for: &str) -> Value {
    app.client
        .post(app.url("/graphql"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({ "query": LOGIN, "variables": login_vars("nobody@example.com", PASSWORD) }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

backend_test!(aliases_are_capped, |app: TestApp| async move {
    let query = |n: usize| {
        format!(
            "{{ {} }}",
            (0..n)
                .map(|i| format!("a{i}: __typename"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    let ok = app.gql(&query(100), json!({}), None).await;
    assert!(ok["errors"].is_null(), "{}", ok["errors"]);
    let body = app.gql(&query(101), json!({}), None).await;
    insta::assert_json_snapshot!("too_many_aliases_error", body);
});

backend_test!(automatic_persisted_queries, |app: TestApp| async move {
    use sha2::{Digest, Sha256};
    let query = "{ me { id } }";
    let hash = hex::encode(Sha256::digest(query.as_bytes()));
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });

    let miss = post_json(&app, json!({ "extensions": extensions })).await;
    assert_eq!(
        miss["errors"][0]["message"], "PersistedQueryNotFound",
        "{miss}"
    );
    let first = post_json(&app, json!({ "query": query, "extensions": extensions })).await;
    assert_eq!(first, json!({ "data": { "me": null } }));
    let by_hash = post_json(&app, json!({ "extensions": extensions })).await;
    assert_eq!(by_hash, json!({ "data": { "me": null } }));
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_refuses_weak_settings_and_hides_the_schema() {
    use mini_ecommerce::config::{AppEnv, Secret};
    let dir = tempfile::tempdir().unwrap();
    let mut config = mini_ecommerce::config::Config::from_env();
    config.database.database_url = format!("sqlite://{}", dir.path().join("p.db").display());
    config.server.data_dir = dir.path().to_owned();
    config.server.app_env = AppEnv::Production;
    config.auth.jwt_secret = None;
    assert!(
        mini_ecommerce::app::App::build(config.clone())
            .await
            .is_err(),
        "no secret"
    );
    config.auth.jwt_secret = Some(Secret::new("short"));
    assert!(
        mini_ecommerce::app::App::build(config.clone())
            .await
            .is_err(),
        "short secret"
    );
    config.auth.jwt_secret = Some(Secret::new("x".repeat(40)));
    let no_mail = mini_ecommerce::app::App::build(config.clone()).await;
    let refused = no_mail
        .err()
        .expect("no SMTP_URL in production")
        .to_string();
    assert!(refused.contains("SMTP_URL"), "{refused}");
    config.mail.mail_disabled = true;
    config.server.cors_origins = vec!["not an origin".to_owned()];
    assert!(
        mini_ecommerce::app::App::build(config).await.is_err(),
        "bad CORS origin"
    );

    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.server.app_env = AppEnv::Production;
        c.mail.mail_disabled = true;
        c.server.cors_origins = vec!["https://shop.example.com".to_owned()];
    })
    .await
    .unwrap();
    let body = app
        .gql("{ __schema { types { name } } }", json!({}), None)
        .await;
    assert!(
        body["data"]["__schema"].is_null(),
        "introspection is off: {body}"
    );
    let typo = app.gql("{ mee { id } }", json!({}), None).await;
    assert!(
        !typo["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Did you mean"),
        "{typo}"
    );
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let allowed = preflight("https://shop.example.com").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://shop.example.com"
    );
    assert!(
        allowed
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    let refused = preflight("https://evil.example.com").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert!(health.headers().contains_key("strict-transport-security"));
}

backend_test!(internal_errors_reveal_nothing, |app: TestApp| async move {
    let admin = app.admin("admin@example.com").await;
    app.product(&admin, "Pen", "1", 1).await;
    // Break the database under the running server.
    app.execute_sql("ALTER TABLE products RENAME TO products_gone")
        .await;
    let body = app
        .gql("{ products { nodes { name } } }", json!({}), Some(&admin))
        .await;
    insta::assert_json_snapshot!("internal_error", body);
    let text = body.to_string().to_lowercase();
    for leak in [
        "products_gone",
        "select",
        "relation",
        "no such table",
        "sqlite",
        "postgres",
        "/src/",
        ".rs",
    ] {
        assert!(!text.contains(leak), "{leak} leaked: {text}");
    }
    app.execute_sql("ALTER TABLE products_gone RENAME TO products")
        .await;
    app.assert_healthy().await;
});

backend_test!(
    hostile_requests_get_clean_errors_and_change_nothing,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let (customer, _, _) = app.register("c@example.com").await;
        let product = app.product(&admin, "Pen", "1.00", 5).await;
        let count =
            "{ products(filter: {includeArchived: true}) { totalCount } users { totalCount } }";
        let before = app.gql(count, json!({}), Some(&admin)).await;

        let huge = "x".repeat(100_000);
        for (query, variables, token, expected) in
            hostile_requests(&admin, &customer, &product, &huge)
        {
            let body = app.gql(query, variables.clone(), token).await;
            let code = error_code(&body);
            let user_code = body["data"]
                .as_object()
                .and_then(|d| d.values().next())
                .map(|p| p["userErrors"][0]["code"].clone())
                .unwrap_or_default();
            let answer = match expected {
                Error(_) => Error(code.as_str().unwrap_or("no request error")),
                UserError(_) if !body["errors"].is_null() => Error("a request error"),
                UserError(_) => UserError(user_code.as_str().unwrap_or("no user error")),
                Nothing(field) if body["errors"].is_null() && body["data"][field].is_null() => {
                    Nothing(field)
                }
                Nothing(_) => Error("an error or a value"),
            };
            assert_eq!(
                answer,
                expected,
                "{query} {}: {}",
                variables.to_string().chars().take(100).collect::<String>(),
                body.to_string().chars().take(300).collect::<String>()
            );
        }
        assert_eq!(
            app.gql(count, json!({}), Some(&admin)).await,
            before,
            "nothing was written"
        );
        app.assert_healthy().await;
    }
);

/// Hostile requests, each with the one answer it gets; sent as `admin` or `customer`
/// (who can see `product`), `huge` is 100,000 characters.
fn hostile_requests<'a>(
    admin: &'a str,
    customer: &'a str,
    product: &str,
    huge: &'a str,
) -> Vec<(&'static str, Value, Option<&'a str>, Answer<'static>)> {
    vec![
        // Wrong types and absurd numbers.
        (
            CREATE_PRODUCT,
            json!({ "input": { "name": 5, "price": "1" } }),
            Some(admin),
            Error("BAD_USER_INPUT"),
        ),
        (
            CREATE_PRODUCT,
            json!({ "input": { "name": "X", "price": "1", "stock": 1e20 } }),
            Some(admin),
            Error("BAD_USER_INPUT"),
        ),
        (
            CREATE_PRODUCT,
            json!({ "input": { "name": "X", "price": "99999999999999999999999999999999999" } }),
            Some(admin),
            UserError("INVALID_INPUT"),
        ),
        (
            CREATE_PRODUCT,
            json!({ "input": { "name": "X", "price": "NaN" } }),
            Some(admin),
            Error("BAD_USER_INPUT"),
        ),
        (
            CREATE_PRODUCT,
            json!({ "input": { "name": "X", "price": "-0.00" } }),
            Some(admin),
            UserError("INVALID_INPUT"),
        ),
        (
            CREATE_PRODUCT,
            json!({ "input": { "name": huge, "price": "1" } }),
            Some(admin),
            UserError("INVALID_INPUT"),
        ),
        (
            CREATE_PRODUCT,
            json!({ "input": { "name": "nul\u{0}byte", "price": "1" } }),
            Some(admin),
            Error("BAD_USER_INPUT"),
        ),
        (
            CREATE_PRODUCT,
            json!({ "input": { "name": "\u{202e}\u{200b}", "price": "1" } }),
            Some(customer),
            Error("FORBIDDEN"),
        ),
        (
            CREATE_PRODUCT,
            json!(null),
            Some(admin),
            Error("BAD_USER_INPUT"),
        ),
        // Absurd pagination and broken IDs.
        (
            "{ products(first: 2147483647) { totalCount } }",
            json!({}),
            Some(admin),
            Error("BAD_USER_INPUT"),
        ),
        (
            "{ products(first: 99999999999) { totalCount } }",
            json!({}),
            Some(admin),
            Error("BAD_USER_INPUT"),
        ),
        (
            "{ products(last: -5) { totalCount } }",
            json!({}),
            Some(admin),
            Error("BAD_USER_INPUT"),
        ),
        (
            "{ products(after: \"\u{0}\") { totalCount } }",
            json!({}),
            Some(admin),
            Error("BAD_USER_INPUT"),
        ),
        (
            "query($id: ID!) { product(id: $id) { name } }",
            json!({ "id": "\u{0}\u{ffff}" }),
            Some(admin),
            Error("BAD_USER_INPUT"),
        ),
        // An ID of another type, or of no order, finds nothing.
        (
            "query($id: ID!) { order(id: $id) { id } }",
            json!({ "id": product }),
            Some(customer),
            Nothing("order"),
        ),
        (
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": global_id("Order", i64::MAX) }),
            Some(customer),
            Nothing("node"),
        ),
        (
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": global_id("Order", -1) }),
            Some(customer),
            Error("BAD_USER_INPUT"),
        ),
        // Forged, expired and unsigned tokens.
        (
            "{ me { id } }",
            json!({}),
            Some("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIiwiZXhwIjo0MTAyNDQ0ODAwfQ."),
            Error("UNAUTHENTICATED"),
        ),
        (
            "{ me { id } }",
            json!({}),
            Some("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIiwic2lkIjoxLCJpYXQiOjAsImV4cCI6MX0.AAAA"),
            Error("UNAUTHENTICATED"),
        ),
        (
            "{ me { id } }",
            json!({}),
            Some(huge),
            Error("UNAUTHENTICATED"),
        ),
        // Syntax garbage.
        (
            "{ products { ",
            json!({}),
            Some(admin),
            Error("BAD_USER_INPUT"),
        ),
        (
            "mutation { deleteProduct(input: {id: \"x\"}) { deletedProductId } }",
            json!({}),
            Some(admin),
            Error("BAD_USER_INPUT"),
        ),
    ]
}

/// Free text and numbers thrown at createProduct and register: every answer is the
/// product, or a user error naming a field, or a clean request error; never a 500; and
/// exactly the accepted products exist afterwards.
#[test]
fn mutations_with_free_text_and_numbers_never_misbehave() {
    let (runtime, app) = crate::helpers::sqlite_app_with_runtime();
    let admin = runtime.block_on(app.admin("admin@example.com"));
    let accepted = std::cell::Cell::new(0);
    let config = ProptestConfig {
        cases: 64,
        ..ProptestConfig::default()
    };
    proptest!(config, |(name in "\\PC{0,210}", description in "\\PC{0,50}", price in "-?[0-9]{0,12}(\\.[0-9]{0,4})?", stock in any::<i32>(), first in "\\PC{0,120}")| {
        let body = runtime.block_on(app.gql(CREATE_PRODUCT,
            json!({ "input": { "name": name, "description": description, "price": price, "stock": stock } }), Some(&admin)));
        let payload = &body["data"]["createProduct"];
        if payload["product"].is_object() {
            accepted.set(accepted.get() + 1);
        } else if payload.is_object() {
            prop_assert_eq!(&payload["userErrors"][0]["code"], "INVALID_INPUT");
            prop_assert!(payload["userErrors"][0]["field"][1].is_string());
        } else {
            prop_assert_eq!(error_code(&body), "BAD_USER_INPUT", "{}", body);
        }
        let registered = runtime.block_on(app.gql(REGISTER, json!({ "input": { "email": "p@example.com",
            "password": "short", "passwordConfirmation": "short", "firstName": first, "lastName": "X" } }), None));
        let code = user_error_code(&registered, "register");
        prop_assert!(code == "INVALID_INPUT" || code == "PASSWORD_TOO_WEAK", "{}", registered);
    });
    let count = runtime.block_on(app.gql(
        "{ products(filter: {includeArchived: true}) { totalCount } }",
        json!({}),
        Some(&admin),
    ));
    assert_eq!(count["data"]["products"]["totalCount"], accepted.get());
    runtime.block_on(app.assert_healthy());
    drop(app);
}
