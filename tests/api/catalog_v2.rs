//! Catalog v2: categories, product variants and facets, written from the contract and
//! the behaviour rules (not from the implementation).

use futures_util::future::join_all;
use serde_json::{Value, json};

use mini_ecommerce::config::Config;

use crate::helpers::{
    CREATE_PRODUCT, TestApp, backend_test, error_code, global_id, user_error_code,
};

const CREATE_CATEGORY: &str = "mutation($input: CreateCategoryInput!) { createCategory(input: $input) {
    category { id name slug description position parent { id } } userErrors { field code message } } }";
const UPDATE_CATEGORY: &str =
    "mutation($input: UpdateCategoryInput!) { updateCategory(input: $input) {
    category { id name slug position parent { id } } userErrors { field code message } } }";
const DELETE_CATEGORY: &str = "mutation($id: ID!) { deleteCategory(input: {id: $id}) {
    deletedCategoryId userErrors { field code } } }";
const CATEGORY: &str = "query($id: ID, $slug: String) { category(id: $id, slug: $slug) {
    id name slug parent { id name } children { id name } ancestors { id name } } }";
const PARENT: &str = "query($id: ID) { category(id: $id) { name parent { id } } }";
const CATEGORIES: &str = "query($parentId: ID) { categories(parentId: $parentId) { id name } }";
const CATEGORY_PRODUCTS: &str = "query($id: ID!, $filter: ProductFilter) { category(id: $id) {
    products(filter: $filter, sort: {field: NAME}) { totalCount nodes { name } } } }";
const SET_CATEGORIES: &str = "mutation($p: ID!, $c: [ID!]!) {
    setProductCategories(input: {productId: $p, categoryIds: $c}) {
    product { id categories { name } } userErrors { field code } } }";
const PRODUCT: &str = "query($id: ID!) { product(id: $id) { id name price stock inStock
    priceRange { min max } options { name values } categories { name }
    variants { id sku title price stock inStock isArchived selectedOptions { name value } } } }";
const PRODUCTS: &str = "query($filter: ProductFilter, $sort: ProductSort) {
    products(filter: $filter, sort: $sort, first: 100) { totalCount nodes { name } } }";
const CREATE: &str = "mutation($input: CreateProductInput!) { createProduct(input: $input) {
    product { id name price stock options { name values } categories { name }
      variants { id sku title price stock selectedOptions { name value } } }
    userErrors { field code } } }";
const UPDATE_PRODUCT: &str =
    "mutation($input: UpdateProductInput!) { updateProduct(input: $input) {
    product { name price stock } userErrors { field code } } }";
const ADD_VARIANT: &str = "mutation($input: AddProductVariantInput!) {
    addProductVariant(input: $input) {
    variant { id sku title price stock isArchived selectedOptions { name value } }
    product { id price stock } userErrors { field code } } }";
const UPDATE_VARIANT: &str = "mutation($input: UpdateProductVariantInput!) {
    updateProductVariant(input: $input) {
    variant { id sku title price isArchived selectedOptions { name value } } userErrors { field code } } }";
const DELETE_VARIANT: &str = "mutation($id: ID!) { deleteProductVariant(input: {id: $id}) {
    product { id } userErrors { field code } } }";
const ADJUST_V1: &str =
    "mutation($p: ID!, $d: Int!) { adjustStock(input: {productId: $p, delta: $d}) {
    product { stock } userErrors { field code } } }";
const ADJUST: &str = "mutation($p: ID!, $v: ID!, $d: Int!) {
    adjustStock(input: {productId: $p, variantId: $v, delta: $d}) {
    product { stock } userErrors { field code } } }";
const ADD_V1: &str =
    "mutation($p: ID!, $q: Int) { addToCart(input: {productId: $p, quantity: $q}) {
    cartItem { id quantity } userErrors { field code } } }";
const ADD: &str = "mutation($p: ID!, $v: ID!, $q: Int) {
    addToCart(input: {productId: $p, variantId: $v, quantity: $q}) {
    cartItem { id quantity variant { id title } } userErrors { field code } } }";
const CART: &str = "{ cart { totalQuantity subtotal
    items { quantity lineTotal product { id } variant { id title } } } }";
const PLACE: &str = "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
    order { id totalAmount } userErrors { field code } } }";
const ORDER: &str = "query($id: ID!) { order(id: $id) { totalAmount items {
    productName unitPrice quantity sku variantTitle variant { id title isArchived } } } }";
const CANCEL: &str = "mutation($o: ID!) { cancelOrder(input: {orderId: $o}) {
    order { status } userErrors { code } } }";
const FACETS: &str = "query($filter: ProductFilter) { products(filter: $filter, first: 100) {
    totalCount facets { categories { category { name } count } options { name values { value count } }
      inStockCount priceRange { min max } } } }";
const FACETS_ONLY: &str = "query($filter: ProductFilter) { products(filter: $filter, first: 10) {
    facets { categories { category { id name } count } options { name values { value count } }
      inStockCount priceRange { min max } } } }";

// ---------------------------------------------------------------------------------------
// Helpers of this file.

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
        .to_owned()
}

fn list(value: &Value) -> &[Value] {
    value
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_else(|| panic!("not a list: {value}"))
}

/// The `name` of every element of a list.
fn names(value: &Value) -> Vec<String> {
    list(value).iter().map(|c| text(&c["name"])).collect()
}

/// The `key` of every element of a list.
fn field_list(value: &Value, key: &str) -> Vec<Value> {
    list(value).iter().map(|v| v[key].clone()).collect()
}

/// `[{name, value}, …]`, a list of SelectedOptionInput.
fn opts(pairs: &[(&str, &str)]) -> Value {
    pairs
        .iter()
        .map(|(name, value)| json!({ "name": name, "value": value }))
        .collect()
}

/// The first user error of payload `field` has `code`.
#[track_caller]
fn assert_code(body: &Value, field: &str, code: &str) {
    assert_eq!(user_error_code(body, field), code, "{field}: {body}");
}

async fn create_category(app: &TestApp, token: &str, input: Value) -> Value {
    app.gql(CREATE_CATEGORY, json!({ "input": input }), Some(token))
        .await
}

fn created_slug(body: &Value) -> Value {
    body["data"]["createCategory"]["category"]["slug"].clone()
}

async fn category_at(
    app: &TestApp,
    admin: &str,
    name: &str,
    parent: Option<&str>,
    position: i32,
) -> String {
    let input = json!({ "name": name, "parentId": parent, "position": position });
    let body = create_category(app, admin, input).await;
    body["data"]["createCategory"]["category"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("category {name} not created: {body}"))
        .to_owned()
}

/// Creates a category (position 0) under `parent`, or a root; returns its ID.
async fn category(app: &TestApp, admin: &str, name: &str, parent: Option<&str>) -> String {
    category_at(app, admin, name, parent, 0).await
}

async fn update_category(app: &TestApp, token: &str, input: Value) -> Value {
    app.gql(UPDATE_CATEGORY, json!({ "input": input }), Some(token))
        .await
}

async fn move_under(app: &TestApp, token: &str, id: &str, parent: &str) -> Value {
    update_category(app, token, json!({ "id": id, "parentId": parent })).await
}

async fn show_category(app: &TestApp, token: &str, id: &str) -> Value {
    let body = app.gql(CATEGORY, json!({ "id": id }), Some(token)).await;
    assert!(body["data"]["category"].is_object(), "{body}");
    body["data"]["category"].clone()
}

async fn category_names(app: &TestApp, token: &str, parent: Option<&str>) -> Vec<String> {
    let body = app
        .gql(CATEGORIES, json!({ "parentId": parent }), Some(token))
        .await;
    names(&body["data"]["categories"])
}

/// Names from `id` up to its root, following `parent` (fails on a loop).
async fn path_to_root(app: &TestApp, token: &str, id: &str) -> Vec<String> {
    let mut path = Vec::new();
    let mut current = id.to_owned();
    loop {
        let body = app.gql(PARENT, json!({ "id": current }), Some(token)).await;
        path.push(text(&body["data"]["category"]["name"]));
        assert!(path.len() <= 8, "a loop in the tree: {path:?}");
        match body["data"]["category"]["parent"]["id"].as_str() {
            Some(parent) => current = parent.to_owned(),
            None => return path,
        }
    }
}

async fn set_categories(app: &TestApp, admin: &str, product: &str, ids: Value) -> Value {
    app.gql(
        SET_CATEGORIES,
        json!({ "p": product, "c": ids }),
        Some(admin),
    )
    .await
}

async fn category_products(app: &TestApp, token: &str, id: &str, filter: Value) -> Value {
    let variables = json!({ "id": id, "filter": filter });
    let body = app.gql(CATEGORY_PRODUCTS, variables, Some(token)).await;
    assert!(body["data"]["category"]["products"].is_object(), "{body}");
    body["data"]["category"]["products"].clone()
}

async fn product_names(app: &TestApp, token: &str, filter: Value, sort: Value) -> Vec<String> {
    let body = app
        .gql(
            PRODUCTS,
            json!({ "filter": filter, "sort": sort }),
            Some(token),
        )
        .await;
    names(&body["data"]["products"]["nodes"])
}

async fn create_product(app: &TestApp, admin: &str, input: Value) -> Value {
    app.gql(CREATE, json!({ "input": input }), Some(admin))
        .await
}

/// A product whose first variant has `options` (none when empty) and `sku` (generated
/// when `None`); returns (product ID, variant ID).
async fn product_with(
    app: &TestApp,
    admin: &str,
    name: &str,
    price: &str,
    stock: i32,
    sku: Option<&str>,
    options: &[(&str, &str)],
) -> (String, String) {
    let mut input = json!({ "name": name, "price": price, "stock": stock });
    if let Some(sku) = sku {
        input["sku"] = json!(sku);
    }
    if !options.is_empty() {
        input["options"] = opts(options);
    }
    let body = create_product(app, admin, input).await;
    let product = &body["data"]["createProduct"]["product"];
    assert!(product.is_object(), "product {name} not created: {body}");
    (text(&product["id"]), text(&product["variants"][0]["id"]))
}

fn variant_input(
    product: &str,
    sku: &str,
    price: &str,
    stock: i32,
    options: &[(&str, &str)],
) -> Value {
    json!({ "productId": product, "sku": sku, "price": price, "stock": stock,
        "options": opts(options) })
}

async fn add_variant(app: &TestApp, admin: &str, input: Value) -> Value {
    app.gql(ADD_VARIANT, json!({ "input": input }), Some(admin))
        .await
}

/// Adds a variant; returns its ID.
async fn variant(
    app: &TestApp,
    admin: &str,
    product: &str,
    sku: &str,
    price: &str,
    stock: i32,
    options: &[(&str, &str)],
) -> String {
    let body = add_variant(
        app,
        admin,
        variant_input(product, sku, price, stock, options),
    )
    .await;
    body["data"]["addProductVariant"]["variant"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("variant {sku} not added: {body}"))
        .to_owned()
}

async fn update_variant(app: &TestApp, admin: &str, input: Value) -> Value {
    app.gql(UPDATE_VARIANT, json!({ "input": input }), Some(admin))
        .await
}

async fn archive_variant(app: &TestApp, admin: &str, id: &str) {
    let body = update_variant(app, admin, json!({ "id": id, "isArchived": true })).await;
    assert_eq!(
        body["data"]["updateProductVariant"]["userErrors"],
        json!([]),
        "{body}"
    );
}

async fn delete_variant(app: &TestApp, admin: &str, id: &str) -> Value {
    app.gql(DELETE_VARIANT, json!({ "id": id }), Some(admin))
        .await
}

/// `product(id:)` as `token` sees it.
async fn show(app: &TestApp, token: &str, id: &str) -> Value {
    let body = app.gql(PRODUCT, json!({ "id": id }), Some(token)).await;
    assert!(body["data"]["product"].is_object(), "{body}");
    body["data"]["product"].clone()
}

fn titles(product: &Value) -> Vec<String> {
    list(&product["variants"])
        .iter()
        .map(|v| text(&v["title"]))
        .collect()
}

async fn try_add(app: &TestApp, token: &str, product: &str, variant: &str, q: i32) -> Value {
    let variables = json!({ "p": product, "v": variant, "q": q });
    app.gql(ADD, variables, Some(token)).await
}

/// Puts `q` units of `variant` in the cart of `token`.
async fn add_to_cart(app: &TestApp, token: &str, product: &str, variant: &str, q: i32) {
    let body = try_add(app, token, product, variant, q).await;
    assert_eq!(body["data"]["addToCart"]["userErrors"], json!([]), "{body}");
}

