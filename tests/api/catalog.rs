//! The catalog: reads, search, paging, admin writes, stock and images.

use serde_json::{Value, json};

use mini_ecommerce::config::Config;

use crate::helpers::{CREATE_PRODUCT, TestApp, backend_test, error_code, user_error_code};

const PRODUCTS: &str = "query($first: Int, $after: String, $last: Int, $before: String,
    $filter: ProductFilter, $sort: ProductSort) {
    products(first: $first, after: $after, last: $last, before: $before, filter: $filter, sort: $sort) {
      totalCount nodes { id name price stock isArchived }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";
const PRODUCT: &str =
    "query($id: ID!) { product(id: $id) { id name price stock isArchived imageUrl } }";
const UPDATE: &str = "mutation($input: UpdateProductInput!) { updateProduct(input: $input) {
    product { name description price stock isArchived } userErrors { field code } } }";
const ADJUST: &str =
    "mutation($id: ID!, $delta: Int!) { adjustStock(input: {productId: $id, delta: $delta}) {
    product { stock } userErrors { field code message } } }";

fn names(body: &Value) -> Vec<String> {
    body["data"]["products"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("no products: {body}"))
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_owned())
        .collect()
}

backend_test!(
    catalog_needs_a_user_unless_public,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let id = app.product(&admin, "Teapot", "12.50", 3).await;
        assert_eq!(
            error_code(&app.gql(PRODUCTS, json!({}), None).await),
            "UNAUTHENTICATED"
        );
        assert_eq!(
            error_code(&app.gql(PRODUCT, json!({ "id": id }), None).await),
            "UNAUTHENTICATED"
        );
        let (customer, _, _) = app.register("c@example.com").await;
        assert_eq!(
            names(&app.gql(PRODUCTS, json!({}), Some(&customer)).await),
            ["Teapot"]
        );
    }
);

backend_test!(
    public_catalog_is_open_to_anonymous_visitors,
    |c: &mut Config| c.auth.catalog_public = true,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let id = app.product(&admin, "Teapot", "12.50", 3).await;
        assert_eq!(names(&app.gql(PRODUCTS, json!({}), None).await), ["Teapot"]);
        // A bad token is ignored where no user is needed.
        assert_eq!(
            names(&app.gql(PRODUCTS, json!({}), Some("garbage")).await),
            ["Teapot"]
        );
        let one = app.gql(PRODUCT, json!({ "id": id }), None).await;
        assert_eq!(one["data"]["product"]["price"], "12.50");

        // With a token, a read that no role changes still costs one statement: the
        // user is not looked up.
        let (ann, _, _) = app.register("ann@example.com").await;
        let before = app.state.db.statement_count();
        let one = app.gql(PRODUCT, json!({ "id": id }), Some(&ann)).await;
        assert_eq!(one["data"]["product"]["name"], "Teapot");
        assert_eq!(app.state.db.statement_count() - before, 1);
        // An admin's extra right (archived products in the list) still needs the user.
        app.gql(
            UPDATE,
            json!({ "input": { "id": id, "isArchived": true } }),
            Some(&admin),
        )
        .await;
        let archived = json!({ "filter": { "includeArchived": true } });
        assert_eq!(
            names(&app.gql(PRODUCTS, archived.clone(), Some(&admin)).await),
            ["Teapot"]
        );
        assert!(names(&app.gql(PRODUCTS, archived, Some(&ann)).await).is_empty());
    }
);

