//! GraphQL over HTTP: methods, media types, batches, limits, health, the schema file.

use serde_json::{Value, json};

use crate::helpers::{TestApp, backend_test, error_code};

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
        assert_eq!(error_code(&body), "BAD_USER_INPUT");

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

backend_test!(
    malformed_bodies_get_clean_errors,
    |app: TestApp| async move {
        for body in ["{not json", "[]", "42", "{\"query\": 5}"] {
            let response = app
                .client
                .post(app.url("/graphql"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let json: Value = response.json().await.unwrap_or(json!(null));
            assert!(status == 400 || status == 200, "{body}: {status}");
            assert_eq!(error_code(&json), "BAD_USER_INPUT", "{body}: {json}");
        }
        let huge = "x".repeat(app.config.max_body_bytes + 10);
        let response = app
            .client
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .body(format!("{{\"query\": \"{huge}\"}}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413);
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
    assert_eq!(body["errors"].as_array().unwrap().len(), 1);
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
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

/// Every type, field, argument, enum value and input field of the shared contract is in
/// the server's schema with the same type.
#[test]
fn schema_is_a_superset_of_the_contract() {
    use async_graphql::parser::parse_schema;
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    use std::collections::BTreeMap;

    fn members(sdl: &str) -> BTreeMap<String, String> {
        let document = parse_schema(sdl).expect("valid SDL");
        let mut out = BTreeMap::new();
        for definition in document.definitions {
            let TypeSystemDefinition::Type(ty) = definition else {
                continue;
            };
            let name = ty.node.name.node.to_string();
            out.insert(name.clone(), "type".to_owned());
            match ty.node.kind {
                TypeKind::Object(o) => {
                    for f in o.fields {
                        let field = format!("{name}.{}", f.node.name.node);
                        out.insert(field.clone(), f.node.ty.node.to_string());
                        for a in f.node.arguments {
                            out.insert(
                                format!("{field}({})", a.node.name.node),
                                a.node.ty.node.to_string(),
                            );
                        }
                    }
                }
                TypeKind::Interface(i) => {
                    for f in i.fields {
                        out.insert(
                            format!("{name}.{}", f.node.name.node),
                            f.node.ty.node.to_string(),
                        );
                    }
                }
                TypeKind::InputObject(i) => {
                    for f in i.fields {
                        out.insert(
                            format!("{name}.{}", f.node.name.node),
                            f.node.ty.node.to_string(),
                        );
                    }
                }
                TypeKind::Enum(e) => {
                    for v in e.values {
                        out.insert(format!("{name}::{}", v.node.value.node), "value".to_owned());
                    }
                }
                _ => {}
            }
        }
        out
    }

    let contract_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/api/contract.graphql"
    );
    let contract = std::fs::read_to_string(contract_path).expect("../shared/api/contract.graphql");
    let ours = members(&mini_ecommerce::graphql::schema::sdl());
    let missing: Vec<String> = members(&contract)
        .into_iter()
        .filter(|(k, v)| ours.get(k) != Some(v))
        .map(|(k, v)| format!("{k}: {v} (ours: {:?})", ours.get(&k)))
        .collect();
    assert!(
        missing.is_empty(),
        "not in schema.graphql as the contract has it:\n{}",
        missing.join("\n")
    );
}