/// The cart's lines as (variant title, quantity, line total), sorted by title.
async fn cart_lines(app: &TestApp, token: &str) -> Vec<(String, i64, String)> {
    let body = app.gql(CART, json!({}), Some(token)).await;
    let mut lines: Vec<(String, i64, String)> = list(&body["data"]["cart"]["items"])
        .iter()
        .map(|i| {
            let quantity = i["quantity"].as_i64().unwrap();
            (
                text(&i["variant"]["title"]),
                quantity,
                text(&i["lineTotal"]),
            )
        })
        .collect();
    lines.sort();
    lines
}

async fn place(app: &TestApp, token: &str) -> Value {
    let input = json!({ "shippingAddress": "1 Main St", "paymentMethod": "CASH_ON_DELIVERY" });
    app.gql(PLACE, json!({ "input": input }), Some(token)).await
}

/// The lines of an order as `token` sees them, sorted by SKU.
async fn order_lines(app: &TestApp, token: &str, order: &str) -> Vec<Value> {
    let body = app.gql(ORDER, json!({ "id": order }), Some(token)).await;
    let mut items = list(&body["data"]["order"]["items"]).to_vec();
    items.sort_by_key(|i| text(&i["sku"]));
    items
}

/// `products(filter:) { totalCount facets }`.
async fn facets(app: &TestApp, token: &str, filter: Value) -> Value {
    let body = app
        .gql(FACETS, json!({ "filter": filter }), Some(token))
        .await;
    assert!(body["data"]["products"]["facets"].is_object(), "{body}");
    body["data"]["products"].clone()
}

fn category_counts(products: &Value) -> Vec<(String, i64)> {
    list(&products["facets"]["categories"])
        .iter()
        .map(|f| (text(&f["category"]["name"]), f["count"].as_i64().unwrap()))
        .collect()
}

/// Statements one facets request costs (the least of three runs, so that a background
/// task of the server cannot inflate it).
async fn facet_cost(app: &TestApp, token: &str, filter: &Value) -> u64 {
    let mut costs = Vec::new();
    for _ in 0..3 {
        let before = app.state.db.statement_count();
        let body = app
            .gql(FACETS_ONLY, json!({ "filter": filter }), Some(token))
            .await;
        let after = app.state.db.statement_count();
        assert!(body["data"]["products"]["facets"].is_object(), "{body}");
        costs.push(after - before);
    }
    costs.into_iter().min().unwrap()
}

// ---------------------------------------------------------------------------------------
// Categories.

backend_test!(
    category_slug_is_derived_from_the_name,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let a70 = "a".repeat(70);
        let cases = [
            ("Men's T-Shirts!", "men-s-t-shirts".to_owned()),
            ("men\u{2019}s t shirts", "men-s-t-shirts-2".to_owned()),
            ("MEN'S  T-SHIRTS", "men-s-t-shirts-3".to_owned()),
            ("  --Hello, World--  ", "hello-world".to_owned()),
            ("Top 10 Gifts", "top-10-gifts".to_owned()),
            ("Caf\u{e9} Cr\u{e8}me", "caf-cr-me".to_owned()),
            ("!!!", "category".to_owned()),
            ("\u{bf}?", "category-2".to_owned()),
            (a70.as_str(), "a".repeat(64)),
            (a70.as_str(), format!("{}-2", "a".repeat(62))),
        ];
        for (name, slug) in cases {
            let body = create_category(&app, &admin, json!({ "name": name })).await;
            assert_eq!(created_slug(&body), json!(slug), "{name}: {body}");
        }
    }
);

backend_test!(
    explicit_slug_is_lower_cased_and_checked,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let body =
            create_category(&app, &admin, json!({ "name": "S", "slug": "Summer-2024" })).await;
        assert_eq!(created_slug(&body), "summer-2024", "{body}");
        let a64 = "a".repeat(64);
        let body = create_category(&app, &admin, json!({ "name": "Long", "slug": a64 })).await;
        assert_eq!(created_slug(&body), json!(a64));
        let a65 = "a".repeat(65);
        let malformed = [
            "",
            "-summer",
            "summer-",
            "sum--mer",
            "sum mer",
            "sum_mer",
            "\u{e9}t\u{e9}",
            a65.as_str(),
        ];
        for slug in malformed {
            let body = create_category(&app, &admin, json!({ "name": "Bad", "slug": slug })).await;
            assert_code(&body, "createCategory", "INVALID_INPUT");
            assert_eq!(body["data"]["createCategory"]["category"], Value::Null);
        }
        for slug in ["summer-2024", "SUMMER-2024"] {
            let body = create_category(&app, &admin, json!({ "name": "Dup", "slug": slug })).await;
            assert_code(&body, "createCategory", "SLUG_TAKEN");
        }
        // A derived slug steps around an explicit one.
        let body = create_category(&app, &admin, json!({ "name": "Summer 2024" })).await;
        assert_eq!(created_slug(&body), "summer-2024-2");
        // The same rules on update.
        let winter = category(&app, &admin, "Winter", None).await;
        let taken =
            update_category(&app, &admin, json!({ "id": winter, "slug": "Summer-2024" })).await;
        assert_code(&taken, "updateCategory", "SLUG_TAKEN");
        let bad = update_category(&app, &admin, json!({ "id": winter, "slug": "" })).await;
        assert_code(&bad, "updateCategory", "INVALID_INPUT");
        let ok =
            update_category(&app, &admin, json!({ "id": winter, "slug": "WINTER-Sale" })).await;
        assert_eq!(
            ok["data"]["updateCategory"]["category"]["slug"], "winter-sale",
            "{ok}"
        );
        assert_eq!(category_names(&app, &admin, None).await.len(), 4);
    }
);

backend_test!(
    category_name_and_description_lengths,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let long = "x".repeat(101);
        for name in ["", "   ", long.as_str()] {
            let body = create_category(&app, &admin, json!({ "name": name })).await;
            assert_code(&body, "createCategory", "INVALID_INPUT");
        }
        let description = "d".repeat(2001);
        let input = json!({ "name": "Prose", "description": description });
        let body = create_category(&app, &admin, input).await;
        assert_code(&body, "createCategory", "INVALID_INPUT");
        assert_eq!(
            category_names(&app, &admin, None).await,
            Vec::<String>::new()
        );

        // Limits are in characters: 100 accented letters are 200 bytes.
        for name in ["x".repeat(100), "\u{e9}".repeat(100)] {
            let body = create_category(&app, &admin, json!({ "name": name })).await;
            assert_eq!(
                body["data"]["createCategory"]["category"]["name"],
                json!(name),
                "{body}"
            );
        }
        let input = json!({ "name": "Prose", "description": "d".repeat(2000) });
        let body = create_category(&app, &admin, input).await;
        let prose = text(&body["data"]["createCategory"]["category"]["id"]);
        let plain = create_category(&app, &admin, json!({ "name": "Plain" })).await;
        assert_eq!(
            plain["data"]["createCategory"]["category"]["description"],
            ""
        );
        assert_eq!(plain["data"]["createCategory"]["category"]["position"], 0);
        let body = update_category(&app, &admin, json!({ "id": prose, "name": " " })).await;
        assert_code(&body, "updateCategory", "INVALID_INPUT");
        let body = update_category(
            &app,
            &admin,
            json!({ "id": prose, "description": description }),
        )
        .await;
        assert_code(&body, "updateCategory", "INVALID_INPUT");
        assert_eq!(category_names(&app, &admin, None).await.len(), 4);
    }
);

backend_test!(
    tree_is_at_most_eight_levels_deep,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let mut chain: Vec<String> = Vec::new();
        for level in 1..=8 {
            let parent = chain.last().cloned();
            let id = category(&app, &admin, &format!("Level {level}"), parent.as_deref()).await;
            chain.push(id);
        }
        let ninth = create_category(
            &app,
            &admin,
            json!({ "name": "Level 9", "parentId": chain[7] }),
        )
        .await;
        assert_code(&ninth, "createCategory", "INVALID_INPUT");
        assert_eq!(
            show_category(&app, &admin, &chain[7]).await["children"],
            json!([])
        );
        assert_eq!(
            show_category(&app, &admin, &chain[7]).await["ancestors"]
                .as_array()
                .unwrap()
                .len(),
            7
        );

        // Moving a two-level subtree: its leaf may not land on level 9 either.
        let x = category(&app, &admin, "X", None).await;
        let y = category(&app, &admin, "Y", Some(&x)).await;
        let deep = move_under(&app, &admin, &x, &chain[6]).await;
        assert_code(&deep, "updateCategory", "INVALID_INPUT");
        assert_eq!(show_category(&app, &admin, &x).await["parent"], Value::Null);
        let ok = move_under(&app, &admin, &x, &chain[5]).await;
        assert_eq!(
            ok["data"]["updateCategory"]["userErrors"],
            json!([]),
            "{ok}"
        );
        let expected: Vec<String> = (1..=6)
            .map(|l| format!("Level {l}"))
            .chain(["X".to_owned()])
            .collect();
        assert_eq!(
            names(&show_category(&app, &admin, &y).await["ancestors"]),
            expected
        );
    }
);

backend_test!(
    children_and_roots_are_ordered_by_position_then_name,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        let clothing = category_at(&app, &admin, "Clothing", None, 0).await;
        category_at(&app, &admin, "Books", None, 5).await;
        category_at(&app, &admin, "Art", None, 5).await;
        let shirts = category_at(&app, &admin, "Shirts", Some(&clothing), 1).await;
        category_at(&app, &admin, "Hats", Some(&clothing), 0).await;
        category_at(&app, &admin, "Coats", Some(&clothing), 1).await;
        let bags = category_at(&app, &admin, "Bags", Some(&clothing), 2).await;
        let polo = category(&app, &admin, "Polo", Some(&shirts)).await;

        let root = show_category(&app, &ann, &clothing).await;
        assert_eq!(
            names(&root["children"]),
            ["Hats", "Coats", "Shirts", "Bags"]
        );
        assert_eq!(root["parent"], Value::Null);
        assert_eq!(root["ancestors"], json!([]));
        let leaf = show_category(&app, &ann, &polo).await;
        assert_eq!(names(&leaf["ancestors"]), ["Clothing", "Shirts"]);
        assert_eq!(leaf["parent"]["name"], "Shirts");
        assert_eq!(leaf["children"], json!([]));

        assert_eq!(
            category_names(&app, &ann, None).await,
            ["Clothing", "Art", "Books"]
        );
        assert_eq!(
            category_names(&app, &ann, Some(&clothing)).await,
            ["Hats", "Coats", "Shirts", "Bags"]
        );
        assert!(category_names(&app, &ann, Some(&polo)).await.is_empty());

        let body = update_category(&app, &admin, json!({ "id": bags, "position": 0 })).await;
        assert_eq!(
            body["data"]["updateCategory"]["category"]["position"], 0,
            "{body}"
        );
        assert_eq!(
            category_names(&app, &ann, Some(&clothing)).await,
            ["Bags", "Hats", "Coats", "Shirts"]
        );
    }
);

backend_test!(category_by_id_or_by_slug, |app: TestApp| async move {
    let admin = app.admin("admin@example.com").await;
    let ann = app.customer("ann@example.com").await;
    let tools = category(&app, &admin, "Garden Tools", None).await;

    let by_slug = app
        .gql(CATEGORY, json!({ "slug": "garden-tools" }), Some(&ann))
        .await;
    assert_eq!(by_slug["data"]["category"]["id"], json!(tools), "{by_slug}");
    let by_id = app.gql(CATEGORY, json!({ "id": tools }), Some(&ann)).await;
    assert_eq!(by_id["data"]["category"]["slug"], "garden-tools");
    assert_eq!(by_id["data"]["category"]["name"], "Garden Tools");

    let unknown = app
        .gql(CATEGORY, json!({ "slug": "nope" }), Some(&ann))
        .await;
    assert_eq!(unknown["data"]["category"], Value::Null, "{unknown}");
    let missing = json!({ "id": global_id("Category", 999_999) });
    let missing = app.gql(CATEGORY, missing, Some(&ann)).await;
    assert_eq!(missing["data"]["category"], Value::Null, "{missing}");

    let neither = app.gql(CATEGORY, json!({}), Some(&ann)).await;
    assert_eq!(error_code(&neither), "BAD_USER_INPUT", "{neither}");
    let both = json!({ "id": tools, "slug": "garden-tools" });
    let both = app.gql(CATEGORY, both, Some(&ann)).await;
    assert_eq!(error_code(&both), "BAD_USER_INPUT", "{both}");
});