backend_test!(
    create_product_validates_every_field,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let (customer, _, _) = app.register("c@example.com").await;
        let create =
            |input: Value| app.gql(CREATE_PRODUCT, json!({ "input": input }), Some(&admin));

        let ok = create(json!({ "name": "  Mug  ", "price": "19.900", "stock": 4 })).await;
        let product = &ok["data"]["createProduct"]["product"];
        assert_eq!(product["name"], "Mug", "{ok}");
        assert_eq!(product["price"], "19.90");
        assert_eq!(product["description"], "");
        assert_eq!(product["inStock"], true);
        let number = create(json!({ "name": "Cup", "price": 7.5 })).await;
        assert_eq!(number["data"]["createProduct"]["product"]["price"], "7.50");
        assert_eq!(number["data"]["createProduct"]["product"]["stock"], 0);
        let max = create(json!({ "name": "Yacht", "price": "99999999.99" })).await;
        assert_eq!(
            max["data"]["createProduct"]["product"]["price"],
            "99999999.99"
        );

        let cases = [
            (json!({ "name": "", "price": "1" }), "name"),
            (json!({ "name": "x".repeat(201), "price": "1" }), "name"),
            (json!({ "name": "Free", "price": "0" }), "price"),
            (json!({ "name": "Negative", "price": "-1.00" }), "price"),
            (json!({ "name": "Fraction", "price": "19.999" }), "price"),
            (json!({ "name": "Huge", "price": "100000000.00" }), "price"),
            (
                json!({ "name": "Minus", "price": "1", "stock": -1 }),
                "stock",
            ),
        ];
        for (input, field) in cases {
            let body = create(input.clone()).await;
            assert_eq!(
                user_error_code(&body, "createProduct"),
                "INVALID_INPUT",
                "{input}: {body}"
            );
            assert_eq!(
                body["data"]["createProduct"]["userErrors"][0]["field"],
                json!(["input", field])
            );
            assert_eq!(body["data"]["createProduct"]["product"], json!(null));
        }
        for price in [json!("abc"), json!("1e5"), json!(true)] {
            let body = create(json!({ "name": "Bad", "price": price })).await;
            assert_eq!(error_code(&body), "BAD_USER_INPUT", "{price}");
        }
        let body = app
            .gql(
                CREATE_PRODUCT,
                json!({ "input": { "name": "Nope", "price": "1" } }),
                Some(&customer),
            )
            .await;
        assert_eq!(error_code(&body), "FORBIDDEN");
        let all = app.gql(PRODUCTS, json!({}), Some(&admin)).await;
        assert_eq!(
            all["data"]["products"]["totalCount"], 3,
            "nothing else was created"
        );
    }
);

backend_test!(
    archiving_hides_from_lists_but_not_from_product,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let (customer, _, _) = app.register("c@example.com").await;
        let id = app.product(&admin, "Lamp", "30.00", 2).await;
        app.product(&admin, "Desk", "90.00", 1).await;
        let body = app
        .gql(UPDATE, json!({ "input": { "id": id, "isArchived": true, "price": "25", "name": "Old Lamp" } }), Some(&admin))
        .await;
        assert_eq!(
            body["data"]["updateProduct"]["product"],
            json!({ "name": "Old Lamp", "description": "About Lamp", "price": "25.00", "stock": 2, "isArchived": true })
        );
        assert_eq!(
            names(&app.gql(PRODUCTS, json!({}), Some(&customer)).await),
            ["Desk"]
        );
        let hidden = app
            .gql(
                PRODUCTS,
                json!({ "filter": { "includeArchived": true } }),
                Some(&customer),
            )
            .await;
        assert_eq!(
            names(&hidden),
            ["Desk"],
            "includeArchived is for admins only"
        );
        let shown = app
            .gql(
                PRODUCTS,
                json!({ "filter": { "includeArchived": true } }),
                Some(&admin),
            )
            .await;
        assert_eq!(names(&shown), ["Desk", "Old Lamp"]);
        let one = app.gql(PRODUCT, json!({ "id": id }), Some(&customer)).await;
        assert_eq!(one["data"]["product"]["isArchived"], true);
        // The search text follows a rename.
        let found = app
            .gql(
                PRODUCTS,
                json!({ "filter": { "search": "old", "includeArchived": true } }),
                Some(&admin),
            )
            .await;
        assert_eq!(names(&found), ["Old Lamp"]);

        let bad = app
            .gql(
                UPDATE,
                json!({ "input": { "id": id, "price": "1.001" } }),
                Some(&admin),
            )
            .await;
        assert_eq!(user_error_code(&bad, "updateProduct"), "INVALID_INPUT");
        let wrong_type = app
            .gql(
                UPDATE,
                json!({ "input": { "id": crate::helpers::global_id("User", 1), "name": "X" } }),
                Some(&admin),
            )
            .await;
        assert_eq!(user_error_code(&wrong_type, "updateProduct"), "NOT_FOUND");
        let missing = app
            .gql(
                PRODUCT,
                json!({ "id": crate::helpers::global_id("Product", 999) }),
                Some(&admin),
            )
            .await;
        assert_eq!(missing["data"]["product"], json!(null));
        let node = app
            .gql(
                "query($id: ID!) { node(id: $id) { id ... on Product { name } } }",
                json!({ "id": id }),
                Some(&customer),
            )
            .await;
        assert_eq!(node["data"]["node"]["name"], "Old Lamp");
    }
);

