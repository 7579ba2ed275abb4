//! Customers v2: the wishlist, written from the contract and the behaviour rules.

use futures_util::future::join_all;
use serde_json::{Value, json};

use mini_ecommerce::config::Config;

use crate::helpers::{TestApp, backend_test, error_code, user_error_code};

const WISHLIST: &str = "{ wishlist { totalCount items { id addedAt product { id name } } } }";
const ADD: &str = "mutation($p: ID!) { addToWishlist(input: {productId: $p}) {
    wishlist { totalCount items { id addedAt product { name } } } userErrors { field code message } } }";
const REMOVE: &str = "mutation($p: ID!) { removeFromWishlist(input: {productId: $p}) {
    wishlist { totalCount items { product { name } } } userErrors { field code } } }";
const PAGE: &str = "query($n: Int) { products(first: $n, sort: {field: NAME}) {
    nodes { name inWishlist } } }";
const PAGE_WITHOUT: &str = "query($n: Int) { products(first: $n, sort: {field: NAME}) {
    nodes { name } } }";

fn item_names(wishlist: &Value) -> Vec<String> {
    wishlist["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {wishlist}"))
        .iter()
        .map(|i| i["product"]["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn add(app: &TestApp, token: &str, product: &str) -> Value {
    app.gql(ADD, json!({ "p": product }), Some(token)).await
}

async fn wishlist(app: &TestApp, token: &str) -> Value {
    let body = app.gql(WISHLIST, json!({}), Some(token)).await;
    assert!(body["data"]["wishlist"].is_object(), "{body}");
    body["data"]["wishlist"].clone()
}

backend_test!(
    adding_twice_keeps_one_item_and_removing_is_idempotent,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        let lamp = app.product(&admin, "Lamp", "10.00", 1).await;
        let mug = app.product(&admin, "Mug", "3.00", 0).await;

        let first = add(&app, &ann, &lamp).await;
        assert_eq!(
            first["data"]["addToWishlist"]["userErrors"],
            json!([]),
            "{first}"
        );
        let added_at = first["data"]["addToWishlist"]["wishlist"]["items"][0]["addedAt"].clone();
        let item_id = first["data"]["addToWishlist"]["wishlist"]["items"][0]["id"].clone();
        // Out of stock is still wishable.
        add(&app, &ann, &mug).await;
        let again = add(&app, &ann, &lamp).await;
        let list = &again["data"]["addToWishlist"]["wishlist"];
        assert_eq!(again["data"]["addToWishlist"]["userErrors"], json!([]));
        assert_eq!(list["totalCount"], 2);
        assert_eq!(item_names(list), ["Mug", "Lamp"], "newest first");
        assert_eq!(
            list["items"][1]["addedAt"], added_at,
            "the first addedAt stays"
        );

        let node = "query($id: ID!) { node(id: $id) { ... on WishlistItem { product { name } } } }";
        let mine = app.gql(node, json!({ "id": item_id }), Some(&ann)).await;
        assert_eq!(mine["data"]["node"]["product"]["name"], "Lamp", "{mine}");
        let bob = app.customer("bob@example.com").await;
        let theirs = app.gql(node, json!({ "id": item_id }), Some(&bob)).await;
        assert_eq!(theirs["data"]["node"], Value::Null);
        assert_eq!(wishlist(&app, &bob).await["totalCount"], 0);

        for _ in 0..2 {
            let body = app.gql(REMOVE, json!({ "p": lamp }), Some(&ann)).await;
            assert_eq!(
                body["data"]["removeFromWishlist"]["userErrors"],
                json!([]),
                "{body}"
            );
            assert_eq!(
                item_names(&body["data"]["removeFromWishlist"]["wishlist"]),
                ["Mug"]
            );
        }
        let unknown = crate::helpers::global_id("Product", 999_999);
        let body = add(&app, &ann, &unknown).await;
        assert_eq!(user_error_code(&body, "addToWishlist"), "NOT_FOUND");
        assert_eq!(body["data"]["addToWishlist"]["wishlist"]["totalCount"], 1);
    }
);