backend_test!(
    moving_under_itself_or_a_descendant_is_a_cycle,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let a = category(&app, &admin, "A", None).await;
        let b = category(&app, &admin, "B", Some(&a)).await;
        let c = category(&app, &admin, "C", Some(&b)).await;
        for (id, parent) in [(&a, &c), (&a, &b), (&a, &a), (&b, &c), (&c, &c)] {
            let body = move_under(&app, &admin, id, parent).await;
            assert_code(&body, "updateCategory", "CATEGORY_CYCLE");
            assert_eq!(body["data"]["updateCategory"]["category"], Value::Null);
        }
        // Also when the move comes with other changes: nothing of it is kept.
        let input = json!({ "id": a, "parentId": c, "name": "Renamed" });
        let body = update_category(&app, &admin, input).await;
        assert_code(&body, "updateCategory", "CATEGORY_CYCLE");
        let root = show_category(&app, &admin, &a).await;
        assert_eq!(
            (root["name"].clone(), root["parent"].clone()),
            (json!("A"), Value::Null)
        );
        assert_eq!(
            names(&show_category(&app, &admin, &c).await["ancestors"]),
            ["A", "B"]
        );
        assert_eq!(category_names(&app, &admin, None).await, ["A"]);
    }
);

backend_test!(
    move_to_root_and_parent_id_semantics,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let a = category(&app, &admin, "A", None).await;
        let b = category(&app, &admin, "B", Some(&a)).await;
        let c = category(&app, &admin, "C", Some(&b)).await;
        let d = category(&app, &admin, "D", None).await;

        let body = update_category(&app, &admin, json!({ "id": b, "moveToRoot": true })).await;
        assert_eq!(
            body["data"]["updateCategory"]["category"]["parent"],
            Value::Null,
            "{body}"
        );
        assert_eq!(
            names(&show_category(&app, &admin, &c).await["ancestors"]),
            ["B"]
        );
        assert_eq!(category_names(&app, &admin, None).await, ["A", "B", "D"]);
        assert_eq!(show_category(&app, &admin, &a).await["children"], json!([]));

        // Omitted parentId keeps the parent.
        let body = update_category(&app, &admin, json!({ "id": c, "name": "C2" })).await;
        assert_eq!(
            body["data"]["updateCategory"]["category"]["parent"]["id"],
            json!(b)
        );

        let body = move_under(&app, &admin, &b, &d).await;
        assert_eq!(
            body["data"]["updateCategory"]["category"]["parent"]["id"],
            json!(d)
        );
        assert_eq!(
            names(&show_category(&app, &admin, &c).await["ancestors"]),
            ["D", "B"]
        );
        assert_eq!(category_names(&app, &admin, None).await, ["A", "D"]);

        // An explicit null parentId keeps the parent too.
        let body = update_category(&app, &admin, json!({ "id": b, "parentId": null })).await;
        assert_eq!(
            body["data"]["updateCategory"]["category"]["parent"]["id"],
            json!(d),
            "{body}"
        );
        assert_eq!(
            names(&show_category(&app, &admin, &d).await["children"]),
            ["B"]
        );
    }
);

backend_test!(
    delete_category_with_children_is_refused,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let a = category(&app, &admin, "A", None).await;
        let b = category(&app, &admin, "B", Some(&a)).await;

        let body = app
            .gql(DELETE_CATEGORY, json!({ "id": a }), Some(&admin))
            .await;
        assert_code(&body, "deleteCategory", "CATEGORY_NOT_EMPTY");
        assert_eq!(
            body["data"]["deleteCategory"]["deletedCategoryId"],
            Value::Null
        );
        assert_eq!(
            names(&show_category(&app, &admin, &a).await["children"]),
            ["B"]
        );

        let body = app
            .gql(DELETE_CATEGORY, json!({ "id": b }), Some(&admin))
            .await;
        assert_eq!(
            body["data"]["deleteCategory"]["deletedCategoryId"],
            json!(b),
            "{body}"
        );
        let gone = app.gql(CATEGORY, json!({ "id": b }), Some(&admin)).await;
        assert_eq!(gone["data"]["category"], Value::Null);
        assert_eq!(show_category(&app, &admin, &a).await["children"], json!([]));

        let body = app
            .gql(DELETE_CATEGORY, json!({ "id": a }), Some(&admin))
            .await;
        assert_eq!(
            body["data"]["deleteCategory"]["deletedCategoryId"],
            json!(a),
            "{body}"
        );
        assert!(category_names(&app, &admin, None).await.is_empty());
    }
);

backend_test!(
    deleting_a_category_keeps_its_products,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        let xylo = category(&app, &admin, "Xylo", None).await;
        let yarn = category(&app, &admin, "Yarn", None).await;
        let lamp = app.product(&admin, "Lamp", "10.00", 1).await;
        let body = set_categories(&app, &admin, &lamp, json!([xylo, yarn])).await;
        assert_eq!(
            body["data"]["setProductCategories"]["userErrors"],
            json!([]),
            "{body}"
        );

        let body = app
            .gql(DELETE_CATEGORY, json!({ "id": xylo }), Some(&admin))
            .await;
        assert_eq!(
            body["data"]["deleteCategory"]["deletedCategoryId"],
            json!(xylo),
            "{body}"
        );
        let product = show(&app, &ann, &lamp).await;
        assert_eq!(names(&product["categories"]), ["Yarn"]);
        assert_eq!(product["name"], "Lamp");
        assert_eq!(
            product_names(&app, &ann, json!({}), Value::Null).await,
            ["Lamp"]
        );
        let in_yarn = category_products(&app, &ann, &yarn, json!({})).await;
        assert_eq!(in_yarn["totalCount"], 1);
    }
);

backend_test!(
    set_product_categories_replaces_them,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let zeta = category(&app, &admin, "Zeta", None).await;
        let alpha = category(&app, &admin, "Alpha", None).await;
        let mid = category(&app, &admin, "Mid", None).await;
        let mut many = Vec::new();
        for i in 0..21 {
            many.push(category(&app, &admin, &format!("Cat {i:02}"), None).await);
        }
        let lamp = app.product(&admin, "Lamp", "10.00", 1).await;
        let cats =
            |body: &Value| names(&body["data"]["setProductCategories"]["product"]["categories"]);

        let body = set_categories(&app, &admin, &lamp, json!([zeta, alpha, mid])).await;
        assert_eq!(cats(&body), ["Alpha", "Mid", "Zeta"], "{body}");
        let body = set_categories(&app, &admin, &lamp, json!([mid])).await;
        assert_eq!(cats(&body), ["Mid"]);
        let body = set_categories(&app, &admin, &lamp, json!(many)).await;
        assert_code(&body, "setProductCategories", "INVALID_INPUT");
        assert_eq!(
            names(&show(&app, &admin, &lamp).await["categories"]),
            ["Mid"]
        );
        let body = set_categories(&app, &admin, &lamp, json!(many[..20])).await;
        assert_eq!(cats(&body).len(), 20, "{body}");
        let body = set_categories(&app, &admin, &lamp, json!([])).await;
        assert_eq!(
            body["data"]["setProductCategories"]["product"]["categories"],
            json!([])
        );
        assert_eq!(show(&app, &admin, &lamp).await["categories"], json!([]));

        // createProduct takes categoryIds, under the same limit.
        let input = json!({ "name": "Mug", "price": "3.00", "categoryIds": [zeta, alpha] });
        let body = create_product(&app, &admin, input).await;
        assert_eq!(
            names(&body["data"]["createProduct"]["product"]["categories"]),
            ["Alpha", "Zeta"]
        );
        let input = json!({ "name": "Cup", "price": "3.00", "categoryIds": many });
        let body = create_product(&app, &admin, input).await;
        assert_code(&body, "createProduct", "INVALID_INPUT");
        // A category that is gone is NOT_FOUND for both, and neither writes anything.
        let gone = category(&app, &admin, "Gone", None).await;
        app.gql(DELETE_CATEGORY, json!({ "id": gone }), Some(&admin))
            .await;
        let input = json!({ "name": "Jug", "price": "3.00", "categoryIds": [alpha, gone] });
        let body = create_product(&app, &admin, input).await;
        assert_code(&body, "createProduct", "NOT_FOUND");
        let body = set_categories(&app, &admin, &lamp, json!([alpha, gone])).await;
        assert_code(&body, "setProductCategories", "NOT_FOUND");
        let all = json!({ "includeArchived": true });
        assert_eq!(product_names(&app, &admin, all, Value::Null).await.len(), 2);
        assert_eq!(show(&app, &admin, &lamp).await["categories"], json!([]));
    }
);

backend_test!(
    category_products_include_the_whole_subtree,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        let r = category(&app, &admin, "R", None).await;
        let s = category(&app, &admin, "S", Some(&r)).await;
        let t = category(&app, &admin, "T", Some(&s)).await;
        let o = category(&app, &admin, "O", None).await;
        for (name, cats) in [
            ("Anvil", json!([r])),
            ("Bolt", json!([t])),
            ("Chisel", json!([o])),
            ("Drill", json!([s, t])),
            ("Easel", json!([])),
            ("File", json!([t])),
        ] {
            let id = app.product(&admin, name, "5.00", 1).await;
            set_categories(&app, &admin, &id, cats).await;
            if name == "File" {
                let archive = json!({ "input": { "id": id, "isArchived": true } });
                app.gql(UPDATE_PRODUCT, archive, Some(&admin)).await;
            }
        }
        let in_r = category_products(&app, &ann, &r, json!({})).await;
        assert_eq!(names(&in_r["nodes"]), ["Anvil", "Bolt", "Drill"]);
        assert_eq!(in_r["totalCount"], 3);
        let in_s = category_products(&app, &ann, &s, json!({})).await;
        assert_eq!(names(&in_s["nodes"]), ["Bolt", "Drill"]);
        let in_t = category_products(&app, &ann, &t, json!({})).await;
        assert_eq!(names(&in_t["nodes"]), ["Bolt", "Drill"]);
        let search = category_products(&app, &ann, &r, json!({ "search": "bolt" })).await;
        assert_eq!(names(&search["nodes"]), ["Bolt"]);
        // Archived products follow the v1 rules: admins may include them.
        let all = category_products(&app, &admin, &t, json!({ "includeArchived": true })).await;
        assert_eq!(names(&all["nodes"]), ["Bolt", "Drill", "File"]);

        let by_name = json!({ "field": "NAME" });
        let filtered = product_names(&app, &ann, json!({ "categoryId": r }), by_name.clone()).await;
        assert_eq!(filtered, ["Anvil", "Bolt", "Drill"]);
        let filtered = product_names(&app, &ann, json!({ "categoryId": s }), by_name.clone()).await;
        assert_eq!(filtered, ["Bolt", "Drill"]);
        let filtered = product_names(&app, &ann, json!({ "categoryId": o }), by_name).await;
        assert_eq!(filtered, ["Chisel"]);
    }
);

const CATEGORY_PAGE: &str = "query($id: ID!, $first: Int, $after: String, $last: Int,
    $sort: ProductSort) { category(id: $id) { products(first: $first, after: $after,
    last: $last, sort: $sort) { totalCount nodes { name } pageInfo { endCursor hasNextPage } } } }";

/// A category's page, newest first unless sorted otherwise, as (names, endCursor, hasNextPage).
async fn page_of(app: &TestApp, token: &str, id: &str, args: Value) -> (Vec<String>, Value, bool) {
    let mut variables = json!({ "id": id });
    variables
        .as_object_mut()
        .unwrap()
        .extend(args.as_object().unwrap().clone());
    let body = app.gql(CATEGORY_PAGE, variables, Some(token)).await;
    let products = &body["data"]["category"]["products"];
    assert!(products.is_object(), "{body}");
    let next = products["pageInfo"]["hasNextPage"].as_bool().unwrap();
    (
        names(&products["nodes"]),
        products["pageInfo"]["endCursor"].clone(),
        next,
    )
}

