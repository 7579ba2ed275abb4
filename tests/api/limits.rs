//! Hostile documents on every way in: deep value literals, huge and many-token documents,
//! NUL in text, quoted error messages, out-of-range page sizes. The crash tests run
//! against the real binary in its own process, so that an overflowed stack shows as a
//! dead process instead of taking the test binary down.

use std::time::Duration;

use futures_util::SinkExt;
use proptest::prelude::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{Process, TestApp, backend_test, error_code};
use crate::subscriptions::{next_json, signed_in};

/// A list literal (`[[["x"]]]`) or an object literal (`{a: {a: "x"}}`) nested `depth` deep.
fn nested(depth: usize, object: bool) -> String {
    if object {
        format!("{}\"x\"{}", "{a: ".repeat(depth), "}".repeat(depth))
    } else {
        format!("{}\"x\"{}", "[".repeat(depth), "]".repeat(depth))
    }
}

/// The nested literal as an argument, a directive argument and a variable default.
fn documents(depth: usize, object: bool) -> [String; 3] {
    let value = nested(depth, object);
    [
        format!("query {{ products(filter: {{search: {value}}}) {{ nodes {{ id }} }} }}"),
        format!("query {{ me @include(if: {value}) {{ id }} }}"),
        format!("query($v: String = {value}) {{ me {{ id }} }}"),
    ]
}

/// The server refused `document` sent over HTTP cleanly: a 4xx status for a request it
/// would not read, or a GraphQL error with a code — never a 5xx or a dropped connection.
fn assert_refused(status: u16, body: &str, how: &str) {
    assert!(status < 500, "{how}: status {status}");
    if status == 200 || status == 400 {
        let body: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{how}: {body}"));
        let code = error_code(&body);
        assert!(
            code == "QUERY_TOO_COMPLEX" || code == "BAD_USER_INPUT",
            "{how}: {body}"
        );
    }
}