backend_test!(
    archived_products_stay_but_cannot_be_added_and_deleted_ones_leave,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        let lamp = app.product(&admin, "Lamp", "10.00", 1).await;
        let mug = app.product(&admin, "Mug", "3.00", 1).await;
        let vase = app.product(&admin, "Vase", "8.00", 1).await;
        add(&app, &ann, &lamp).await;
        add(&app, &ann, &vase).await;
        let archive = "mutation($id: ID!) { updateProduct(input: {id: $id, isArchived: true}) {
            product { isArchived } } }";
        for id in [&lamp, &mug] {
            let body = app.gql(archive, json!({ "id": id }), Some(&admin)).await;
            assert_eq!(
                body["data"]["updateProduct"]["product"]["isArchived"], true,
                "{body}"
            );
        }
        let body = add(&app, &ann, &mug).await;
        assert_eq!(
            user_error_code(&body, "addToWishlist"),
            "PRODUCT_UNAVAILABLE"
        );
        assert_eq!(item_names(&wishlist(&app, &ann).await), ["Vase", "Lamp"]);
        // Adding one that is already there (archived since) changes nothing.
        let body = add(&app, &ann, &lamp).await;
        assert_eq!(
            body["data"]["addToWishlist"]["userErrors"],
            json!([]),
            "{body}"
        );

        let delete = "mutation($id: ID!) { deleteProduct(input: {id: $id}) { deletedProductId } }";
        let body = app.gql(delete, json!({ "id": vase }), Some(&admin)).await;
        assert_eq!(
            body["data"]["deleteProduct"]["deletedProductId"],
            json!(vase),
            "{body}"
        );
        assert_eq!(item_names(&wishlist(&app, &ann).await), ["Lamp"]);
    }
);

backend_test!(
    a_wishlist_holds_at_most_200_products_even_under_concurrent_adds,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        let mut products = Vec::new();
        for i in 0..205 {
            products.push(app.product(&admin, &format!("P{i:03}"), "1.00", 1).await);
        }
        for product in &products[..197] {
            let body = add(&app, &ann, product).await;
            assert_eq!(
                body["data"]["addToWishlist"]["userErrors"],
                json!([]),
                "{body}"
            );
        }
        let racing = join_all(products[197..205].iter().map(|p| add(&app, &ann, p))).await;
        let full: Vec<&Value> = racing
            .iter()
            .filter(|body| user_error_code(body, "addToWishlist") == "WISHLIST_FULL")
            .collect();
        assert_eq!(full.len(), 5, "8 adds at 197 items: 3 fit");
        assert_eq!(
            full[0]["data"]["addToWishlist"]["userErrors"][0]["field"],
            json!(["input", "productId"])
        );
        assert_eq!(wishlist(&app, &ann).await["totalCount"], 200);
        // Removing one makes room again.
        app.gql(REMOVE, json!({ "p": products[0] }), Some(&ann))
            .await;
        let body = add(&app, &ann, &products[0]).await;
        assert_eq!(
            body["data"]["addToWishlist"]["userErrors"],
            json!([]),
            "{body}"
        );
        assert_eq!(body["data"]["addToWishlist"]["wishlist"]["totalCount"], 200);
    }
);

backend_test!(
    the_wishlist_is_for_customers_and_in_wishlist_costs_one_statement_per_page,
    // Anonymous visitors see the catalog, to see their inWishlist.
    |config: &mut Config| config.auth.catalog_public = true,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        let mut products = Vec::new();
        for i in 0..20 {
            products.push(app.product(&admin, &format!("P{i:02}"), "1.00", 1).await);
        }
        add(&app, &ann, &products[3]).await;
        add(&app, &ann, &products[7]).await;

        let body = app.gql(PAGE, json!({ "n": 20 }), Some(&ann)).await;
        let wished: Vec<&str> = body["data"]["products"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["inWishlist"] == true)
            .map(|n| n["name"].as_str().unwrap())
            .collect();
        assert_eq!(wished, ["P03", "P07"], "{body}");
        for token in [Some(admin.as_str()), None] {
            let body = app.gql(PAGE, json!({ "n": 20 }), token).await;
            let nodes = body["data"]["products"]["nodes"]
                .as_array()
                .unwrap()
                .clone();
            assert!(nodes.iter().all(|n| n["inWishlist"] == false), "{body}");
        }

        // The flag adds one statement to a page, of 2 products or of 20: the wishlist.
        // (It needs the viewer too, which a public catalog page does not otherwise
        // need; ann's row is in the viewer cache from her requests before.)
        let cost = |query: &'static str, n: i32| {
            let app = &app;
            let ann = ann.clone();
            async move {
                let before = app.state.db.statement_count();
                let body = app.gql(query, json!({ "n": n }), Some(&ann)).await;
                assert!(body["data"]["products"].is_object(), "{body}");
                app.state.db.statement_count() - before
            }
        };
        for n in [2, 20] {
            assert_eq!(
                cost(PAGE, n).await,
                cost(PAGE_WITHOUT, n).await + 1,
                "page of {n}"
            );
        }

        for token in [Some(admin.as_str()), None] {
            let expected = if token.is_some() {
                "FORBIDDEN"
            } else {
                "UNAUTHENTICATED"
            };
            let body = app.gql(WISHLIST, json!({}), token).await;
            assert_eq!(error_code(&body), expected, "{body}");
            let body = app.gql(ADD, json!({ "p": products[0] }), token).await;
            assert_eq!(error_code(&body), expected, "{body}");
            let body = app.gql(REMOVE, json!({ "p": products[3] }), token).await;
            assert_eq!(error_code(&body), expected, "{body}");
        }
        assert_eq!(wishlist(&app, &ann).await["totalCount"], 2);
    }
);