backend_test!(
    delete_removes_an_unordered_product,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let id = app.product(&admin, "Vase", "5", 1).await;
        let delete = "mutation($id: ID!) { deleteProduct(input: {id: $id}) { deletedProductId userErrors { code } } }";
        let body = app.gql(delete, json!({ "id": id }), Some(&admin)).await;
        assert_eq!(body["data"]["deleteProduct"]["deletedProductId"], json!(id));
        assert_eq!(
            app.gql(PRODUCT, json!({ "id": id }), Some(&admin)).await["data"]["product"],
            json!(null)
        );
        let again = app.gql(delete, json!({ "id": id }), Some(&admin)).await;
        assert_eq!(user_error_code(&again, "deleteProduct"), "NOT_FOUND");
    }
);

backend_test!(
    adjust_stock_never_goes_below_zero,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let id = app.product(&admin, "Pen", "1", 5).await;
        let up = app
            .gql(ADJUST, json!({ "id": id, "delta": 3 }), Some(&admin))
            .await;
        assert_eq!(up["data"]["adjustStock"]["product"]["stock"], 8);
        let too_far = app
            .gql(ADJUST, json!({ "id": id, "delta": -9 }), Some(&admin))
            .await;
        assert_eq!(
            user_error_code(&too_far, "adjustStock"),
            "INSUFFICIENT_STOCK"
        );
        let min = app
            .gql(ADJUST, json!({ "id": id, "delta": i32::MIN }), Some(&admin))
            .await;
        assert_eq!(user_error_code(&min, "adjustStock"), "INSUFFICIENT_STOCK");
        let max = app
            .gql(ADJUST, json!({ "id": id, "delta": i32::MAX }), Some(&admin))
            .await;
        assert_eq!(
            user_error_code(&max, "adjustStock"),
            "INSUFFICIENT_STOCK",
            "no overflow: {max}"
        );
        assert_eq!(
            app.gql(PRODUCT, json!({ "id": id }), Some(&admin)).await["data"]["product"]["stock"],
            8
        );

        // 12 concurrent removals of one unit from 8: exactly 8 succeed.
        let attempts =
            (0..12).map(|_| app.gql(ADJUST, json!({ "id": id, "delta": -1 }), Some(&admin)));
        let results = futures_util::future::join_all(attempts).await;
        let succeeded = results
            .iter()
            .filter(|b| b["data"]["adjustStock"]["product"].is_object())
            .count();
        let refused = results
            .iter()
            .filter(|b| user_error_code(b, "adjustStock") == "INSUFFICIENT_STOCK")
            .count();
        assert_eq!((succeeded, refused), (8, 4));
        assert_eq!(
            app.gql(PRODUCT, json!({ "id": id }), Some(&admin)).await["data"]["product"]["stock"],
            0
        );
    }
);

