//! GraphQL over HTTP: methods, media types, batches, limits, health, the schema file.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_test, error_code};

backend_test!(health_and_readiness, |app: TestApp| async move {
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(health.headers()["x-content-type-options"], "nosniff");
});

backend_test!(
    get_serves_graphiql_and_queries_but_not_mutations,
    |app: TestApp| async move {
        let page = app
            .client
            .get(app.url("/graphql?query=%7Bme%7Bid%7D%7D"))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("graphiql"));

        let query = app
            .client
            .get(app.url("/graphql?query=%7Bme%7Bid%7D%7D"))
            .send()
            .await
            .unwrap();
        assert_eq!(query.status(), 200);
        assert_eq!(
            query.json::<Value>().await.unwrap(),
            json!({ "data": { "me": null } })
        );

        let mutation = app
        .client
        .get(app.url("/graphql?query=mutation%7Blogout(input%3A%7BrefreshToken%3A%22x%22%7D)%7Bsuccess%7D%7D"))
        .send()
        .await
        .unwrap();
        assert_eq!(mutation.status(), 405);
        assert_eq!(mutation.headers()["allow"], "POST");
    }
);

backend_test!(
    media_types_follow_graphql_over_http,
    |app: TestApp| async move {
        let modern = app
            .client
            .post(app.url("/graphql"))
            .header("accept", "application/graphql-response+json")
            .json(&json!({ "query": "{ nope }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(modern.status(), 400);
        assert_eq!(
            modern.headers()["content-type"],
            "application/graphql-response+json"
        );
        let body: Value = modern.json().await.unwrap();
        insta::assert_json_snapshot!("unknown_field_error", body);

        let legacy = app
            .client
            .post(app.url("/graphql"))
            .json(&json!({ "query": "{ nope }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(legacy.status(), 200);
        assert_eq!(legacy.headers()["content-type"], "application/json");
    }
);

/// POSTs `body` as JSON, as it is; the status and the answer (null if not JSON).
async fn post_raw(app: &TestApp, body: &str) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(json!(null)))
}

backend_test!(
    malformed_bodies_get_clean_errors,
    |app: TestApp| async move {
        let mut answers = Vec::new();
        for body in ["{not json", "42", "{\"query\": 5}"] {
            let (status, json) = post_raw(&app, body).await;
            answers.push(json!({ "sent": body, "status": status, "answer": json }));
        }
        // Where the JSON broke is serde's words (with line and column): only the start of
        // the message is ours.
        insta::assert_json_snapshot!("malformed_body_errors", answers, {
            "[].answer.errors[].message" => insta::dynamic_redaction(|value, _| {
                let message = value.as_str().unwrap_or_default();
                assert!(message.starts_with("invalid request body: "), "{message}");
                assert!(!message.contains("enum"), "names an internal type: {message}");
                "invalid request body: […]"
            }),
        });
        // An empty batch holds no operation to run, and an array is a batch, never one
        // request's fields in order.
        for (body, message) in [
            ("[]", "a batch must hold at least one operation"),
            (
                r#"["{ __typename }"]"#,
                "invalid request body: expected an object with `query` (and optional \
                 `variables`, `operationName`, `extensions`), or an array of them",
            ),
        ] {
            let (status, json) = post_raw(&app, body).await;
            assert_eq!(status, 400, "{body}: {json}");
            assert_eq!(error_code(&json), "BAD_USER_INPUT", "{body}: {json}");
            assert_eq!(json["errors"][0]["message"], message, "{body}: {json}");
        }
        let huge = "x".repeat(app.config.limits.max_body_bytes + 10);
        let response = app
            .client
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .body(format!("{{\"query\": \"{huge}\"}}"))
            .send()
            .await;
        // The server answers 413 from the Content-Length, without reading the body, and
        // closes; a client still sending may see the close (a reset) before the answer.
        match response {
            Ok(response) => assert_eq!(response.status(), 413),
            Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
        }
        app.assert_healthy().await;
    }
);

backend_test!(batches_are_capped, |app: TestApp| async move {
    let one = json!({ "query": "{ me { id } }" });
    let ok: Value = app
        .client
        .post(app.url("/graphql"))
        .json(&vec![one.clone(); 10])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ok.as_array().unwrap().len(), 10);
    let over = app
        .client
        .post(app.url("/graphql"))
        .json(&vec![one; 11])
        .send()
        .await
        .unwrap();
    assert_eq!(over.status(), 400);
    let body: Value = over.json().await.unwrap();
    insta::assert_json_snapshot!("batch_over_the_cap_error", body);
});

backend_test!(
    deep_and_complex_queries_are_refused,
    |app: TestApp| async move {
        // Past the depth limit (12) with ordinary fields: each round adds 4 levels.
        let mut deep = String::from("id");
        for _ in 0..4 {
            deep = format!("orders(first: 1) {{ nodes {{ customer {{ {deep} }} }} }}");
        }
        let body = app
            .gql(&format!("{{ me {{ {deep} }} }}"), json!({}), None)
            .await;
        assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX", "{body}");
        // Introspection may be deeper (the standard queries are), but not without bound.
        for (levels, allowed) in [(10, true), (20, false)] {
            let of_types = format!("{} name {}", "ofType {".repeat(levels), "}".repeat(levels));
            let query =
                format!("{{ __schema {{ types {{ fields {{ type {{ {of_types} }} }} }} }} }}");
            let body = app.gql(&query, json!({}), None).await;
            if allowed {
                assert!(body["errors"].is_null(), "{levels}: {}", body["errors"]);
            } else {
                assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX", "{levels}: {body}");
            }
        }
        // Each `me { id }` costs 2: 1,100 of them exceed the complexity limit of 2,000.
        let wide: String = (0..1100).map(|i| format!("a{i}: me {{ id }} ")).collect();
        let body = app.gql(&format!("{{ {wide} }}"), json!({}), None).await;
        assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX", "{}", body["errors"]);
    }
);

#[test]
fn schema_file_matches_the_code() {
    let on_disk = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql exists");
    assert!(
        on_disk == mini_ecommerce::graphql::schema::sdl(),
        "schema.graphql is stale: run `cargo run -- print-schema > schema.graphql`"
    );
}

/// The introspection queries that GraphiQL, GraphQL Code Generator, Apollo's tools and
/// Postman send (graphql-js's `getIntrospectionQuery`, with and without its options, and
/// graphql-js 15's shorter one), as they print them.
const STANDARD_INTROSPECTION_QUERIES: [(&str, &str); 4] = [
    (
        "graphql-js 16",
        include_str!("introspection/graphql-js-16.graphql"),
    ),
    (
        "graphql-js 16, every option",
        include_str!("introspection/graphql-js-16-all-options.graphql"),
    ),
    (
        "GraphiQL 4",
        include_str!("introspection/graphiql-4.graphql"),
    ),
    (
        "graphql-js 15",
        include_str!("introspection/graphql-js-15.graphql"),
    ),
];

backend_test!(
    standard_introspection_queries_load_the_schema,
    |app: TestApp| async move {
        for (client, query) in STANDARD_INTROSPECTION_QUERIES {
            let body = app.gql(query, json!({}), None).await;
            assert!(body["errors"].is_null(), "{client}: {}", body["errors"]);
            let types = body["data"]["__schema"]["types"].as_array().unwrap();
            assert!(
                types.iter().any(|t| t["name"] == "Product"),
                "{client}: no Product type"
            );
            let get = app
                .client
                .get(app.url("/graphql"))
                .query(&[("query", query)])
                .send()
                .await
                .unwrap();
            let get: Value = get.json().await.unwrap();
            assert_eq!(get, body, "{client} over GET");
        }
        // An ordinary query of the same depth keeps the depth limit.
        let deep = "{ me { orders { nodes { customer { orders { nodes { customer { orders {
            nodes { customer { orders { nodes { id } } } } } } } } } } } } }";
        let body = app.gql(deep, json!({}), None).await;
        assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX", "{body}");
        // Mixed with shop fields, a document is no longer introspection.
        let mixed = format!(
            "{{ me {{ id }} {} }}",
            "__schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } }"
        );
        let body = app.gql(&mixed, json!({}), None).await;
        assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX", "{body}");
    }
);