backend_test!(
    category_pages_by_date_follow_memberships_moves_and_deletes,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        let r1 = category(&app, &admin, "R1", None).await;
        let a = category(&app, &admin, "A", Some(&r1)).await;
        let l = category(&app, &admin, "L", Some(&a)).await;
        let r2 = category(&app, &admin, "R2", None).await;
        let mut ids = Vec::new();
        for (name, cats) in [
            ("P1", json!([l])),
            ("P2", json!([a])),
            ("P3", json!([l, a])),
            ("P4", json!([r2])),
            ("P5", json!([l])),
        ] {
            let input = json!({ "name": name, "price": "5.00", "stock": 1, "categoryIds": cats });
            let body = create_product(&app, &admin, input).await;
            ids.push(text(&body["data"]["createProduct"]["product"]["id"]));
        }
        let archive = json!({ "input": { "id": ids[4], "isArchived": true } });
        app.gql(UPDATE_PRODUCT, archive, Some(&admin)).await;

        let (first, cursor, more) = page_of(&app, &ann, &r1, json!({ "first": 2 })).await;
        assert_eq!((first, more), (vec!["P3".into(), "P2".into()], true));
        let after = json!({ "first": 2, "after": cursor });
        let (rest, _, more) = page_of(&app, &ann, &r1, after).await;
        assert_eq!((rest, more), (vec!["P1".to_owned()], false));
        let (last, _, _) = page_of(&app, &ann, &r1, json!({ "last": 2 })).await;
        assert_eq!(last, ["P2", "P1"]);
        let oldest = json!({ "first": 2, "sort": { "field": "CREATED_AT", "direction": "ASC" } });
        assert_eq!(page_of(&app, &ann, &r1, oldest).await.0, ["P1", "P2"]);
        let (all, _, _) = page_of(&app, &admin, &l, json!({ "first": 10 })).await;
        assert_eq!(all, ["P3", "P1"], "archived products stay out");

        let body = move_under(&app, &admin, &a, &r2).await;
        assert!(
            body["data"]["updateCategory"]["category"].is_object(),
            "{body}"
        );
        let ten = || json!({ "first": 10 });
        assert!(page_of(&app, &ann, &r1, ten()).await.0.is_empty());
        assert_eq!(
            page_of(&app, &ann, &r2, ten()).await.0,
            ["P4", "P3", "P2", "P1"]
        );

        let body = app
            .gql(DELETE_CATEGORY, json!({ "id": l }), Some(&admin))
            .await;
        assert!(
            body["data"]["deleteCategory"]["deletedCategoryId"].is_string(),
            "{body}"
        );
        assert_eq!(page_of(&app, &ann, &r2, ten()).await.0, ["P4", "P3", "P2"]);
        assert_eq!(page_of(&app, &ann, &a, ten()).await.0, ["P3", "P2"]);
        set_categories(&app, &admin, &ids[2], json!([])).await;
        assert_eq!(page_of(&app, &ann, &r2, ten()).await.0, ["P4", "P2"]);
    }
);

backend_test!(
    category_and_variant_writes_are_admin_only,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let customer = app.customer("c@example.com").await;
        let shoes = category(&app, &admin, "Shoes", None).await;
        let (mug, first) = product_with(&app, &admin, "Mug", "5.00", 3, None, &[]).await;
        let writes = [
            (CREATE_CATEGORY, json!({ "input": { "name": "Boots" } })),
            (
                UPDATE_CATEGORY,
                json!({ "input": { "id": shoes, "name": "Sneakers" } }),
            ),
            (DELETE_CATEGORY, json!({ "id": shoes })),
            (SET_CATEGORIES, json!({ "p": mug, "c": [shoes] })),
            (
                ADD_VARIANT,
                json!({ "input": variant_input(&mug, "MUG-2", "6.00", 1, &[]) }),
            ),
            (
                UPDATE_VARIANT,
                json!({ "input": { "id": first, "price": "1.00" } }),
            ),
            (DELETE_VARIANT, json!({ "id": first })),
        ];
        for (query, variables) in &writes {
            let body = app.gql(query, variables.clone(), Some(&customer)).await;
            assert_eq!(error_code(&body), "FORBIDDEN", "{query}: {body}");
            let body = app.gql(query, variables.clone(), None).await;
            assert_eq!(error_code(&body), "UNAUTHENTICATED", "{query}: {body}");
        }
        assert_eq!(category_names(&app, &admin, None).await, ["Shoes"]);
        let product = show(&app, &admin, &mug).await;
        assert_eq!(field_list(&product["variants"], "price"), [json!("5.00")]);
        assert_eq!(product["categories"], json!([]));
    }
);

backend_test!(
    category_reads_need_a_user_unless_the_catalog_is_public,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let shoes = category(&app, &admin, "Shoes", None).await;
        let reads = [
            (CATEGORIES, json!({})),
            (CATEGORY, json!({ "slug": "shoes" })),
            (CATEGORY_PRODUCTS, json!({ "id": shoes })),
        ];
        for (query, variables) in &reads {
            let body = app.gql(query, variables.clone(), None).await;
            assert_eq!(error_code(&body), "UNAUTHENTICATED", "{query}: {body}");
        }
        let ann = app.customer("ann@example.com").await;
        assert_eq!(category_names(&app, &ann, None).await, ["Shoes"]);
        let body = app
            .gql(CATEGORY, json!({ "slug": "shoes" }), Some(&ann))
            .await;
        assert_eq!(body["data"]["category"]["name"], "Shoes");
    }
);

backend_test!(
    public_catalog_shows_categories_to_anonymous_visitors,
    |c: &mut Config| c.auth.catalog_public = true,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let shoes = category(&app, &admin, "Shoes", None).await;
        let boot = app.product(&admin, "Boot", "50.00", 2).await;
        set_categories(&app, &admin, &boot, json!([shoes])).await;

        let body = app.gql(CATEGORIES, json!({}), None).await;
        assert_eq!(names(&body["data"]["categories"]), ["Shoes"], "{body}");
        let body = app.gql(CATEGORY, json!({ "slug": "shoes" }), None).await;
        assert_eq!(body["data"]["category"]["id"], json!(shoes));
        let body = app
            .gql(CATEGORY_PRODUCTS, json!({ "id": shoes }), None)
            .await;
        assert_eq!(
            names(&body["data"]["category"]["products"]["nodes"]),
            ["Boot"]
        );
        let body = app.gql(PRODUCT, json!({ "id": boot }), None).await;
        assert_eq!(names(&body["data"]["product"]["categories"]), ["Shoes"]);
        // Writing still needs an admin.
        let body = app
            .gql(
                CREATE_CATEGORY,
                json!({ "input": { "name": "Hats" } }),
                None,
            )
            .await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED");
    }
);

backend_test!(
    crossing_moves_never_make_a_cycle,
    |app: TestApp| async move {
        let one = app.admin("one@example.com").await;
        let two = app.admin("two@example.com").await;
        for round in 0..6 {
            let a = category(&app, &one, &format!("A{round}"), None).await;
            let a1 = category(&app, &one, &format!("A{round} child"), Some(&a)).await;
            let b = category(&app, &one, &format!("B{round}"), None).await;
            let b1 = category(&app, &one, &format!("B{round} child"), Some(&b)).await;
            // Even rounds: A under B and B under A; odd rounds: each under the other's child.
            let (under_b, under_a) = if round % 2 == 0 { (&b, &a) } else { (&b1, &a1) };
            let (x, y) = tokio::join!(
                move_under(&app, &one, &a, under_b),
                move_under(&app, &two, &b, under_a),
            );
            let won = |body: &Value| body["data"]["updateCategory"]["category"].is_object();
            // Each move alone is legal: the first to take the tree wins, the second
            // sees it and would make a cycle.
            assert!(
                won(&x) != won(&y),
                "not exactly one crossing move succeeded: {x} {y}"
            );
            for body in [&x, &y] {
                if !won(body) {
                    assert_code(body, "updateCategory", "CATEGORY_CYCLE");
                }
            }
            // Walking up from every node ends at a root, and the tree is the winner's.
            for id in [&a, &a1, &b, &b1] {
                let path = path_to_root(&app, &one, id).await;
                let mut ancestors = names(&show_category(&app, &one, id).await["ancestors"]);
                ancestors.reverse();
                assert_eq!(ancestors, path[1..].to_vec(), "round {round}");
            }
            let a_parent = show_category(&app, &one, &a).await["parent"]["id"].clone();
            let b_parent = show_category(&app, &one, &b).await["parent"]["id"].clone();
            assert_eq!(a_parent == json!(under_b), won(&x), "round {round}: {x}");
            assert_eq!(b_parent == json!(under_a), won(&y), "round {round}: {y}");
        }
    }
);

// ---------------------------------------------------------------------------------------
// Variants.

backend_test!(
    create_product_makes_the_first_variant,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let mut skus = Vec::new();
        for name in ["Mug", "Cup"] {
            let body = create_product(
                &app,
                &admin,
                json!({ "name": name, "price": "4.50", "stock": 7 }),
            )
            .await;
            let product = &body["data"]["createProduct"]["product"];
            assert_eq!(product["options"], json!([]), "{body}");
            let variants = list(&product["variants"]);
            assert_eq!(variants.len(), 1);
            assert_eq!(variants[0]["title"], "Default");
            assert_eq!(variants[0]["selectedOptions"], json!([]));
            assert_eq!(
                (variants[0]["price"].clone(), variants[0]["stock"].clone()),
                (json!("4.50"), json!(7))
            );
            let sku = text(&variants[0]["sku"]);
            assert!(
                (1..=64).contains(&sku.len())
                    && sku
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
                "generated SKU {sku:?}"
            );
            skus.push(sku.to_lowercase());
        }
        assert_ne!(skus[0], skus[1], "generated SKUs are unique");

        let input = json!({ "name": "Tee", "price": "15", "stock": 2, "sku": "Tee-Red-M",
            "options": opts(&[("Color", "Red"), ("Size", "M")]) });
        let body = create_product(&app, &admin, input).await;
        let product = &body["data"]["createProduct"]["product"];
        assert_eq!(
            product["options"],
            json!([{ "name": "Color", "values": ["Red"] }, { "name": "Size", "values": ["M"] }]),
            "{body}"
        );
        assert_eq!(product["variants"][0]["sku"], "Tee-Red-M");
        assert_eq!(product["variants"][0]["title"], "Red / M");
        assert_eq!(
            product["variants"][0]["selectedOptions"],
            json!([
                { "name": "Color", "value": "Red" }, { "name": "Size", "value": "M" }
            ])
        );
        assert_eq!(
            (product["price"].clone(), product["stock"].clone()),
            (json!("15.00"), json!(2))
        );
    }
);

backend_test!(
    added_variants_follow_the_products_option_order,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let (tee, _) = product_with(
            &app,
            &admin,
            "Tee",
            "15.00",
            1,
            Some("TEE-1"),
            &[("Color", "Red"), ("Size", "M")],
        )
        .await;
        // Options given in another order, stock omitted (default 0).
        let input = json!({ "productId": tee, "sku": "TEE-2", "price": "17.5",
            "options": opts(&[("Size", "L"), ("Color", "Blue")]) });
        let body = add_variant(&app, &admin, input).await;
        let added = &body["data"]["addProductVariant"]["variant"];
        assert_eq!(added["title"], "Blue / L", "{body}");
        assert_eq!(
            added["selectedOptions"],
            json!([{ "name": "Color", "value": "Blue" }, { "name": "Size", "value": "L" }])
        );
        assert_eq!(
            (added["price"].clone(), added["stock"].clone()),
            (json!("17.50"), json!(0))
        );
        assert_eq!(added["isArchived"], false);
        variant(
            &app,
            &admin,
            &tee,
            "TEE-3",
            "15.00",
            1,
            &[("Color", "Red"), ("Size", "L")],
        )
        .await;
        variant(
            &app,
            &admin,
            &tee,
            "TEE-4",
            "15.00",
            1,
            &[("Size", "S"), ("Color", "Green")],
        )
        .await;

        let product = show(&app, &admin, &tee).await;
        assert_eq!(
            product["options"],
            json!([
                { "name": "Color", "values": ["Red", "Blue", "Green"] },
                { "name": "Size", "values": ["M", "L", "S"] }
            ])
        );
        assert_eq!(
            titles(&product),
            ["Red / M", "Blue / L", "Red / L", "Green / S"]
        );
        assert_eq!(
            field_list(&product["variants"], "sku"),
            [
                json!("TEE-1"),
                json!("TEE-2"),
                json!("TEE-3"),
                json!("TEE-4")
            ]
        );
    }
);

backend_test!(sku_charset_and_length, |app: TestApp| async move {
    let admin = app.admin("admin@example.com").await;
    let (tee, _) = product_with(&app, &admin, "Tee", "10.00", 1, None, &[("Color", "Red")]).await;
    let add = |sku: &str, color: &str| {
        add_variant(
            &app,
            &admin,
            variant_input(&tee, sku, "1.00", 1, &[("Color", color)]),
        )
    };
    let body = add("a.B_c-9", "Blue").await;
    assert_eq!(
        body["data"]["addProductVariant"]["variant"]["sku"], "a.B_c-9",
        "{body}"
    );
    let blue = text(&body["data"]["addProductVariant"]["variant"]["id"]);
    let s64 = "S".repeat(64);
    let body = add(&s64, "Green").await;
    assert_eq!(
        body["data"]["addProductVariant"]["variant"]["sku"],
        json!(s64)
    );

    let s65 = "S".repeat(65);
    let bad = ["", "has space", "\u{fc}ber", "a/b", "a+b", s65.as_str()];
    for (i, sku) in bad.into_iter().enumerate() {
        let body = add(sku, &format!("Color{i}")).await;
        assert_code(&body, "addProductVariant", "INVALID_INPUT");
    }
    let input = json!({ "name": "Other", "price": "2.00", "sku": "bad sku" });
    let body = create_product(&app, &admin, input).await;
    assert_code(&body, "createProduct", "INVALID_INPUT");
    let body = update_variant(&app, &admin, json!({ "id": blue, "sku": "bad sku" })).await;
    assert_code(&body, "updateProductVariant", "INVALID_INPUT");
    let body = update_variant(&app, &admin, json!({ "id": blue, "sku": "New.Sku" })).await;
    let updated = &body["data"]["updateProductVariant"]["variant"];
    assert_eq!(updated["sku"], "New.Sku", "{body}");
    let skus = field_list(&show(&app, &admin, &tee).await["variants"], "sku");
    assert_eq!(skus.len(), 3);
    assert_eq!(skus[1..].to_vec(), [json!("New.Sku"), json!(s64)]);
});

