//! Customers v2: reviews and ratings, written from the contract and the behaviour rules.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{TestApp, backend_test, error_code, global_id, user_error_code};

const WRITE: &str = "mutation($p: ID!, $r: Int!, $t: String, $b: String) {
    writeReview(input: {productId: $p, rating: $r, title: $t, body: $b}) {
        review { id rating title body status authorName product { id } createdAt updatedAt }
        product { averageRating reviewCount }
        userErrors { field code message } } }";
const MODERATE: &str = "mutation($id: ID!, $s: ReviewStatus!) {
    moderateReview(input: {id: $id, status: $s}) {
        review { id status } product { averageRating reviewCount } userErrors { field code } } }";
const DELETE: &str = "mutation($id: ID!) { deleteReview(input: {id: $id}) {
    deletedReviewId product { averageRating reviewCount } userErrors { field code } } }";
const PRODUCT: &str = "query($id: ID!) { product(id: $id) {
    averageRating reviewCount
    reviews(first: 50) { totalCount nodes { id rating status authorName } }
    myReview { id status rating } } }";
const SET_STATUS: &str = "mutation($o: ID!, $s: OrderStatus!) {
    updateOrderStatus(input: {orderId: $o, status: $s}) { userErrors { code } } }";

impl TestApp {
    /// Moves an order to DELIVERED as `admin`.
    async fn deliver(&self, admin: &str, order: &str) {
        for status in ["CONFIRMED", "SHIPPED", "DELIVERED"] {
            let body = self
                .gql(SET_STATUS, json!({ "o": order, "s": status }), Some(admin))
                .await;
            assert_eq!(
                body["data"]["updateOrderStatus"]["userErrors"],
                json!([]),
                "{body}"
            );
        }
    }

    /// A customer who received one of each of `products` in one delivered order.
    async fn buyer(&self, admin: &str, email: &str, products: &[&str]) -> String {
        let token = self.customer(email).await;
        for product in products {
            self.add_to_cart(&token, product, 1).await;
        }
        let order = self
            .place_order(&token, json!({ "shippingAddress": "1 Main St" }))
            .await;
        self.deliver(admin, &order).await;
        token
    }
}

async fn write(app: &TestApp, token: &str, product: &str, rating: i64) -> Value {
    let vars = json!({ "p": product, "r": rating, "t": "Title", "b": "Body" });
    app.gql(WRITE, vars, Some(token)).await
}

/// The review a successful writeReview returns.
fn written(body: &Value) -> &Value {
    let payload = &body["data"]["writeReview"];
    assert_eq!(payload["userErrors"], json!([]), "{body}");
    &payload["review"]
}

async fn product(app: &TestApp, token: Option<&str>, id: &str) -> Value {
    let body = app.gql(PRODUCT, json!({ "id": id }), token).await;
    assert!(body["data"]["product"].is_object(), "{body}");
    body["data"]["product"].clone()
}