backend_test!(search_and_price_filters, |app: TestApp| async move {
    let admin = app.admin("admin@example.com").await;
    app.product(&admin, "Red Tea Kettle", "20.00", 1).await;
    app.product(&admin, "Blue Kettle", "35.50", 0).await;
    app.product(&admin, "100% Cotton Scarf", "12.00", 4).await;
    app.product(&admin, "Crème Brûlée Torch", "9.99", 2).await;
    let search = |filter: Value| {
        app.gql(
            PRODUCTS,
            json!({ "filter": filter, "sort": { "field": "NAME" } }),
            Some(&admin),
        )
    };
    assert_eq!(
        names(&search(json!({ "search": "KETTLE" })).await),
        ["Blue Kettle", "Red Tea Kettle"]
    );
    assert_eq!(
        names(&search(json!({ "search": "kettle  about red" })).await),
        ["Red Tea Kettle"]
    );
    assert_eq!(
        names(&search(json!({ "search": "100%" })).await),
        ["100% Cotton Scarf"]
    );
    assert_eq!(
        names(&search(json!({ "search": "1_0" })).await),
        Vec::<String>::new()
    );
    assert_eq!(
        names(&search(json!({ "search": "%" })).await),
        ["100% Cotton Scarf"]
    );
    assert_eq!(
        names(&search(json!({ "search": "BRÛLÉE" })).await),
        ["Crème Brûlée Torch"]
    );
    assert_eq!(
        names(&search(json!({ "minPrice": "12", "maxPrice": 20 })).await),
        ["100% Cotton Scarf", "Red Tea Kettle"]
    );
    assert_eq!(
        names(&search(json!({ "minPrice": "30", "maxPrice": "10" })).await),
        Vec::<String>::new()
    );
    assert_eq!(
        names(&search(json!({ "inStock": false })).await),
        ["Blue Kettle"]
    );
    let counted = search(json!({ "search": "kettle", "inStock": true })).await;
    assert_eq!(counted["data"]["products"]["totalCount"], 1);
    assert_eq!(
        error_code(&search(json!({ "minPrice": "1.234" })).await),
        "BAD_USER_INPUT"
    );
});