backend_test!(
    sku_is_unique_case_insensitively,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let red = &[("Color", "Red")];
        let (tee, _) = product_with(&app, &admin, "Tee", "10.00", 1, Some("TEE-RED"), red).await;
        let blue = variant(
            &app,
            &admin,
            &tee,
            "Tee.Blue",
            "1.00",
            1,
            &[("Color", "Blue")],
        )
        .await;
        for (sku, color) in [
            ("tee-red", "White"),
            ("TEE.BLUE", "Black"),
            ("TEE-RED", "Pink"),
        ] {
            let input = variant_input(&tee, sku, "1.00", 1, &[("Color", color)]);
            let body = add_variant(&app, &admin, input).await;
            assert_code(&body, "addProductVariant", "SKU_TAKEN");
        }
        // Across products too.
        let input = json!({ "name": "Other", "price": "2.00", "sku": "Tee-Red" });
        let body = create_product(&app, &admin, input).await;
        assert_code(&body, "createProduct", "SKU_TAKEN");
        assert_eq!(body["data"]["createProduct"]["product"], Value::Null);
        let body = update_variant(&app, &admin, json!({ "id": blue, "sku": "tee-RED" })).await;
        assert_code(&body, "updateProductVariant", "SKU_TAKEN");

        let product = show(&app, &admin, &tee).await;
        let skus = field_list(&product["variants"], "sku");
        assert_eq!(skus, [json!("TEE-RED"), json!("Tee.Blue")]);
        let all = json!({ "includeArchived": true });
        assert_eq!(product_names(&app, &admin, all, Value::Null).await, ["Tee"]);
    }
);

backend_test!(
    variants_share_option_names_and_differ_in_values,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let red = &[("Color", "Red")];
        let (tee, _) = product_with(&app, &admin, "Tee", "10.00", 1, None, red).await;
        let add = |sku: &str, options: &[(&str, &str)]| {
            add_variant(&app, &admin, variant_input(&tee, sku, "1.00", 1, options))
        };
        let bad: [&[(&str, &str)]; 4] = [
            &[],
            &[("Size", "M")],
            &[("Color", "Blue"), ("Size", "M")],
            &[("color", "Blue")],
        ];
        for (i, options) in bad.into_iter().enumerate() {
            let body = add(&format!("BAD-{i}"), options).await;
            assert_code(&body, "addProductVariant", "INVALID_INPUT");
        }
        let body = add("DUP", &[("Color", "Red")]).await;
        assert_code(&body, "addProductVariant", "DUPLICATE_VARIANT");
        // Compared case-sensitively, stored trimmed.
        let body = add("LOWER", &[("Color", "red")]).await;
        assert_eq!(
            body["data"]["addProductVariant"]["variant"]["title"], "red",
            "{body}"
        );
        let body = add("TRIM", &[(" Color ", " Blue ")]).await;
        assert_eq!(
            body["data"]["addProductVariant"]["variant"]["selectedOptions"],
            json!([{ "name": "Color", "value": "Blue" }]),
            "{body}"
        );
        let body = add("DUP-2", &[("Color", "Blue")]).await;
        assert_code(&body, "addProductVariant", "DUPLICATE_VARIANT");
        let product = show(&app, &admin, &tee).await;
        let expected = json!([{ "name": "Color", "values": ["Red", "red", "Blue"] }]);
        assert_eq!(product["options"], expected);
        assert_eq!(titles(&product), ["Red", "red", "Blue"]);
    }
);

backend_test!(option_lengths_and_count, |app: TestApp| async move {
    let admin = app.admin("admin@example.com").await;
    let red = &[("Color", "Red")];
    let (tee, _) = product_with(&app, &admin, "Tee", "10.00", 1, None, red).await;
    let (v50, v51) = ("v".repeat(50), "v".repeat(51));
    for (i, value) in ["", v51.as_str()].into_iter().enumerate() {
        let input = variant_input(&tee, &format!("BAD-{i}"), "1.00", 1, &[("Color", value)]);
        assert_code(
            &add_variant(&app, &admin, input).await,
            "addProductVariant",
            "INVALID_INPUT",
        );
    }
    let input = variant_input(&tee, "LONG", "1.00", 1, &[("Color", v50.as_str())]);
    let body = add_variant(&app, &admin, input).await;
    assert_eq!(
        body["data"]["addProductVariant"]["variant"]["title"],
        json!(v50),
        "{body}"
    );

    let create = |name: &str, options: &[(&str, &str)]| {
        create_product(
            &app,
            &admin,
            json!({ "name": name, "price": "1", "options": opts(options) }),
        )
    };
    let n51 = "N".repeat(51);
    let body = create("Long name", &[(n51.as_str(), "1")]).await;
    assert_code(&body, "createProduct", "INVALID_INPUT");
    let body = create("Empty name", &[("", "1")]).await;
    assert_code(&body, "createProduct", "INVALID_INPUT");
    // At most 3 option names.
    let body = create("Four", &[("A", "1"), ("B", "2"), ("C", "3"), ("D", "4")]).await;
    assert_code(&body, "createProduct", "INVALID_INPUT");
    let body = create("Three", &[("A", "1"), ("B", "2"), ("C", "3")]).await;
    let product = &body["data"]["createProduct"]["product"];
    assert_eq!(product["variants"][0]["title"], "1 / 2 / 3", "{body}");
    let three = product["id"].as_str().unwrap();
    let input = variant_input(
        three,
        "FOUR-NAMES",
        "1.00",
        1,
        &[("A", "1"), ("B", "2"), ("C", "3"), ("D", "4")],
    );
    assert_code(
        &add_variant(&app, &admin, input).await,
        "addProductVariant",
        "INVALID_INPUT",
    );
    let all = json!({ "includeArchived": true });
    assert_eq!(product_names(&app, &admin, all, Value::Null).await.len(), 2);
});

backend_test!(
    un_archiving_or_editing_into_a_duplicate_is_refused,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let (tee, _) =
            product_with(&app, &admin, "Tee", "10.00", 1, None, &[("Color", "Red")]).await;
        let blue = variant(
            &app,
            &admin,
            &tee,
            "TEE-BLUE",
            "10.00",
            1,
            &[("Color", "Blue")],
        )
        .await;
        archive_variant(&app, &admin, &blue).await;
        // An archived variant does not block its combination.
        let blue2 = variant(
            &app,
            &admin,
            &tee,
            "TEE-BLUE-2",
            "11.00",
            1,
            &[("Color", "Blue")],
        )
        .await;

        let body = update_variant(&app, &admin, json!({ "id": blue, "isArchived": false })).await;
        assert_code(&body, "updateProductVariant", "DUPLICATE_VARIANT");
        let product = show(&app, &admin, &tee).await;
        assert_eq!(
            field_list(&product["variants"], "isArchived"),
            [json!(false), json!(false), json!(true)]
        );
        assert_eq!(product["variants"][2]["id"], json!(blue));

        let input = json!({ "id": blue2, "options": opts(&[("Color", "Red")]) });
        let body = update_variant(&app, &admin, input).await;
        assert_code(&body, "updateProductVariant", "DUPLICATE_VARIANT");
        assert_eq!(
            titles(&show(&app, &admin, &tee).await),
            ["Red", "Blue", "Blue"]
        );

        // Once its twin is archived, it may come back.
        archive_variant(&app, &admin, &blue2).await;
        let body = update_variant(&app, &admin, json!({ "id": blue, "isArchived": false })).await;
        assert_eq!(
            body["data"]["updateProductVariant"]["variant"]["isArchived"], false,
            "{body}"
        );
    }
);

backend_test!(
    product_price_and_stock_follow_the_active_variants,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let (lamp, red) =
            product_with(&app, &admin, "Lamp", "20.00", 2, None, &[("Color", "Red")]).await;
        let blue = variant(
            &app,
            &admin,
            &lamp,
            "LAMP-BLUE",
            "15.00",
            0,
            &[("Color", "Blue")],
        )
        .await;
        let green = variant(
            &app,
            &admin,
            &lamp,
            "LAMP-GREEN",
            "30.00",
            4,
            &[("Color", "Green")],
        )
        .await;
        let summary = |p: &Value| {
            json!([
                p["price"],
                p["stock"],
                p["inStock"],
                p["priceRange"]["min"],
                p["priceRange"]["max"]
            ])
        };
        let p = show(&app, &admin, &lamp).await;
        assert_eq!(summary(&p), json!(["15.00", 6, true, "15.00", "30.00"]));

        archive_variant(&app, &admin, &green).await;
        let p = show(&app, &admin, &lamp).await;
        assert_eq!(summary(&p), json!(["15.00", 2, true, "15.00", "20.00"]));
        assert_eq!(
            p["options"],
            json!([{ "name": "Color", "values": ["Red", "Blue"] }])
        );

        // Green (archived) still holds 4 units; they count for nothing.
        let body = app
            .gql(
                ADJUST,
                json!({ "p": lamp, "v": red, "d": -2 }),
                Some(&admin),
            )
            .await;
        assert_eq!(body["data"]["adjustStock"]["product"]["stock"], 0, "{body}");
        let p = show(&app, &admin, &lamp).await;
        assert_eq!(summary(&p), json!(["15.00", 0, false, "15.00", "20.00"]));

        archive_variant(&app, &admin, &blue).await;
        let p = show(&app, &admin, &lamp).await;
        assert_eq!(summary(&p), json!(["20.00", 0, false, "20.00", "20.00"]));
        assert_eq!(
            p["options"],
            json!([{ "name": "Color", "values": ["Red"] }])
        );
    }
);

backend_test!(
    price_filters_and_sort_use_the_lowest_price,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        app.product(&admin, "Alpha", "12.00", 1).await;
        let (beta, _) =
            product_with(&app, &admin, "Beta", "20.00", 1, None, &[("Size", "S")]).await;
        variant(&app, &admin, &beta, "BETA-L", "8.00", 1, &[("Size", "L")]).await;
        app.product(&admin, "Gamma", "10.00", 1).await;

        let by_price = json!({ "field": "PRICE", "direction": "ASC" });
        assert_eq!(
            product_names(&app, &ann, json!({}), by_price.clone()).await,
            ["Beta", "Gamma", "Alpha"]
        );
        let desc = json!({ "field": "PRICE", "direction": "DESC" });
        assert_eq!(
            product_names(&app, &ann, json!({}), desc).await,
            ["Alpha", "Gamma", "Beta"]
        );
        let min = json!({ "minPrice": "9.00" });
        assert_eq!(
            product_names(&app, &ann, min, by_price.clone()).await,
            ["Gamma", "Alpha"]
        );
        let max = json!({ "maxPrice": "9.00" });
        assert_eq!(product_names(&app, &ann, max, by_price).await, ["Beta"]);
        assert_eq!(show(&app, &ann, &beta).await["price"], "8.00");
    }
);

backend_test!(
    v1_writes_need_a_variant_when_there_are_several,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        let (tee, _) = product_with(&app, &admin, "Tee", "10.00", 5, None, &[("Size", "S")]).await;
        let m = variant(&app, &admin, &tee, "TEE-M", "12.00", 3, &[("Size", "M")]).await;
        for input in [
            json!({ "id": tee, "price": "9.00" }),
            json!({ "id": tee, "stock": 1 }),
            json!({ "id": tee, "price": "9.00", "name": "Renamed" }),
        ] {
            let body = app
                .gql(UPDATE_PRODUCT, json!({ "input": input }), Some(&admin))
                .await;
            assert_code(&body, "updateProduct", "VARIANT_REQUIRED");
        }
        let body = app
            .gql(ADJUST_V1, json!({ "p": tee, "d": 1 }), Some(&admin))
            .await;
        assert_code(&body, "adjustStock", "VARIANT_REQUIRED");
        let body = app
            .gql(ADD_V1, json!({ "p": tee, "q": 1 }), Some(&ann))
            .await;
        assert_code(&body, "addToCart", "VARIANT_REQUIRED");
        assert!(cart_lines(&app, &ann).await.is_empty());
        let product = show(&app, &admin, &tee).await;
        assert_eq!(product["name"], "Tee");
        let prices = field_list(&product["variants"], "price");
        assert_eq!(prices, [json!("10.00"), json!("12.00")]);
        assert_eq!(
            field_list(&product["variants"], "stock"),
            [json!(5), json!(3)]
        );

        // A name-only update names no variant; a variantId picks one.
        let rename = json!({ "input": { "id": tee, "name": "Shirt" } });
        let body = app.gql(UPDATE_PRODUCT, rename, Some(&admin)).await;
        assert_eq!(
            body["data"]["updateProduct"]["product"]["name"], "Shirt",
            "{body}"
        );
        let body = app
            .gql(ADJUST, json!({ "p": tee, "v": m, "d": 2 }), Some(&admin))
            .await;
        assert_eq!(
            body["data"]["adjustStock"]["product"]["stock"], 10,
            "{body}"
        );
        let product = show(&app, &admin, &tee).await;
        assert_eq!(
            field_list(&product["variants"], "stock"),
            [json!(5), json!(5)]
        );
    }
);