backend_test!(
    only_customers_with_a_delivered_order_may_review,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let lamp = app.product(&admin, "Lamp", "10.00", 10).await;
        let stranger = app.customer("stranger@example.com").await;
        let waiting = app.customer("waiting@example.com").await;
        let order = app
            .order(&waiting, &lamp, 1, json!({ "shippingAddress": "Home" }))
            .await;
        for status in ["CONFIRMED", "SHIPPED"] {
            app.gql(SET_STATUS, json!({ "o": order, "s": status }), Some(&admin))
                .await;
        }

        let anonymous = app.gql(WRITE, json!({ "p": lamp, "r": 5 }), None).await;
        assert_eq!(error_code(&anonymous), "UNAUTHENTICATED", "{anonymous}");
        let by_admin = write(&app, &admin, &lamp, 5).await;
        assert_eq!(error_code(&by_admin), "FORBIDDEN", "{by_admin}");
        for token in [&stranger, &waiting] {
            let refused = write(&app, token, &lamp, 5).await;
            assert_eq!(
                user_error_code(&refused, "writeReview"),
                "REVIEW_NOT_ALLOWED",
                "{refused}"
            );
            assert_eq!(refused["data"]["writeReview"]["review"], Value::Null);
        }
        let unknown = write(&app, &stranger, &global_id("Product", 999), 5).await;
        assert_eq!(user_error_code(&unknown, "writeReview"), "NOT_FOUND");

        let buyer = app.buyer(&admin, "buyer@example.com", &[&lamp]).await;
        let long = |n: usize| "é".repeat(n);
        let bad = [
            (json!({ "p": lamp, "r": 0 }), "rating"),
            (json!({ "p": lamp, "r": 6 }), "rating"),
            (json!({ "p": lamp, "r": 4, "t": long(201) }), "title"),
            (json!({ "p": lamp, "r": 4, "b": long(5001) }), "body"),
        ];
        for (vars, field) in bad {
            let body = app.gql(WRITE, vars, Some(&buyer)).await;
            let error = &body["data"]["writeReview"]["userErrors"][0];
            assert_eq!(error["code"], "INVALID_INPUT", "{body}");
            assert_eq!(error["field"], json!(["input", field]), "{body}");
        }
        let page = product(&app, Some(&buyer), &lamp).await;
        assert_eq!(page["reviewCount"], 0, "refusals change nothing");
        assert_eq!(page["averageRating"], Value::Null);
        assert_eq!(page["myReview"], Value::Null);

        // The longest title and body, trimmed; title and body may be left out.
        let vars = json!({ "p": lamp, "r": 4, "t": format!("  {}  ", long(200)), "b": long(5000) });
        let body = app.gql(WRITE, vars, Some(&buyer)).await;
        let review = written(&body);
        assert_eq!(review["title"], long(200));
        assert_eq!(review["authorName"], "Test U.");
        assert_eq!(review["status"], "PUBLISHED");
        assert_eq!(review["product"]["id"], lamp);
        assert_eq!(
            body["data"]["writeReview"]["product"],
            json!({ "averageRating": 4.0, "reviewCount": 1 })
        );
        let bare = app
            .gql(WRITE, json!({ "p": lamp, "r": 2 }), Some(&buyer))
            .await;
        assert_eq!(written(&bare)["title"], "");
        assert_eq!(written(&bare)["body"], "");
        assert!(!bare.to_string().contains("buyer@example.com"));
    }
);