/// Pages through the catalog in `sort`, inserting products between pages; every product
/// that existed at the start is seen exactly once, in order.
async fn page_through(app: &TestApp, admin: &str, sort: Value, inserted: &mut usize) {
    let before: Value = app
        .gql(PRODUCTS, json!({ "first": 100, "sort": sort }), Some(admin))
        .await;
    let expected: Vec<String> = before["data"]["products"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect();
    let mut seen_all = Vec::new();
    let mut after = Value::Null;
    loop {
        let body = app
            .gql(
                PRODUCTS,
                json!({ "first": 4, "after": after, "sort": sort }),
                Some(admin),
            )
            .await;
        let connection = &body["data"]["products"];
        for node in connection["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
        {
            seen_all.push(node["id"].as_str().unwrap().to_owned());
        }
        // New rows land anywhere in the order (names and prices spread out).
        *inserted += 1;
        let n = *inserted;
        let name = format!("{} inserted {n}", ["A", "M", "Z", "b"][n % 4]);
        app.product(
            admin,
            &name,
            &format!("{}.{:02}", (n * 37) % 90 + 1, n % 100),
            1,
        )
        .await;
        if connection["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = connection["pageInfo"]["endCursor"].clone();
    }
    let mut unique = seen_all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        seen_all.len(),
        "{sort}: a product was seen twice"
    );
    let seen_old: Vec<&String> = seen_all.iter().filter(|id| expected.contains(id)).collect();
    assert_eq!(
        seen_old,
        expected.iter().collect::<Vec<_>>(),
        "{sort}: order or gaps differ"
    );
}

backend_test!(
    keyset_paging_has_no_gaps_or_duplicates_in_any_order,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        for i in 0..14 {
            // Repeated names and prices, so ties are broken by id.
            let name = format!("Item {}", ["Ä", "a", "B", "b", "Z", "é", "a"][i % 7]);
            app.product(&admin, &name, ["5.00", "1.50", "5.00", "20.00"][i % 4], 1)
                .await;
        }
        let mut inserted = 0;
        for field in ["CREATED_AT", "NAME", "PRICE"] {
            for direction in ["ASC", "DESC"] {
                page_through(
                    &app,
                    &admin,
                    json!({ "field": field, "direction": direction }),
                    &mut inserted,
                )
                .await;
            }
        }
        // NAME sorts by code point: uppercase ASCII, lowercase ASCII, then accented letters.
        let by_name = app
            .gql(
                PRODUCTS,
                json!({ "first": 100, "sort": { "field": "NAME" },
        "filter": { "search": "item" } }),
                Some(&admin),
            )
            .await;
        let listed = names(&by_name);
        let mut sorted = listed.clone();
        sorted.sort();
        assert_eq!(listed, sorted);

        // Backwards from the end matches forwards.
        let forward = app
            .gql(
                PRODUCTS,
                json!({ "first": 100, "sort": { "field": "PRICE", "direction": "DESC" } }),
                Some(&admin),
            )
            .await;
        let all: Vec<Value> = forward["data"]["products"]["nodes"]
            .as_array()
            .unwrap()
            .clone();
        let mut backward = Vec::new();
        let mut before = Value::Null;
        loop {
            let body = app
            .gql(PRODUCTS, json!({ "last": 5, "before": before, "sort": { "field": "PRICE", "direction": "DESC" } }), Some(&admin))
            .await;
            let connection = &body["data"]["products"];
            let mut page: Vec<Value> = connection["nodes"].as_array().unwrap().clone();
            page.extend(backward);
            backward = page;
            if connection["pageInfo"]["hasPreviousPage"] != true {
                break;
            }
            before = connection["pageInfo"]["startCursor"].clone();
        }
        assert_eq!(backward, all);
        let default = app.gql(PRODUCTS, json!({ "first": 1 }), Some(&admin)).await;
        assert!(
            names(&default)[0].contains("inserted"),
            "newest first by default"
        );
    }
);

backend_test!(paging_arguments_are_checked, |app: TestApp| async move {
    let admin = app.admin("admin@example.com").await;
    for bad in [
        json!({ "first": 101 }),
        json!({ "last": -1 }),
        json!({ "first": 1, "last": 1 }),
        json!({ "after": "garbage!" }),
    ] {
        assert_eq!(
            error_code(&app.gql(PRODUCTS, bad.clone(), Some(&admin)).await),
            "BAD_USER_INPUT",
            "{bad}"
        );
    }
    // A cursor made for another sort is malformed for this one.
    app.product(&admin, "One", "1", 1).await;
    let by_name = app
        .gql(
            PRODUCTS,
            json!({ "sort": { "field": "NAME" } }),
            Some(&admin),
        )
        .await;
    let cursor = by_name["data"]["products"]["pageInfo"]["endCursor"].clone();
    let body = app
        .gql(
            PRODUCTS,
            json!({ "after": cursor, "sort": { "field": "PRICE" } }),
            Some(&admin),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
});

const UPLOAD: &str =
    "mutation($input: UploadProductImageInput!) { uploadProductImage(input: $input) {
    product { imageUrl } userErrors { field code message } } }";

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xff\xff?\0\x05\xfe\x02\xfe\xa7\x35\x81\x84\0\0\0\0IEND\xaeB`\x82";

fn upload_form(product_id: &str, bytes: Vec<u8>, file_name: &str) -> reqwest::multipart::Form {
    let operations = json!({ "query": UPLOAD, "variables": { "input": { "productId": product_id, "image": null } } });
    reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", json!({ "0": ["variables.input.image"] }).to_string())
        .part(
            "0",
            reqwest::multipart::Part::bytes(bytes)
                .file_name(file_name.to_owned())
                .mime_str("image/png")
                .unwrap(),
        )
}

async fn try_upload(
    app: &TestApp,
    token: &str,
    product_id: &str,
    bytes: Vec<u8>,
    file_name: &str,
) -> reqwest::Result<reqwest::Response> {
    app.client
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .multipart(upload_form(product_id, bytes, file_name))
        .send()
        .await
}

async fn upload(
    app: &TestApp,
    token: &str,
    product_id: &str,
    bytes: Vec<u8>,
    file_name: &str,
) -> reqwest::Response {
    try_upload(app, token, product_id, bytes, file_name)
        .await
        .unwrap()
}

backend_test!(
    images_are_checked_stored_served_and_replaced,
    |c: &mut Config| c.media.max_image_bytes = 4096,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let id = app.product(&admin, "Frame", "10", 1).await;

        let body: Value = upload(&app, &admin, &id, PNG.to_vec(), "x.png")
            .await
            .json()
            .await
            .unwrap();
        let url = body["data"]["uploadProductImage"]["product"]["imageUrl"]
            .as_str()
            .expect("image url")
            .to_owned();
        assert!(
            url.starts_with("/media/products/") && url.ends_with(".png"),
            "{url}"
        );
        let served = app.client.get(app.url(&url)).send().await.unwrap();
        assert_eq!(served.status(), 200);
        assert_eq!(served.headers()["content-type"], "image/png");
        assert!(
            served.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("max-age")
        );
        assert_eq!(served.bytes().await.unwrap().as_ref(), PNG);

        // It survives a restart: another server on the same database and folder.
        let other = app.another_server().await;
        let again = app
            .client
            .get(format!("http://{}{url}", other.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 200);

        // A GIF replaces it; the old file goes away.
        let gif = b"GIF89a\x01\0\x01\0\0\0\0;".to_vec();
        let body: Value = upload(&app, &admin, &id, gif, "y.gif")
            .await
            .json()
            .await
            .unwrap();
        let new_url = body["data"]["uploadProductImage"]["product"]["imageUrl"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(new_url.ends_with(".gif"));
        assert_eq!(
            app.client.get(app.url(&url)).send().await.unwrap().status(),
            404
        );

        // Not an image whatever it is called; too large; far too large.
        let fake: Value = upload(&app, &admin, &id, b"<svg/>".to_vec(), "z.png")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            user_error_code(&fake, "uploadProductImage"),
            "INVALID_IMAGE",
            "{fake}"
        );
        let mut big = PNG.to_vec();
        big.resize(5000, 0);
        let large: Value = upload(&app, &admin, &id, big, "big.png")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            user_error_code(&large, "uploadProductImage"),
            "INVALID_IMAGE"
        );
        let mut huge = PNG.to_vec();
        huge.resize(2 * 1024 * 1024, 0);
        // Refused from its Content-Length: a 413, or (when the server answers and closes
        // before the client has finished writing) a broken upload. Never accepted.
        match try_upload(&app, &admin, &id, huge, "huge.png").await {
            Ok(response) => assert_eq!(response.status(), 413),
            Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
        }
        app.assert_healthy().await;
        let current = app.gql(PRODUCT, json!({ "id": id }), Some(&admin)).await;
        assert_eq!(current["data"]["product"]["imageUrl"], json!(new_url));

        let (customer, _, _) = app.register("c@example.com").await;
        let forbidden: Value = upload(&app, &customer, &id, PNG.to_vec(), "x.png")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(error_code(&forbidden), "FORBIDDEN");
    }
);

backend_test!(
    uploads_are_refused_before_their_body_is_read,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let id = app.product(&admin, "Mug", "5.00", 1).await;
        let (customer, _, _) = app.register("c@example.com").await;
        for (token, status, code) in [
            (None, 401, "UNAUTHENTICATED"),
            (Some(customer.as_str()), 403, "FORBIDDEN"),
        ] {
            let mut request = app.client.post(app.url("/graphql")).multipart(upload_form(
                &id,
                PNG.to_vec(),
                "x.png",
            ));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), status);
            let body: Value = response.json().await.unwrap();
            assert_eq!(error_code(&body), code, "{body}");
        }
        app.assert_healthy().await;
    }
);