backend_test!(
    a_variant_of_another_product_is_not_found,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        let (tee, _) = product_with(&app, &admin, "Tee", "10.00", 5, None, &[("Size", "S")]).await;
        variant(&app, &admin, &tee, "TEE-M", "12.00", 3, &[("Size", "M")]).await;
        let (mug, mug_variant) = product_with(&app, &admin, "Mug", "4.00", 9, None, &[]).await;
        let body = try_add(&app, &ann, &tee, &mug_variant, 1).await;
        assert_code(&body, "addToCart", "NOT_FOUND");
        assert!(cart_lines(&app, &ann).await.is_empty());
        let adjust = json!({ "p": tee, "v": mug_variant, "d": 1 });
        let body = app.gql(ADJUST, adjust, Some(&admin)).await;
        assert_code(&body, "adjustStock", "NOT_FOUND");
        assert_eq!(show(&app, &admin, &mug).await["stock"], 9);
        assert_eq!(show(&app, &admin, &tee).await["stock"], 8);
    }
);

backend_test!(
    v1_writes_act_on_the_only_active_variant,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        let (tee, s) = product_with(&app, &admin, "Tee", "10.00", 5, None, &[("Size", "S")]).await;
        let m = variant(&app, &admin, &tee, "TEE-M", "12.00", 3, &[("Size", "M")]).await;
        archive_variant(&app, &admin, &m).await;

        let update = json!({ "input": { "id": tee, "price": "9.00", "stock": 4 } });
        let body = app.gql(UPDATE_PRODUCT, update, Some(&admin)).await;
        let updated = &body["data"]["updateProduct"]["product"];
        assert_eq!(
            json!([updated["price"], updated["stock"]]),
            json!(["9.00", 4]),
            "{body}"
        );
        let body = app
            .gql(ADJUST_V1, json!({ "p": tee, "d": 2 }), Some(&admin))
            .await;
        assert_eq!(body["data"]["adjustStock"]["product"]["stock"], 6, "{body}");
        let body = app
            .gql(ADD_V1, json!({ "p": tee, "q": 1 }), Some(&ann))
            .await;
        let line = &body["data"]["addToCart"]["cartItem"];
        assert_eq!(line["quantity"], 1, "{body}");

        let variants = show(&app, &admin, &tee).await["variants"].clone();
        assert_eq!(variants[0]["id"], json!(s));
        let first = json!([variants[0]["price"], variants[0]["stock"]]);
        assert_eq!(first, json!(["9.00", 6]));
        let archived = json!([
            variants[1]["price"],
            variants[1]["stock"],
            variants[1]["isArchived"]
        ]);
        assert_eq!(archived, json!(["12.00", 3, true]));
        assert_eq!(
            cart_lines(&app, &ann).await,
            [("S".to_owned(), 1, "9.00".to_owned())]
        );
    }
);

backend_test!(cart_lines_are_per_variant, |app: TestApp| async move {
    let admin = app.admin("admin@example.com").await;
    let ann = app.customer("ann@example.com").await;
    let (tee, s) = product_with(&app, &admin, "Tee", "10.00", 3, None, &[("Size", "S")]).await;
    let m = variant(&app, &admin, &tee, "TEE-M", "12.00", 5, &[("Size", "M")]).await;

    add_to_cart(&app, &ann, &tee, &s, 1).await;
    let body = try_add(&app, &ann, &tee, &s, 2).await;
    let item = &body["data"]["addToCart"]["cartItem"];
    assert_eq!(item["quantity"], 3, "the same line grows: {body}");
    assert_eq!(item["variant"], json!({ "id": s, "title": "S" }));
    add_to_cart(&app, &ann, &tee, &m, 1).await;
    assert_eq!(
        cart_lines(&app, &ann).await,
        [
            ("M".to_owned(), 1, "12.00".to_owned()),
            ("S".to_owned(), 3, "30.00".to_owned())
        ]
    );
    let cart = app.gql(CART, json!({}), Some(&ann)).await;
    assert_eq!(cart["data"]["cart"]["totalQuantity"], 4);
    assert_eq!(cart["data"]["cart"]["subtotal"], "42.00");
    assert_eq!(
        cart["data"]["cart"]["items"][0]["product"]["id"],
        json!(tee)
    );

    // Stock is per variant: S has 3, however many M are left.
    let body = try_add(&app, &ann, &tee, &s, 1).await;
    assert_code(&body, "addToCart", "INSUFFICIENT_STOCK");
    let body = try_add(&app, &ann, &tee, &m, 5).await;
    assert_code(&body, "addToCart", "INSUFFICIENT_STOCK");

    // A single-variant product needs no variantId; its line is the Default variant.
    let mug = app.product(&admin, "Mug", "4.00", 2).await;
    app.add_to_cart(&ann, &mug, 1).await;
    let lines = cart_lines(&app, &ann).await;
    assert_eq!(lines[0], ("Default".to_owned(), 1, "4.00".to_owned()));
    assert_eq!(lines.len(), 3);
});

backend_test!(
    archived_variant_is_unavailable_and_leaves_carts,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        let bob = app.customer("bob@example.com").await;
        let (tee, s) = product_with(&app, &admin, "Tee", "10.00", 5, None, &[("Size", "S")]).await;
        let m = variant(&app, &admin, &tee, "TEE-M", "12.00", 5, &[("Size", "M")]).await;
        add_to_cart(&app, &ann, &tee, &s, 1).await;
        add_to_cart(&app, &ann, &tee, &m, 1).await;
        add_to_cart(&app, &bob, &tee, &m, 2).await;

        archive_variant(&app, &admin, &m).await;
        assert_eq!(
            cart_lines(&app, &ann).await,
            [("S".to_owned(), 1, "10.00".to_owned())]
        );
        assert!(cart_lines(&app, &bob).await.is_empty());
        let body = try_add(&app, &bob, &tee, &m, 1).await;
        assert_code(&body, "addToCart", "PRODUCT_UNAVAILABLE");
        assert!(cart_lines(&app, &bob).await.is_empty());
        // With one active variant left, a v1 addToCart takes it.
        let body = app
            .gql(ADD_V1, json!({ "p": tee, "q": 1 }), Some(&bob))
            .await;
        assert_eq!(body["data"]["addToCart"]["userErrors"], json!([]), "{body}");
        assert_eq!(
            cart_lines(&app, &bob).await,
            [("S".to_owned(), 1, "10.00".to_owned())]
        );
    }
);

backend_test!(
    order_lines_snapshot_sku_and_variant_title,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        let red_m: &[(&str, &str)] = &[("Color", "Red"), ("Size", "M")];
        let (tee, red) =
            product_with(&app, &admin, "Tee", "15.00", 5, Some("TEE-RED-M"), red_m).await;
        let blue = variant(
            &app,
            &admin,
            &tee,
            "TEE-BLUE-L",
            "18.00",
            5,
            &[("Color", "Blue"), ("Size", "L")],
        )
        .await;
        add_to_cart(&app, &ann, &tee, &red, 2).await;
        add_to_cart(&app, &ann, &tee, &blue, 1).await;
        let placed = place(&app, &ann).await;
        assert_eq!(
            placed["data"]["placeOrder"]["order"]["totalAmount"], "48.00",
            "{placed}"
        );
        let order = text(&placed["data"]["placeOrder"]["order"]["id"]);
        let line = |price: &str, quantity: i32, sku: &str, title: &str, id: &str, now: &str| {
            json!({ "productName": "Tee", "unitPrice": price, "quantity": quantity, "sku": sku,
                "variantTitle": title, "variant": { "id": id, "title": now, "isArchived": false } })
        };
        assert_eq!(
            order_lines(&app, &ann, &order).await,
            [
                line("18.00", 1, "TEE-BLUE-L", "Blue / L", &blue, "Blue / L"),
                line("15.00", 2, "TEE-RED-M", "Red / M", &red, "Red / M"),
            ]
        );

        // Later edits of the variant and the product change no order line.
        let input = json!({ "id": red, "sku": "TEE-RM", "price": "20.00",
            "options": opts(&[("Color", "Crimson"), ("Size", "M")]) });
        let body = update_variant(&app, &admin, input).await;
        assert_eq!(
            body["data"]["updateProductVariant"]["variant"]["title"], "Crimson / M",
            "{body}"
        );
        let rename = json!({ "input": { "id": tee, "name": "Shirt" } });
        app.gql(UPDATE_PRODUCT, rename, Some(&admin)).await;
        assert_eq!(
            order_lines(&app, &ann, &order).await,
            [
                line("18.00", 1, "TEE-BLUE-L", "Blue / L", &blue, "Blue / L"),
                line("15.00", 2, "TEE-RED-M", "Red / M", &red, "Crimson / M"),
            ]
        );
        assert_eq!(
            field_list(&show(&app, &admin, &tee).await["variants"], "stock"),
            [json!(3), json!(4)]
        );
    }
);

backend_test!(
    cancelling_returns_stock_to_the_variant_once,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        let (lamp, s) =
            product_with(&app, &admin, "Lamp", "10.00", 5, None, &[("Size", "S")]).await;
        variant(&app, &admin, &lamp, "LAMP-L", "14.00", 4, &[("Size", "L")]).await;
        for _ in 0..3 {
            add_to_cart(&app, &ann, &lamp, &s, 2).await;
            let placed = place(&app, &ann).await;
            let order = text(&placed["data"]["placeOrder"]["order"]["id"]);
            let product = show(&app, &admin, &lamp).await;
            assert_eq!(
                field_list(&product["variants"], "stock"),
                [json!(3), json!(4)]
            );
            assert_eq!(product["stock"], 7);

            let (a, b) = tokio::join!(
                app.gql(CANCEL, json!({ "o": order }), Some(&ann)),
                app.gql(CANCEL, json!({ "o": order }), Some(&admin)),
            );
            let wins = [&a, &b]
                .into_iter()
                .filter(|body| body["data"]["cancelOrder"]["order"]["status"] == "CANCELLED")
                .count();
            assert_eq!(wins, 1, "{a} {b}");
            let product = show(&app, &admin, &lamp).await;
            assert_eq!(
                field_list(&product["variants"], "stock"),
                [json!(5), json!(4)]
            );
            assert_eq!(product["stock"], 9);
        }
    }
);

backend_test!(
    concurrent_buyers_never_oversell_a_variant,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let (lamp, small) =
            product_with(&app, &admin, "Lamp", "10.00", 5, None, &[("Size", "S")]).await;
        variant(&app, &admin, &lamp, "LAMP-L", "12.00", 3, &[("Size", "L")]).await;
        let mut buyers = Vec::new();
        for i in 0..20 {
            let token = app.customer(&format!("buyer{i}@example.com")).await;
            add_to_cart(&app, &token, &lamp, &small, 1).await;
            buyers.push(token);
        }
        let results = join_all(buyers.iter().map(|t| place(&app, t))).await;
        let sold = results
            .iter()
            .filter(|b| b["data"]["placeOrder"]["order"].is_object())
            .count();
        let refused = results
            .iter()
            .filter(|b| user_error_code(b, "placeOrder") == "INSUFFICIENT_STOCK")
            .count();
        assert_eq!((sold, refused), (5, 15), "{results:?}");
        let product = show(&app, &admin, &lamp).await;
        assert_eq!(
            field_list(&product["variants"], "stock"),
            [json!(0), json!(3)]
        );
        assert_eq!(
            (product["stock"].clone(), product["inStock"].clone()),
            (json!(3), json!(true))
        );
        assert_eq!(product["variants"][0]["inStock"], false);
        let orders = app
            .gql("{ orders { totalCount } }", json!({}), Some(&admin))
            .await;
        assert_eq!(orders["data"]["orders"]["totalCount"], 5);
    }
);