/// A GET of `document` in the query string. Past 64 KiB no client library builds such a
/// URI (the `http` crate caps it), so the request is written by hand: the server must
/// refuse it as cleanly as a short one.
async fn get(addr: std::net::SocketAddr, document: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let query: String = url_encode(document);
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request =
        format!("GET /graphql?query={query} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    // The server may answer and close before reading a URI it refuses.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "GET got no status line: {:?}",
                &answer[..answer.len().min(200)]
            )
        });
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_owned())
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn send_every_way(server: &mut Process, token: &str, document: &str) {
    // A document that slipped past the limits could keep the server busy for good.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let url = format!("http://{}/graphql", server.addr);
    let how = |way: &str| format!("{way}, {} bytes", document.len());

    let post = client
        .post(&url)
        .json(&json!({ "query": document }))
        .send()
        .await
        .expect("POST answered");
    let status = post.status().as_u16();
    assert_refused(status, &post.text().await.unwrap(), &how("POST"));

    let (status, body) = get(server.addr, document).await;
    assert_refused(status, &body, &how("GET"));

    let operations = json!({ "query": document, "variables": { "file": null } });
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", r#"{"0": ["variables.file"]}"#)
        .part(
            "0",
            reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("x.txt"),
        );
    // Only admins may upload: anyone else is refused before the body is read.
    let multipart = client
        .post(&url)
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("multipart answered");
    let status = multipart.status().as_u16();
    assert_refused(status, &multipart.text().await.unwrap(), &how("multipart"));

    let hash = hex::encode(Sha256::digest(document.as_bytes()));
    let persisted = client
        .post(&url)
        .json(&json!({ "query": document,
            "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } }))
        .send()
        .await
        .expect("APQ registration answered");
    let status = persisted.status().as_u16();
    assert_refused(status, &persisted.text().await.unwrap(), &how("APQ"));

    let mut socket = signed_in(server.addr, "graphql-transport-ws", token).await;
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": document } });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .unwrap();
    let answer = next_json(&mut socket).await.expect("WebSocket answered");
    let errors = answer["payload"]["errors"]
        .as_array()
        .or(answer["payload"].as_array())
        .unwrap_or_else(|| panic!("{}: {answer}", how("WebSocket")));
    assert!(!errors.is_empty(), "{answer}");

    assert!(server.is_running(), "{}: the server died", how("all"));
    let health = client
        .get(format!("http://{}/healthz", server.addr))
        .send()
        .await;
    assert!(health.is_ok_and(|r| r.status() == 200));
}

backend_test!(
    deep_value_literals_are_refused_on_every_transport,
    |app: TestApp| async move {
        let token = app.admin("deep@example.com").await;
        let mut server = app.server_process().await;
        for depth in [2_000, 10_000, 100_000] {
            for object in [false, true] {
                for document in documents(depth, object) {
                    send_every_way(&mut server, &token, &document).await;
                }
            }
        }
        // Below the bound, the same shapes are ordinary validation errors.
        let shallow = app.gql(&documents(3, false)[0], json!({}), None).await;
        assert_eq!(error_code(&shallow), "BAD_USER_INPUT", "{shallow}");
    }
);

backend_test!(
    nesting_tokens_and_size_are_capped_before_parsing,
    |app: TestApp| async move {
        let nested = format!("{{ me {{ id }} }} # {}", "[".repeat(1000));
        let body = app.gql(&nested, json!({}), None).await;
        assert_eq!(
            body,
            json!({ "data": { "me": null } }),
            "comments do not nest"
        );
        let in_string = format!(
            "{{ products(filter: {{search: \"{}\"}}) {{ totalCount }} }}",
            "[".repeat(1000)
        );
        let body = app.gql(&in_string, json!({}), None).await;
        assert_ne!(
            error_code(&body),
            "QUERY_TOO_COMPLEX",
            "strings do not nest: {body}"
        );

        let deep_selection = format!("{{ {} id {} }}", "a {".repeat(65), "}".repeat(65));
        let nesting = app.gql(&deep_selection, json!({}), None).await;

        // 94,000 repeated fields: refused by the token count, before a tree is built.
        let many: String = "{ ".to_owned() + &"__typename ".repeat(20_000) + "}";
        let tokens = app.gql(&many, json!({}), None).await;

        // 200,000 values in `variables` (800 KB) are refused before they are built.
        let ids = "query($v: [ID!]!) { nodes(ids: $v) { id } }";
        let values = app.gql(ids, json!({ "v": vec!["x"; 200_000] }), None).await;
        let fine = app.gql(ids, json!({ "v": vec!["x"; 50] }), None).await;
        let message = fine["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(!message.contains("JSON values"), "{fine}");

        let large = format!("{{ me {{ id }} }} #{}", "x".repeat(300 * 1024));
        let bytes = app.gql(&large, json!({}), None).await;
        // The whole answers: which limit, in what words, with which code.
        insta::assert_json_snapshot!(
            "document_limit_errors",
            json!({ "nesting": nesting, "tokens": tokens, "json values": values, "bytes": bytes })
        );
    }
);

/// Fragments that spread the next one four times: 300 tokens that expand to 4^20
/// selections, walked spread by spread by the depth and complexity passes.
fn fragment_bomb() -> String {
    let mut document = String::from("query { ...F0 }\n");
    for i in 0..20 {
        let next = format!("...F{} ", i + 1);
        document.push_str(&format!(
            "fragment F{i} on Query {{ {} }}\n",
            next.repeat(4)
        ));
    }
    document.push_str("fragment F20 on Query { __typename }\n");
    document
}

backend_test!(
    spreads_and_short_tokens_cannot_slip_past_the_limits,
    |app: TestApp| async move {
        let token = app.admin("bomb@example.com").await;
        let mut server = app.server_process().await;
        send_every_way(&mut server, &token, &fragment_bomb()).await;

        let cycle = "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
        let body = app.gql(cycle, json!({}), None).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        // `...F` and `0-0` are tokens of their own, however tightly written.
        let spreads = format!(
            "{{ a{} }} fragment F on Query {{ __typename }}",
            "...F".repeat(20_000)
        );
        let body = app.gql(&spreads, json!({}), None).await;
        assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX", "{body}");
        let numbers = format!("{{ nodes(ids: [{}]) {{ id }} }}", "0-".repeat(20_000) + "0");
        let body = app.gql(&numbers, json!({}), None).await;
        assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX", "{body}");
        // Selection sets past async-graphql's own recursion limit (32) are a limit too.
        let deep = format!("{{ {} id {} }}", "me {".repeat(40), "}".repeat(40));
        let body = app.gql(&deep, json!({}), None).await;
        assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX", "{body}");
    }
);

backend_test!(
    error_messages_do_not_echo_the_document,
    |app: TestApp| async move {
        // A one-line document of 900 KB with a syntax error at its end.
        let long_line = format!("{{ me {{ id }} }} {} {{", "x".repeat(200 * 1024));
        let response = app
            .client
            .post(app.url("/graphql"))
            .json(&json!({ "query": long_line }))
            .send()
            .await
            .unwrap();
        let text = response.text().await.unwrap();
        assert!(text.len() < 2_000, "{} bytes: {}", text.len(), &text[..300]);
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(error_code(&body), "BAD_USER_INPUT");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with("Syntax error at line 1"),
            "{body}"
        );
        // A validation error quoting a 100 KB field name is cut too.
        let long_name = format!("{{ {} }}", "y".repeat(100 * 1024));
        let body = app.gql(&long_name, json!({}), None).await;
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.chars().count() <= 1001, "{} chars", message.len());
        assert!(message.ends_with('…'));
        // Nor does a short document of thousands of unknown fields get thousands of errors.
        let unknown: String = "{ ".to_owned() + &"a ".repeat(5_000) + "}";
        let body = app.gql(&unknown, json!({}), None).await;
        let errors = body["errors"].as_array().unwrap();
        assert!(errors.len() <= 101, "{} errors", errors.len());
    }
);

backend_test!(nul_in_any_text_is_refused, |app: TestApp| async move {
    let admin = app.admin("admin@example.com").await;
    app.product(&admin, "Kettle", "10.00", 3).await;
    let search = "query($s: String) { products(filter: {search: $s}) { totalCount } }";
    let body = app
        .gql(search, json!({ "s": "a\u{0}b" }), Some(&admin))
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(body["data"], Value::Null);
    let literal = r#"{ products(filter: {search: "a\u0000b"}) { totalCount } }"#;
    let body = app.gql(literal, json!({}), Some(&admin)).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    // In nested input, a list, a directive and a variable default alike.
    for document in [
        r#"{ products(filter: {search: "ok"}, sort: {field: NAME}) @include(if: true) { nodes { name @skip(if: false) } } }"#,
        r#"query($v: String = "x\u0000") { me { id } }"#,
        r#"{ nodes(ids: ["a\u0000"]) { id } }"#,
    ] {
        let body = app.gql(document, json!({}), Some(&admin)).await;
        let has_nul = document.contains("\\u0000");
        if has_nul {
            assert_eq!(error_code(&body), "BAD_USER_INPUT", "{document}: {body}");
        } else {
            assert!(body["errors"].is_null(), "{document}: {body}");
        }
    }
    let create = app
        .gql(
            crate::helpers::CREATE_PRODUCT,
            json!({ "input": { "name": "Nul\u{0}", "price": "1.00", "stock": 1, "description": "x" } }),
            Some(&admin),
        )
        .await;
    assert_eq!(error_code(&create), "BAD_USER_INPUT", "{create}");
    let count = app
        .gql("{ products { totalCount } }", json!({}), Some(&admin))
        .await;
    assert_eq!(
        count["data"]["products"]["totalCount"], 1,
        "nothing written"
    );
});

backend_test!(
    page_sizes_out_of_range_are_bad_input_whatever_the_selection,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let rich = "id name description price stock inStock isArchived imageUrl createdAt updatedAt \
            n1: name n2: name n3: name n4: name n5: name n6: name n7: name n8: name n9: name \
            m1: name m2: name m3: name m4: name m5: name m6: name m7: name m8: name m9: name";
        for args in [
            "first: 101",
            "last: 101",
            "first: -1",
            "first: 5, last: 1000",
        ] {
            let query = format!("{{ products({args}) {{ nodes {{ {rich} }} }} }}");
            let body = app.gql(&query, json!({}), Some(&admin)).await;
            assert_eq!(error_code(&body), "BAD_USER_INPUT", "{args}: {body}");
        }
        let body = app
            .gql(
                &format!("{{ products(first: 100) {{ nodes {{ {rich} }} }} }}"),
                json!({}),
                Some(&admin),
            )
            .await;
        assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX", "{body}");
    }
);

/// Generated documents of every shape — deep or wide, lists, objects, selections, in
/// arguments, directives and defaults — through the whole pipeline of a server process:
/// each gets a JSON answer below 500 and the process lives on.
#[test]
fn generated_deep_and_wide_documents_never_crash_the_server() {
    let (runtime, app) = crate::helpers::sqlite_app_with_runtime();
    let server = std::cell::RefCell::new(runtime.block_on(app.server_process()));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let url = format!("http://{}/graphql", server.borrow().addr);
    let config = ProptestConfig {
        cases: 48,
        ..ProptestConfig::default()
    };
    let piece = prop_oneof![
        Just(("[", "]")),
        Just(("{a: ", "}")),
        Just(("{ me ", "}")),
        Just(("(x: ", ")")),
    ];
    let place = prop_oneof![
        Just("query {{ products(filter: {{search: {}}}) {{ totalCount }} }}"),
        Just("query {{ me @include(if: {}) {{ id }} }}"),
        Just("query($v: String = {}) {{ me {{ id }} }}"),
        Just("{{ {} }}"),
    ];
    proptest!(config, |(
        shape in proptest::collection::vec(piece, 1..4),
        depth in prop_oneof![1usize..80, 500usize..5_000, 20_000usize..120_000],
        width in 1usize..400,
        place in place,
    )| {
        let (open, close): (String, String) = (0..depth)
            .map(|i| shape[i % shape.len()])
            .fold((String::new(), String::new()), |(mut o, mut c), (a, b)| {
                o.push_str(a);
                c.insert_str(0, b);
                (o, c)
            });
        let wide = vec!["\"x\""; width].join(", ");
        let value = format!("{open}{wide}{close}");
        let document = place.replace("{{", "\u{1}").replace("}}", "\u{2}").replacen("{}", &value, 1)
            .replace('\u{1}', "{").replace('\u{2}', "}");
        let response = runtime.block_on(async { client.post(&url).json(&json!({ "query": document })).send().await });
        let response = response.map_err(|e| TestCaseError::fail(format!("no answer: {e}")))?;
        let status = response.status().as_u16();
        let body = runtime.block_on(response.text()).unwrap();
        prop_assert!(status < 500, "status {} for {} bytes", status, document.len());
        prop_assert!(serde_json::from_str::<Value>(&body).is_ok(), "{}", body);
        prop_assert!(server.borrow_mut().is_running(), "the server died on {} bytes", document.len());
    });
    drop(server);
    drop(app);
}

// A cached document that passed validation once skips the full validation only when its
// variables are plainly valid: a bad value still gets the full validation's request
// error, the same the first time and every time after, and an over-limit page still
// gets the limit's error (the fast validation counts complexity too).
backend_test!(
    a_cached_document_is_judged_the_same_every_time,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let product = app.product(&admin, "Lamp", "10.00", 3).await;
        let by_id = "query($id: ID!) { product(id: $id) { name } }";
        let good = app.gql(by_id, json!({ "id": product }), Some(&admin)).await;
        assert_eq!(good["data"]["product"]["name"], "Lamp", "{good}");
        let again = app.gql(by_id, json!({ "id": product }), Some(&admin)).await;
        assert_eq!(again, good);
        for bad in [json!(true), json!(null), json!(1.5), json!({ "a": 1 })] {
            let first = app.gql(by_id, json!({ "id": bad }), Some(&admin)).await;
            assert_eq!(first["data"], Value::Null, "{first}");
            assert!(first["errors"][0].get("path").is_none(), "{first}");
            let second = app.gql(by_id, json!({ "id": bad }), Some(&admin)).await;
            assert_eq!(second, first, "{bad}");
        }
        // A nullable variable with a default may feed a non-null argument; an explicit
        // null then fails validation, every time.
        let defaulted = "query($id: ID = \"UHJvZHVjdDox\") { product(id: $id) { name } }";
        let fine = app
            .gql(defaulted, json!({ "id": product }), Some(&admin))
            .await;
        assert_eq!(fine["data"]["product"]["name"], "Lamp", "{fine}");
        for _ in 0..2 {
            let null = app
                .gql(defaulted, json!({ "id": null }), Some(&admin))
                .await;
            assert_eq!(null["data"], Value::Null, "{null}");
            assert!(null["errors"][0].get("path").is_none(), "{null}");
        }
        let page = "query($n: Int) { products(first: $n) { nodes { reviews(first: 100) {
            nodes { id } } } } }";
        let small = app.gql(page, json!({ "n": 1 }), Some(&admin)).await;
        assert!(small["errors"].is_null(), "{small}");
        let large = app.gql(page, json!({ "n": 100 }), Some(&admin)).await;
        assert_eq!(
            large["errors"][0]["message"], "Query is too complex.",
            "{large}"
        );
        let text = app.gql(page, json!({ "n": "100" }), Some(&admin)).await;
        assert_eq!(text["data"], Value::Null, "{text}");
        assert!(
            text["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Invalid value for argument")),
            "{text}"
        );
    }
);

// The document cache finds a plain request's document by its text and keeps it under
// its hash too: an APQ client may ask by hash for a query that was sent in full before.
// A text that would spell a hash key (NUL and hex) is refused like any text with NUL.
backend_test!(
    a_document_sent_in_full_is_found_by_its_hash,
    |app: TestApp| async move {
        let query = "{ __typename }";
        let plain = app.gql(query, json!({}), None).await;
        assert_eq!(plain["data"]["__typename"], "Query", "{plain}");
        let hash = hex::encode(Sha256::digest(query.as_bytes()));
        let by_hash = app
            .client
            .post(app.url("/graphql"))
            .json(&json!({
                "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } }
            }))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        assert_eq!(by_hash["data"]["__typename"], "Query", "{by_hash}");
        let spelled = app.gql(&format!("\0{hash}"), json!({}), None).await;
        assert!(spelled["data"].is_null(), "{spelled}");
        assert!(spelled["errors"][0]["message"].is_string(), "{spelled}");
    }
);