backend_test!(
    rewrites_keep_the_id_and_hidden_reviews_stay_out_of_every_count,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let lamp = app.product(&admin, "Lamp", "10.00", 10).await;
        let ann = app.buyer(&admin, "ann@example.com", &[&lamp]).await;
        let bob = app.buyer(&admin, "bob@example.com", &[&lamp]).await;

        let first = write(&app, &ann, &lamp, 5).await;
        let id = written(&first)["id"].clone();
        let created_at = written(&first)["createdAt"].clone();
        let again = write(&app, &ann, &lamp, 3).await;
        assert_eq!(written(&again)["id"], id, "a rewrite keeps the id");
        assert_eq!(written(&again)["createdAt"], created_at);
        assert_eq!(written(&again)["rating"], 3);
        let bobs = write(&app, &bob, &lamp, 4).await;
        assert_eq!(
            bobs["data"]["writeReview"]["product"],
            json!({ "averageRating": 3.5, "reviewCount": 2 })
        );

        // Moderation is the admins'.
        let vars = json!({ "id": id, "s": "HIDDEN" });
        let by_customer = app.gql(MODERATE, vars.clone(), Some(&bob)).await;
        assert_eq!(error_code(&by_customer), "FORBIDDEN");
        let hidden = app.gql(MODERATE, vars, Some(&admin)).await;
        assert_eq!(
            hidden["data"]["moderateReview"]["review"]["status"],
            "HIDDEN"
        );
        assert_eq!(
            hidden["data"]["moderateReview"]["product"],
            json!({ "averageRating": 4.0, "reviewCount": 1 })
        );

        // Hidden: its author sees it only as myReview; admins see it everywhere.
        let as_ann = product(&app, Some(&ann), &lamp).await;
        assert_eq!(as_ann["myReview"]["status"], "HIDDEN");
        assert_eq!(as_ann["reviews"]["totalCount"], 1);
        assert_eq!(as_ann["reviews"]["nodes"][0]["rating"], 4);
        let as_admin = product(&app, Some(&admin), &lamp).await;
        assert_eq!(as_admin["reviews"]["totalCount"], 2);
        assert_eq!(as_admin["myReview"], Value::Null);
        assert_eq!(as_admin["reviewCount"], 1);
        let node = "query($id: ID!) { node(id: $id) { ... on Review { status } } }";
        for (token, seen) in [(&ann, json!({ "status": "HIDDEN" })), (&bob, Value::Null)] {
            let body = app.gql(node, json!({ "id": id }), Some(token)).await;
            assert_eq!(body["data"]["node"], seen, "{body}");
        }
        let list = "query($s: ReviewStatus) { reviews(status: $s) { totalCount nodes { id } } }";
        let body = app.gql(list, json!({ "s": "HIDDEN" }), Some(&admin)).await;
        assert_eq!(body["data"]["reviews"]["nodes"], json!([{ "id": id }]));
        let body = app.gql(list, json!({}), Some(&admin)).await;
        assert_eq!(
            body["data"]["reviews"]["totalCount"], 2,
            "newest first: {body}"
        );
        assert_eq!(body["data"]["reviews"]["nodes"][1]["id"], id);
        assert_eq!(
            error_code(&app.gql(list, json!({}), Some(&ann)).await),
            "FORBIDDEN"
        );

        // A hidden review stays hidden when rewritten, and still does not count.
        let rewritten = write(&app, &ann, &lamp, 1).await;
        assert_eq!(written(&rewritten)["status"], "HIDDEN");
        assert_eq!(
            rewritten["data"]["writeReview"]["product"],
            json!({ "averageRating": 4.0, "reviewCount": 1 })
        );
        let shown = app
            .gql(
                MODERATE,
                json!({ "id": id, "s": "PUBLISHED" }),
                Some(&admin),
            )
            .await;
        assert_eq!(
            shown["data"]["moderateReview"]["product"],
            json!({ "averageRating": 2.5, "reviewCount": 2 })
        );

        // Deleting: one's own, or any as an admin; another customer's is not found.
        let bobs_id = written(&bobs)["id"].clone();
        let refused = app.gql(DELETE, json!({ "id": bobs_id }), Some(&ann)).await;
        assert_eq!(user_error_code(&refused, "deleteReview"), "NOT_FOUND");
        let deleted = app.gql(DELETE, json!({ "id": id }), Some(&ann)).await;
        assert_eq!(deleted["data"]["deleteReview"]["deletedReviewId"], id);
        assert_eq!(
            deleted["data"]["deleteReview"]["product"],
            json!({ "averageRating": 4.0, "reviewCount": 1 })
        );
        let by_admin = app
            .gql(DELETE, json!({ "id": bobs_id }), Some(&admin))
            .await;
        assert_eq!(
            by_admin["data"]["deleteReview"]["product"],
            json!({ "averageRating": Value::Null, "reviewCount": 0 })
        );
        let gone = app.gql(DELETE, json!({ "id": id }), Some(&ann)).await;
        assert_eq!(user_error_code(&gone, "deleteReview"), "NOT_FOUND");
        let anonymous = app.gql(PRODUCT, json!({ "id": lamp }), None).await;
        assert_eq!(anonymous["data"]["product"]["myReview"], Value::Null);
    }
);

backend_test!(
    concurrent_reviews_keep_the_aggregate_exact,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let lamp = app.product(&admin, "Lamp", "10.00", 100).await;
        let reader = app.customer("reader@example.com").await;
        let mut buyers = Vec::new();
        for i in 0..20 {
            let email = format!("buyer{i}@example.com");
            buyers.push(app.buyer(&admin, &email, &[&lamp]).await);
        }
        // 15 fives and 5 twos: a mean of exactly 4.25, which rounds half up to 4.3.
        let rating = |i: usize| if i < 15 { 5 } else { 2 };
        let writes = buyers
            .iter()
            .enumerate()
            .map(|(i, token)| write(&app, token, &lamp, rating(i)));
        let ids: Vec<Value> = join_all(writes)
            .await
            .iter()
            .map(|body| written(body)["id"].clone())
            .collect();
        let page = product(&app, Some(&reader), &lamp).await;
        assert_eq!(page["reviewCount"], 20);
        assert_eq!(page["averageRating"], 4.3);
        assert_eq!(page["reviews"]["totalCount"], 20);

        // At once: 0..5 rewrite to 1, the admin hides 5..10, 10..13 delete theirs, and
        // 13..15 rewrite to 3. Published then: 13, 14 (3), 15..20 (2), 0..5 (1).
        let mut changes = Vec::new();
        for (i, token) in buyers.iter().enumerate() {
            let (query, vars, by) = match i {
                0..5 => (WRITE, json!({ "p": lamp, "r": 1 }), token),
                5..10 => (MODERATE, json!({ "id": ids[i], "s": "HIDDEN" }), &admin),
                10..13 => (DELETE, json!({ "id": ids[i] }), token),
                13..15 => (WRITE, json!({ "p": lamp, "r": 3 }), token),
                _ => continue,
            };
            changes.push(app.gql(query, vars, Some(by)));
        }
        for body in join_all(changes).await {
            assert!(!body.to_string().contains("\"code\""), "{body}");
        }
        let sum = 2 * 3 + 5 * 2 + 5;
        let page = product(&app, Some(&reader), &lamp).await;
        assert_eq!(page["reviewCount"], 12);
        let tenths = (20 * sum + 12) / 24;
        assert_eq!(page["averageRating"], json!(tenths as f64 / 10.0), "{page}");
        assert_eq!(page["reviews"]["totalCount"], 12);
    }
);