backend_test!(delete_product_variant_rules, |app: TestApp| async move {
    let admin = app.admin("admin@example.com").await;
    let ann = app.customer("ann@example.com").await;
    let bob = app.customer("bob@example.com").await;
    let (tee, s) = product_with(&app, &admin, "Tee", "10.00", 5, None, &[("Size", "S")]).await;
    let m = variant(&app, &admin, &tee, "TEE-M", "11.00", 5, &[("Size", "M")]).await;
    let l = variant(&app, &admin, &tee, "TEE-L", "12.00", 5, &[("Size", "L")]).await;
    add_to_cart(&app, &bob, &tee, &m, 1).await;
    let bobs_order = text(&place(&app, &bob).await["data"]["placeOrder"]["order"]["id"]);
    add_to_cart(&app, &ann, &tee, &m, 1).await;
    add_to_cart(&app, &ann, &tee, &l, 1).await;

    // Never ordered: deleted, and gone from every cart.
    let body = delete_variant(&app, &admin, &l).await;
    assert_eq!(
        body["data"]["deleteProductVariant"]["userErrors"],
        json!([]),
        "{body}"
    );
    assert_eq!(titles(&show(&app, &admin, &tee).await), ["S", "M"]);
    assert_eq!(
        cart_lines(&app, &ann).await,
        [("M".to_owned(), 1, "11.00".to_owned())]
    );

    // Ordered: archived instead, and gone from every cart.
    let body = delete_variant(&app, &admin, &m).await;
    assert_eq!(
        body["data"]["deleteProductVariant"]["userErrors"],
        json!([]),
        "{body}"
    );
    let product = show(&app, &admin, &tee).await;
    assert_eq!(titles(&product), ["S", "M"]);
    assert_eq!(
        field_list(&product["variants"], "isArchived"),
        [json!(false), json!(true)]
    );
    assert!(cart_lines(&app, &ann).await.is_empty());
    // The buyer still sees it on their order line.
    let lines = order_lines(&app, &bob, &bobs_order).await;
    assert_eq!(
        lines[0]["variant"],
        json!({ "id": m, "title": "M", "isArchived": true })
    );
    assert_eq!(
        (lines[0]["sku"].clone(), lines[0]["variantTitle"].clone()),
        (json!("TEE-M"), json!("M"))
    );

    // The only active variant can be neither deleted nor archived.
    let body = delete_variant(&app, &admin, &s).await;
    assert_code(&body, "deleteProductVariant", "LAST_VARIANT");
    let body = update_variant(&app, &admin, json!({ "id": s, "isArchived": true })).await;
    assert_code(&body, "updateProductVariant", "LAST_VARIANT");
    let product = show(&app, &admin, &tee).await;
    assert_eq!(
        field_list(&product["variants"], "isArchived"),
        [json!(false), json!(true)]
    );
    assert_eq!(
        (product["price"].clone(), product["stock"].clone()),
        (json!("10.00"), json!(5))
    );
});

backend_test!(
    admins_see_archived_variants_after_active_ones,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        let (tee, s) = product_with(&app, &admin, "Tee", "10.00", 5, None, &[("Size", "S")]).await;
        variant(&app, &admin, &tee, "TEE-M", "11.00", 5, &[("Size", "M")]).await;
        variant(&app, &admin, &tee, "TEE-L", "12.00", 5, &[("Size", "L")]).await;
        archive_variant(&app, &admin, &s).await;

        let as_admin = show(&app, &admin, &tee).await;
        assert_eq!(titles(&as_admin), ["M", "L", "S"]);
        assert_eq!(
            field_list(&as_admin["variants"], "isArchived"),
            [json!(false), json!(false), json!(true)]
        );
        let as_customer = show(&app, &ann, &tee).await;
        assert_eq!(titles(&as_customer), ["M", "L"]);
        for product in [&as_admin, &as_customer] {
            assert_eq!(
                product["options"],
                json!([{ "name": "Size", "values": ["M", "L"] }])
            );
            assert_eq!(
                product["priceRange"],
                json!({ "min": "11.00", "max": "12.00" })
            );
            assert_eq!(
                (product["price"].clone(), product["stock"].clone()),
                (json!("11.00"), json!(10))
            );
        }
    }
);

// ---------------------------------------------------------------------------------------
// Facets.

backend_test!(
    category_facets_count_whole_subtrees,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        let home = category_at(&app, &admin, "Home", None, 0).await;
        let clothing = category_at(&app, &admin, "Clothing", None, 1).await;
        category_at(&app, &admin, "Garden", None, 0).await;
        let hats = category_at(&app, &admin, "Hats", Some(&clothing), 0).await;
        let shirts = category_at(&app, &admin, "Shirts", Some(&clothing), 1).await;
        category_at(&app, &admin, "Socks", Some(&clothing), 1).await;
        let polo = category_at(&app, &admin, "Polo", Some(&shirts), 0).await;
        let mut lamp = String::new();
        for (name, cats) in [
            ("Cotton Polo", json!([polo])),
            ("Silk Polo", json!([shirts, polo])),
            ("Cotton Hat", json!([hats])),
            ("Lamp", json!([home])),
            ("Soap", json!([])),
            ("Jacket", json!([clothing])),
            ("Wool Hat", json!([hats, shirts])),
        ] {
            let id = app.product(&admin, name, "5.00", 1).await;
            set_categories(&app, &admin, &id, cats).await;
            if name == "Lamp" {
                lamp = id;
            }
        }
        let counts = |pairs: &[(&str, i64)]| -> Vec<(String, i64)> {
            pairs.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect()
        };
        let roots = facets(&app, &ann, json!({})).await;
        assert_eq!(
            category_counts(&roots),
            counts(&[("Home", 1), ("Clothing", 5)]),
            "{roots}"
        );
        let under = facets(&app, &ann, json!({ "categoryId": clothing })).await;
        assert_eq!(
            category_counts(&under),
            counts(&[("Hats", 2), ("Shirts", 3)]),
            "{under}"
        );
        assert_eq!(under["totalCount"], 5);
        let leaf = facets(&app, &ann, json!({ "categoryId": polo })).await;
        assert_eq!(category_counts(&leaf), counts(&[]));
        assert_eq!(leaf["totalCount"], 2);
        let cotton = facets(&app, &ann, json!({ "search": "cotton" })).await;
        assert_eq!(category_counts(&cotton), counts(&[("Clothing", 2)]));
        let hat = facets(
            &app,
            &ann,
            json!({ "categoryId": clothing, "search": "hat" }),
        )
        .await;
        assert_eq!(category_counts(&hat), counts(&[("Hats", 2), ("Shirts", 1)]));

        // Archived products count for nobody who cannot see them.
        let archive = json!({ "input": { "id": lamp, "isArchived": true } });
        app.gql(UPDATE_PRODUCT, archive, Some(&admin)).await;
        let roots = facets(&app, &ann, json!({})).await;
        assert_eq!(category_counts(&roots), counts(&[("Clothing", 5)]));
    }
);

/// Tee: Red/S, Red/M, Blue/M (and Yellow/XL, archived); Polo: Red/L, Green/S;
/// Cap: Blue (Color only); Mug: no options.
async fn option_catalog(app: &TestApp, admin: &str) {
    let (tee, _) = product_with(
        app,
        admin,
        "Tee",
        "10.00",
        5,
        None,
        &[("Color", "Red"), ("Size", "S")],
    )
    .await;
    variant(
        app,
        admin,
        &tee,
        "TEE-RM",
        "11.00",
        5,
        &[("Color", "Red"), ("Size", "M")],
    )
    .await;
    variant(
        app,
        admin,
        &tee,
        "TEE-BM",
        "12.00",
        5,
        &[("Color", "Blue"), ("Size", "M")],
    )
    .await;
    let yellow = variant(
        app,
        admin,
        &tee,
        "TEE-YXL",
        "1.00",
        5,
        &[("Color", "Yellow"), ("Size", "XL")],
    )
    .await;
    archive_variant(app, admin, &yellow).await;
    let (polo, _) = product_with(
        app,
        admin,
        "Polo",
        "20.00",
        5,
        None,
        &[("Color", "Red"), ("Size", "L")],
    )
    .await;
    variant(
        app,
        admin,
        &polo,
        "POLO-GS",
        "21.00",
        5,
        &[("Color", "Green"), ("Size", "S")],
    )
    .await;
    product_with(app, admin, "Cap", "7.00", 5, None, &[("Color", "Blue")]).await;
    app.product(admin, "Mug", "3.00", 5).await;
}

fn option_facet(name: &str, values: &[(&str, i64)]) -> Value {
    let values: Vec<Value> = values
        .iter()
        .map(|(value, count)| json!({ "value": value, "count": count }))
        .collect();
    json!({ "name": name, "values": values })
}

backend_test!(
    option_facets_ignore_their_own_values,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        option_catalog(&app, &admin).await;

        // Names by name; values by count, then value; a product counts once per value.
        let all = facets(&app, &ann, json!({})).await;
        assert_eq!(
            all["facets"]["options"],
            json!([
                option_facet("Color", &[("Blue", 2), ("Red", 2), ("Green", 1)]),
                option_facet("Size", &[("S", 2), ("L", 1), ("M", 1)]),
            ]),
            "{all}"
        );
        let red = facets(&app, &ann, json!({ "options": opts(&[("Color", "Red")]) })).await;
        assert_eq!(red["totalCount"], 2);
        assert_eq!(
            red["facets"]["options"],
            json!([
                option_facet("Color", &[("Blue", 2), ("Red", 2), ("Green", 1)]),
                option_facet("Size", &[("L", 1), ("M", 1), ("S", 1)]),
            ]),
            "{red}"
        );
        let filter = json!({ "options": opts(&[("Color", "Red"), ("Size", "S")]) });
        let red_s = facets(&app, &ann, filter).await;
        assert_eq!(red_s["totalCount"], 1);
        assert_eq!(
            red_s["facets"]["options"],
            json!([
                option_facet("Color", &[("Green", 1), ("Red", 1)]),
                option_facet("Size", &[("L", 1), ("M", 1), ("S", 1)]),
            ]),
            "{red_s}"
        );
    }
);

/// An option filter's name and value.
type Pair = (&'static str, &'static str);

backend_test!(
    option_filter_matches_one_active_variant,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        option_catalog(&app, &admin).await;
        let by_name = json!({ "field": "NAME" });
        let matching = |pairs: &[(&str, &str)]| json!({ "options": opts(pairs) });
        let cases: [(&[Pair], &[&str]); 6] = [
            (&[("Color", "Red")], &["Polo", "Tee"]),
            (&[("Color", "Blue")], &["Cap", "Tee"]),
            (&[("Color", "Red"), ("Size", "M")], &["Tee"]),
            // Tee has Blue and S, but not on one variant.
            (&[("Color", "Blue"), ("Size", "S")], &[]),
            // Archived variants match nothing.
            (&[("Color", "Yellow")], &[]),
            (&[("Size", "XL")], &[]),
        ];
        for (pairs, expected) in cases {
            let found = product_names(&app, &ann, matching(pairs), by_name.clone()).await;
            assert_eq!(found, expected, "{pairs:?}");
        }
    }
);

backend_test!(
    in_stock_count_and_price_range_ignore_their_own_filters,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        app.product(&admin, "Anvil", "10.00", 0).await;
        app.product(&admin, "Bolt", "20.00", 3).await;
        app.product(&admin, "Chisel", "30.00", 1).await;
        let (drill, _) =
            product_with(&app, &admin, "Drill", "5.00", 0, None, &[("Size", "S")]).await;
        variant(
            &app,
            &admin,
            &drill,
            "DRILL-L",
            "50.00",
            2,
            &[("Size", "L")],
        )
        .await;
        let summary = |p: &Value| {
            json!([
                p["totalCount"],
                p["facets"]["inStockCount"],
                p["facets"]["priceRange"]
            ])
        };
        let range = |min: &str, max: &str| json!({ "min": min, "max": max });

        let all = facets(&app, &ann, json!({})).await;
        assert_eq!(
            summary(&all),
            json!([4, 3, range("5.00", "50.00")]),
            "{all}"
        );
        let out = facets(&app, &ann, json!({ "inStock": false })).await;
        assert_eq!(
            summary(&out),
            json!([1, 3, range("10.00", "10.00")]),
            "{out}"
        );
        let priced = facets(
            &app,
            &ann,
            json!({ "minPrice": "15.00", "maxPrice": "25.00" }),
        )
        .await;
        assert_eq!(
            summary(&priced),
            json!([1, 1, range("5.00", "50.00")]),
            "{priced}"
        );
        // Both look at the variants that match the option filter.
        let small = facets(&app, &ann, json!({ "options": opts(&[("Size", "S")]) })).await;
        assert_eq!(
            summary(&small),
            json!([1, 0, range("5.00", "5.00")]),
            "{small}"
        );
        let large = facets(&app, &ann, json!({ "options": opts(&[("Size", "L")]) })).await;
        assert_eq!(
            summary(&large),
            json!([1, 1, range("50.00", "50.00")]),
            "{large}"
        );
        // Nothing matches: no price range, nothing counted.
        let none = facets(&app, &ann, json!({ "search": "nothing-matches" })).await;
        assert_eq!(
            none,
            json!({ "totalCount": 0, "facets": { "categories": [], "options": [],
                "inStockCount": 0, "priceRange": null } })
        );
    }
);