backend_test!(get_runs_the_named_operation, |app: TestApp| async move {
    let (token, _, _) = app.register("get@example.com").await;
    let query =
        "query Who { me { email } } query Mine($x: Boolean!) { me @include(if: $x) { id } }";
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[
            ("query", query),
            ("operationName", "Mine"),
            ("variables", r#"{"x":true}"#),
        ])
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["data"]["me"]["id"].is_string(), "{body}");
    assert!(
        body["data"]["me"]["email"].is_null(),
        "Who did not run: {body}"
    );

    // A mutation picked by operationName is refused over GET.
    let both =
        "query Q { me { id } } mutation M { logout(input: {refreshToken: \"x\"}) { success } }";
    let picked = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", both), ("operationName", "M")])
        .send()
        .await
        .unwrap();
    assert_eq!(picked.status(), 405);
    // A mutation known to the document cache by its hash is still refused over GET.
    use sha2::{Digest, Sha256};
    let mutation = "mutation { logout(input: {refreshToken: \"x\"}) { success } }";
    let hash = hex::encode(Sha256::digest(mutation.as_bytes()));
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    app.client
        .post(app.url("/graphql"))
        .json(&json!({ "query": mutation, "extensions": extensions }))
        .send()
        .await
        .unwrap();
    let by_hash = app
        .client
        .get(app.url("/graphql"))
        .query(&[("extensions", extensions.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(by_hash.status(), 405);
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_the_headers_client_libraries_send() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.server.cors_origins = vec!["https://shop.example".to_owned()];
    })
    .await
    .unwrap();
    let headers = "content-type, authorization, apollographql-client-name, \
        apollographql-client-version, apollo-require-preflight, x-apollo-operation-name, \
        x-include-query-cost, x-request-id, traceparent, tracestate";
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/graphql"))
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", headers)
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 200);
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    for header in headers.split(", ") {
        assert!(allowed.contains(header), "{header} not in {allowed}");
    }
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    // Browser code may read the request id of an answer.
    let answer = app
        .client
        .post(app.url("/graphql"))
        .header("origin", "https://shop.example")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.headers()["access-control-expose-headers"],
        "x-request-id"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persisted_query_errors_use_apollo_codes() {
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": "ab".repeat(32) } });
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let miss = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "extensions": extensions }))
        .send()
        .await
        .unwrap();
    let miss: Value = miss.json().await.unwrap();

    let off = TestApp::spawn(Backend::Sqlite, |c| c.limits.apq_cache_size = 0)
        .await
        .unwrap();
    let refused = off
        .client
        .post(off.url("/graphql"))
        .json(&json!({ "query": "{ me { id } }", "extensions": extensions }))
        .send()
        .await
        .unwrap();
    let refused: Value = refused.json().await.unwrap();
    // Apollo's clients read the code and the message: both exactly.
    insta::assert_json_snapshot!(
        "persisted_query_errors",
        json!({ "unknown hash": miss, "cache off": refused })
    );
    // Without the cache, plain queries still run.
    let plain = off.gql("{ me { id } }", json!({}), None).await;
    assert_eq!(plain, json!({ "data": { "me": null } }));
}