/// The names of a RATING-sorted product list read page by page (`first`/`after`, or
/// `last`/`before` from the end), each page of `size`.
async fn rating_pages(
    app: &TestApp,
    token: &str,
    direction: &str,
    size: i64,
    backward: bool,
) -> Vec<String> {
    let query =
        "query($d: SortDirection, $first: Int, $after: String, $last: Int, $before: String) {
        products(first: $first, after: $after, last: $last, before: $before,
                 sort: {field: RATING, direction: $d}) {
            edges { cursor node { name } } pageInfo { hasNextPage hasPreviousPage } } }";
    let mut names: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let vars = if backward {
            json!({ "d": direction, "last": size, "before": cursor })
        } else {
            json!({ "d": direction, "first": size, "after": cursor })
        };
        let body = app.gql(query, vars, Some(token)).await;
        let list = &body["data"]["products"];
        let edges = list["edges"].as_array().unwrap_or_else(|| panic!("{body}"));
        let mut page: Vec<String> = edges
            .iter()
            .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
            .collect();
        let (edge, more) = if backward {
            (edges.first(), list["pageInfo"]["hasPreviousPage"] == true)
        } else {
            (edges.last(), list["pageInfo"]["hasNextPage"] == true)
        };
        cursor = edge.map(|e| e["cursor"].as_str().unwrap().to_owned());
        if backward {
            page.append(&mut names);
            names = page;
        } else {
            names.append(&mut page);
        }
        if !more {
            return names;
        }
        assert!(names.len() < 100, "the pages never end");
    }
}

backend_test!(
    rating_sort_orders_by_exact_means_with_unrated_products_last,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let reader = app.customer("reader@example.com").await;
        let mut ids = Vec::new();
        for name in ["Unrated1", "Quarter", "Third", "Five", "Third2", "Unrated2"] {
            ids.push(app.product(&admin, name, "1.00", 10).await);
        }
        let names: Vec<&str> = ids.iter().map(String::as_str).collect();
        let [_, quarter, third, five, third2, _] = names[..] else {
            unreachable!()
        };
        // Quarter 17/4 = 4.25 and Third 13/3 ≈ 4.33 both show 4.3; the sort tells them
        // apart. Third2 ties Third (by id). A hidden 1 on Five does not count.
        let ratings: [(&str, &[i64]); 4] = [
            (quarter, &[5, 4, 4, 4]),
            (third, &[5, 4, 4]),
            (third2, &[4, 5, 4]),
            (five, &[5, 1]),
        ];
        let mut buyers = Vec::new();
        for i in 0..4 {
            let products = [quarter, third, five, third2];
            let email = format!("buyer{i}@example.com");
            buyers.push(app.buyer(&admin, &email, &products).await);
        }
        for (product, given) in ratings {
            for (buyer, rating) in buyers.iter().zip(given) {
                written(&write(&app, buyer, product, *rating).await);
            }
        }
        let hide = write(&app, &buyers[1], five, 1).await;
        let vars = json!({ "id": written(&hide)["id"], "s": "HIDDEN" });
        app.gql(MODERATE, vars, Some(&admin)).await;
        assert_eq!(
            product(&app, Some(&reader), quarter).await["averageRating"],
            4.3
        );
        assert_eq!(
            product(&app, Some(&reader), third).await["averageRating"],
            4.3
        );

        let ascending = ["Quarter", "Third", "Third2", "Five", "Unrated1", "Unrated2"];
        let descending = ["Five", "Third2", "Third", "Quarter", "Unrated1", "Unrated2"];
        for (direction, expected) in [("ASC", ascending), ("DESC", descending)] {
            for size in [1, 2, 4, 20] {
                for backward in [false, true] {
                    let names = rating_pages(&app, &reader, direction, size, backward).await;
                    assert_eq!(
                        names, expected,
                        "{direction}, pages of {size}, backward {backward}"
                    );
                }
            }
        }
    }
);