backend_test!(
    category_products_facets_use_the_category,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        let clothing = category(&app, &admin, "Clothing", None).await;
        let hats = category(&app, &admin, "Hats", Some(&clothing)).await;
        let shirts = category(&app, &admin, "Shirts", Some(&clothing)).await;
        for (name, cat) in [("Cap", &hats), ("Tee", &shirts), ("Polo", &shirts)] {
            let id = app.product(&admin, name, "5.00", 1).await;
            set_categories(&app, &admin, &id, json!([cat])).await;
        }
        app.product(&admin, "Lamp", "5.00", 1).await;
        let query = "query($id: ID!, $filter: ProductFilter) { category(id: $id) {
            products(filter: $filter) { totalCount facets { categories { category { name } count }
              inStockCount priceRange { min max } } } } }";
        let body = app.gql(query, json!({ "id": clothing }), Some(&ann)).await;
        let in_category = &body["data"]["category"]["products"];
        assert_eq!(in_category["totalCount"], 3, "{body}");
        assert_eq!(
            category_counts(in_category),
            [("Hats".to_owned(), 1), ("Shirts".to_owned(), 2)]
        );
        assert_eq!(in_category["facets"]["inStockCount"], 3);
        let filtered = facets(&app, &ann, json!({ "categoryId": clothing })).await;
        assert_eq!(
            in_category["facets"]["categories"],
            filtered["facets"]["categories"]
        );

        let search = json!({ "id": clothing, "filter": { "search": "polo" } });
        let body = app.gql(query, search, Some(&ann)).await;
        let polo = &body["data"]["category"]["products"];
        assert_eq!(polo["totalCount"], 1, "{body}");
        assert_eq!(category_counts(polo), [("Shirts".to_owned(), 1)]);
    }
);

backend_test!(
    facets_cost_a_fixed_number_of_statements,
    // Nothing remembered: every request computes its facets.
    |c: &mut Config| c.database.facet_cache_secs = 0,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        let clothing = category(&app, &admin, "Clothing", None).await;
        let shirts = category(&app, &admin, "Shirts", Some(&clothing)).await;
        let (p0, _) = product_with(&app, &admin, "P0", "5.00", 1, None, &[("Size", "S")]).await;
        variant(&app, &admin, &p0, "P0-M", "6.00", 1, &[("Size", "M")]).await;
        set_categories(&app, &admin, &p0, json!([shirts])).await;
        let p1 = app.product(&admin, "P1", "7.00", 0).await;
        set_categories(&app, &admin, &p1, json!([clothing])).await;
        app.product(&admin, "P2", "8.00", 2).await;
        let filters = [
            json!({}),
            json!({ "categoryId": clothing, "options": opts(&[("Size", "M")]), "inStock": true,
                "minPrice": "1.00" }),
        ];
        let mut small = Vec::new();
        for filter in &filters {
            small.push(facet_cost(&app, &ann, filter).await);
        }

        // Ten times the products, in more categories and deeper, with more options.
        let hats = category(&app, &admin, "Hats", Some(&clothing)).await;
        let polo = category(&app, &admin, "Polo", Some(&shirts)).await;
        let home = category(&app, &admin, "Home", None).await;
        let garden = category(&app, &admin, "Garden", None).await;
        let tools = category(&app, &admin, "Tools", Some(&garden)).await;
        let places = [&clothing, &shirts, &hats, &polo, &home, &tools];
        for i in 0..27 {
            let colors = [("Color", "Red"), ("Color", "Blue"), ("Color", "Green")];
            let color = colors[i % 3];
            let name = format!("Q{i}");
            let (id, _) = product_with(
                &app,
                &admin,
                &name,
                "9.00",
                2,
                None,
                &[color, ("Size", "S")],
            )
            .await;
            variant(
                &app,
                &admin,
                &id,
                &format!("Q{i}-M"),
                "19.00",
                1,
                &[color, ("Size", "M")],
            )
            .await;
            let cats = json!([places[i % 6], places[(i + 1) % 6]]);
            set_categories(&app, &admin, &id, cats).await;
        }
        let mut large = Vec::new();
        for filter in &filters {
            large.push(facet_cost(&app, &ann, filter).await);
        }
        assert_eq!(small, large, "facets cost more with a larger catalog");
        // The page and five for the facets: the category facet's children and their
        // counts, the options, the in-stock count, the price range; the same with a
        // category in the filter (its subtree's listings are one index range). The
        // viewer is remembered from the requests before (the viewer cache).
        assert_eq!(small, [6, 6]);
        let all = facets(&app, &ann, json!({})).await;
        assert_eq!(all["totalCount"], 30);
    }
);

// ---------------------------------------------------------------------------------------
// Compatibility.

backend_test!(
    a_v1_client_sees_the_same_numbers,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        let body = app
            .gql(
                CREATE_PRODUCT,
                json!({ "input": { "name": "Kettle", "price": "12.50", "stock": 4 } }),
                Some(&admin),
            )
            .await;
        let created = &body["data"]["createProduct"]["product"];
        assert_eq!(
            json!([created["price"], created["stock"], created["inStock"]]),
            json!(["12.50", 4, true]),
            "{body}"
        );
        let kettle = text(&created["id"]);
        let update = json!({ "input": { "id": kettle, "price": "11.00", "stock": 6 } });
        let body = app.gql(UPDATE_PRODUCT, update, Some(&admin)).await;
        assert_eq!(
            body["data"]["updateProduct"]["product"],
            json!({ "name": "Kettle", "price": "11.00", "stock": 6 }),
            "{body}"
        );
        let body = app
            .gql(ADJUST_V1, json!({ "p": kettle, "d": -1 }), Some(&admin))
            .await;
        assert_eq!(body["data"]["adjustStock"]["product"]["stock"], 5, "{body}");

        app.add_to_cart(&ann, &kettle, 2).await;
        let cart = "{ cart { totalQuantity subtotal items { quantity lineTotal product { name price stock } } } }";
        let body = app.gql(cart, json!({}), Some(&ann)).await;
        assert_eq!(
            body["data"]["cart"],
            json!({ "totalQuantity": 2, "subtotal": "22.00", "items": [{ "quantity": 2,
                "lineTotal": "22.00", "product": { "name": "Kettle", "price": "11.00", "stock": 5 } }] })
        );
        let input = json!({ "shippingAddress": "1 Main St", "paymentMethod": "CASH_ON_DELIVERY" });
        let order = app.place_order(&ann, input).await;
        let v1_order = "query($id: ID!) { order(id: $id) { totalAmount itemCount
            items { productName unitPrice quantity subtotal product { stock } } } }";
        let body = app.gql(v1_order, json!({ "id": order }), Some(&ann)).await;
        assert_eq!(
            body["data"]["order"],
            json!({ "totalAmount": "22.00", "itemCount": 2, "items": [{ "productName": "Kettle",
                "unitPrice": "11.00", "quantity": 2, "subtotal": "22.00", "product": { "stock": 3 } }] })
        );
        let exact = json!({ "minPrice": "11.00", "maxPrice": "11", "inStock": true });
        assert_eq!(
            product_names(&app, &ann, exact, Value::Null).await,
            ["Kettle"]
        );

        // The same numbers through v2 eyes: one Default variant.
        let product = show(&app, &admin, &kettle).await;
        assert_eq!(titles(&product), ["Default"]);
        let v = &product["variants"][0];
        assert_eq!(
            json!([v["price"], v["stock"], product["priceRange"]]),
            json!(["11.00", 3, { "min": "11.00", "max": "11.00" }])
        );
        let lines = order_lines(&app, &ann, &order).await;
        assert_eq!(
            (lines[0]["sku"].clone(), lines[0]["variantTitle"].clone()),
            (v["sku"].clone(), json!("Default"))
        );

        let body = app.gql(CANCEL, json!({ "o": order }), Some(&ann)).await;
        assert_eq!(
            body["data"]["cancelOrder"]["order"]["status"], "CANCELLED",
            "{body}"
        );
        assert_eq!(show(&app, &ann, &kettle).await["stock"], 5);
    }
);

// ---------------------------------------------------------------------------------------
// Limits and names that show nothing.

backend_test!(
    a_product_has_at_most_a_hundred_variants,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let (product, _) =
            product_with(&app, &admin, "Paint", "3.00", 1, None, &[("Shade", "0")]).await;
        for shade in 1..100 {
            let sku = format!("PAINT-{shade}");
            variant(
                &app,
                &admin,
                &product,
                &sku,
                "3.00",
                1,
                &[("Shade", &shade.to_string())],
            )
            .await;
        }
        let input = variant_input(&product, "PAINT-100", "3.00", 1, &[("Shade", "100")]);
        let body = add_variant(&app, &admin, input).await;
        assert_code(&body, "addProductVariant", "INVALID_INPUT");
        assert_eq!(show(&app, &admin, &product).await["stock"], 100);
    }
);

backend_test!(
    names_of_only_invisible_characters_are_refused,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        for blank in ["\u{200B}\u{200B}", " \u{FEFF} ", "\u{2060}\u{00AD}"] {
            let body =
                create_product(&app, &admin, json!({ "name": blank, "price": "1.00" })).await;
            assert_code(&body, "createProduct", "INVALID_INPUT");
            let body = create_category(&app, &admin, json!({ "name": blank })).await;
            assert_code(&body, "createCategory", "INVALID_INPUT");
        }
        // Visible text around an invisible character is fine.
        let body = create_product(
            &app,
            &admin,
            json!({ "name": "Tea\u{200B}pot", "price": "1.00" }),
        )
        .await;
        assert_eq!(
            body["data"]["createProduct"]["userErrors"],
            json!([]),
            "{body}"
        );
    }
);

backend_test!(
    facets_are_remembered_until_the_catalog_changes,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        let (tee, small) =
            product_with(&app, &admin, "Tee", "5.00", 1, None, &[("Size", "S")]).await;
        variant(&app, &admin, &tee, "TEE-M", "6.00", 2, &[("Size", "M")]).await;
        let cost = async || {
            let before = app.state.db.statement_count();
            let body = app
                .gql(FACETS_ONLY, json!({ "filter": {} }), Some(&ann))
                .await;
            assert!(body["data"]["products"]["facets"].is_object(), "{body}");
            app.state.db.statement_count() - before
        };
        let counted = cost().await;
        let remembered = cost().await;
        // The viewer (ann's first request), the page, then four facet statements (no
        // categories: the category facet stops after finding no roots); then the page
        // alone: the facets and the viewer are remembered.
        assert_eq!(
            (counted, remembered),
            (6, 1),
            "the facet statements are not repeated"
        );
        let in_stock =
            async || facets(&app, &ann, json!({})).await["facets"]["inStockCount"].clone();
        assert_eq!(in_stock().await, 1);

        // An order that sells a variant out and one that sells the other out: the
        // in-stock count follows at once.
        let buyer = app.customer("bob@example.com").await;
        let order = json!({ "shippingAddress": "1 Main St", "paymentMethod": "CASH_ON_DELIVERY" });
        add_to_cart(&app, &buyer, &tee, &small, 1).await;
        app.place_order(&buyer, order.clone()).await;
        assert_eq!(in_stock().await, 1);
        let medium = show(&app, &admin, &tee).await["variants"][1]["id"].clone();
        add_to_cart(&app, &buyer, &tee, medium.as_str().unwrap(), 2).await;
        let placed = app.place_order(&buyer, order).await;
        assert_eq!(in_stock().await, 0);
        // Cancelling brings the stock back, and the count with it.
        let cancel =
            "mutation($id: ID!) { cancelOrder(input: {orderId: $id}) { userErrors { code } } }";
        app.gql(cancel, json!({ "id": placed }), Some(&buyer)).await;
        assert_eq!(in_stock().await, 1);
        // So does an admin's write.
        app.gql(
            "mutation($id: ID!) { updateProduct(input: {id: $id, isArchived: true}) { userErrors { code } } }",
            json!({ "id": tee }),
            Some(&admin),
        )
        .await;
        assert_eq!(in_stock().await, 0);
    }
);