backend_test!(
    graphiql_is_served_from_the_binary,
    |app: TestApp| async move {
        let page = app
            .client
            .get(app.url("/graphql"))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.starts_with("default-src 'none'"), "{csp}");
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(!csp.contains("unsafe") && !csp.contains("http"), "{csp}");
        let html = page.text().await.unwrap();
        assert!(
            !html.contains("http"),
            "the page loads nothing from elsewhere"
        );
        let assets: Vec<&str> = html
            .split(['"', '\''])
            .filter(|s| s.starts_with("/graphiql/"))
            .collect();
        assert!(assets.len() >= 5, "{html}");
        for asset in assets {
            let response = app.client.get(app.url(asset)).send().await.unwrap();
            assert_eq!(response.status(), 200, "{asset}");
            let content_type = response.headers()["content-type"].to_str().unwrap();
            let expected = if asset.ends_with(".js") {
                "text/javascript"
            } else {
                "text/css"
            };
            assert!(
                content_type.starts_with(expected),
                "{asset}: {content_type}"
            );
            assert!(response.bytes().await.unwrap().len() > 100, "{asset}");
        }
        let missing = app
            .client
            .get(app.url("/graphiql/nope.js"))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);
    }
);

backend_test!(
    field_errors_null_the_nearest_nullable_parent,
    |app: TestApp| async move {
        // `cart: Cart!` fails for an anonymous visitor: `data` itself becomes null.
        let body = app
            .gql(
                "{ products(first: 1) { nodes { id } } cart { totalQuantity } }",
                json!({}),
                None,
            )
            .await;
        assert_eq!(body["data"], Value::Null, "{body}");
        let errors = body["errors"].as_array().unwrap();
        let cart = errors
            .iter()
            .find(|e| e["path"] == json!(["cart"]))
            .unwrap();
        assert_eq!(cart["extensions"]["code"], "UNAUTHENTICATED");

        let admin = app.admin("admin@example.com").await;
        // Nested: `orders: OrderConnection!` fails, so its parent `me: User` is null,
        // and the sibling root field stays.
        let body = app
            .gql(
                "{ me { id orders(first: 101) { totalCount } } products(first: 1) { totalCount } }",
                json!({}),
                Some(&admin),
            )
            .await;
        assert_eq!(body["data"]["me"], Value::Null, "{body}");
        assert_eq!(body["data"]["products"]["totalCount"], 0, "{body}");
        assert_eq!(body["errors"][0]["path"], json!(["me", "orders"]));
        // Through an alias and a fragment, two levels down: `users` is non-null, so is
        // each edge's `node`, and the error nulls `data`.
        let body = app
            .gql(
                "query { people: users(first: 1) { ...Page } }
                 fragment Page on UserConnection { nodes { email orders(last: -1) { totalCount } } }",
                json!({}),
                Some(&admin),
            )
            .await;
        assert_eq!(body["data"], Value::Null, "{body}");
        assert_eq!(
            body["errors"][0]["path"],
            json!(["people", "nodes", 0, "orders"])
        );
        // A nullable field that fails is null in its place, beside what succeeded.
        let body = app
            .gql(
                "{ product(id: \"!!\") { id } products(first: 1) { totalCount } }",
                json!({}),
                Some(&admin),
            )
            .await;
        assert_eq!(body["data"]["product"], Value::Null, "{body}");
        assert!(
            body["data"].as_object().unwrap().contains_key("product"),
            "{body}"
        );
        assert_eq!(body["data"]["products"]["totalCount"], 0, "{body}");
        // Inside an inline fragment on an interface's type: `node: Node` is null.
        let me = app.gql("{ me { id } }", json!({}), Some(&admin)).await;
        let id = me["data"]["me"]["id"].as_str().unwrap().to_owned();
        let body = app
            .gql(
                "query($id: ID!) { node(id: $id) { id ... on User { orders(first: 101) { totalCount } } } me { id } }",
                json!({ "id": id }),
                Some(&admin),
            )
            .await;
        assert_eq!(body["data"]["node"], Value::Null, "{body}");
        assert_eq!(body["data"]["me"]["id"], id.as_str(), "{body}");
        assert_eq!(body["errors"][0]["path"], json!(["node", "orders"]));
    }
);
