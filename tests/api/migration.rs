//! A database written by the v1 server migrates in place at start: every product gets
//! one variant with its price and stock, and carts, orders, payments and sessions keep
//! working.

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::helpers::{Backend, NO_POSTGRES, PASSWORD, TestApp, global_id};

/// The v1 schema, exactly as the v1 release's only migration made it.
const V1_SQLITE: &str = include_str!("../../migrations/sqlite/2026-11-25-000001_init/up.sql");
const V1_POSTGRES: &str = include_str!("../../migrations/postgres/2026-11-25-000001_init/up.sql");

const REFRESH_TOKEN: &str = "a-v1-refresh-token";

/// What the v1 server had written: a customer with a live session, two products, a cart
/// line, and a placed order with its line and payment. (diesel records applied
/// migrations in `__diesel_schema_migrations`; the v1 release had applied one.)
fn v1_database(backend: Backend) -> String {
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    let token_hash = hex::encode(Sha256::digest(REFRESH_TOKEN.as_bytes()));
    let (schema, now, yes, no) = match backend {
        Backend::Sqlite => (V1_SQLITE, "'2026-11-30 10:00:00'", "1", "0"),
        Backend::Postgres => (
            V1_POSTGRES,
            "TIMESTAMP '2026-11-30 10:00:00'",
            "TRUE",
            "FALSE",
        ),
    };
    format!(
        "{schema}
        CREATE TABLE __diesel_schema_migrations (
            version VARCHAR(50) PRIMARY KEY NOT NULL,
            run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);
        INSERT INTO __diesel_schema_migrations (version) VALUES ('20261125000001');
        INSERT INTO users (email, password_hash, first_name, last_name, role, is_active, created_at, updated_at)
            VALUES ('ann@example.com', '{hash}', 'Ann', 'Lee', 'CUSTOMER', {yes}, {now}, {now});
        INSERT INTO sessions (user_id, created_at, expires_at)
            VALUES (1, {now}, TIMESTAMP '2099-01-01 00:00:00');
        INSERT INTO refresh_tokens (session_id, token_hash, created_at)
            VALUES (1, '{token_hash}', {now});
        INSERT INTO products (name, description, search_text, price_cents, stock, is_archived, created_at, updated_at)
            VALUES ('Teapot', '', 'teapot ', 1250, 7, {no}, {now}, {now}),
                         ('Mug', '', 'mug ', 499, 3, {no}, {now}, {now});
        INSERT INTO cart_items (user_id, product_id, quantity, created_at, updated_at)
            VALUES (1, 2, 2, {now}, {now});
        INSERT INTO orders (order_number, user_id, status, total_cents, shipping_address, payment_method, created_at, updated_at)
            VALUES ('ORD-V1', 1, 'PENDING', 2500, '1 Main St', 'CASH_ON_DELIVERY', {now}, {now});
        INSERT INTO order_items (order_id, product_id, product_name, unit_price_cents, quantity)
            VALUES (1, 1, 'Teapot', 1250, 2);
        INSERT INTO payments (order_id, amount_cents, method, status, created_at, updated_at)
            VALUES (1, 2500, 'CASH_ON_DELIVERY', 'PENDING', {now}, {now});"
    )
    .replace("TIMESTAMP '2099-01-01 00:00:00'", match backend {
        Backend::Sqlite => "'2099-01-01 00:00:00'",
        Backend::Postgres => "TIMESTAMP '2099-01-01 00:00:00'",
    })
}

async fn v1_database_migrates_in_place(backend: Backend) {
    let app = TestApp::spawn_on(backend, &v1_database(backend), |_| {})
        .await
        .expect(NO_POSTGRES);
    // The v1 session still refreshes.
    let refresh = "mutation($t: String!) { refreshToken(input: {refreshToken: $t}) {
        accessToken userErrors { code } } }";
    let body = app.gql(refresh, json!({ "t": REFRESH_TOKEN }), None).await;
    let token = body["data"]["refreshToken"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("the v1 session refreshes: {body}"))
        .to_owned();

    // Every product is one "Default" variant with its price and stock.
    let product = "query($id: ID!) { product(id: $id) { price stock
        variants { sku title price stock selectedOptions { name } } } }";
    let teapot = app
        .gql(
            product,
            json!({ "id": global_id("Product", 1) }),
            Some(&token),
        )
        .await;
    assert_eq!(
        teapot["data"]["product"],
        json!({ "price": "12.50", "stock": 7, "variants": [
            { "sku": "SKU-1", "title": "Default", "price": "12.50", "stock": 7, "selectedOptions": [] }
        ] }),
        "{teapot}"
    );

    // The cart line is a line of the mug's variant; the order line points at the teapot's.
    let cart = app
        .gql(
            "{ cart { items { quantity lineTotal variant { sku } product { name } } } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(
        cart["data"]["cart"]["items"],
        json!([{ "quantity": 2, "lineTotal": "9.98", "variant": { "sku": "SKU-2" },
            "product": { "name": "Mug" } }]),
        "{cart}"
    );
    let order = app
        .gql(
            "{ orders { nodes { orderNumber items { sku variantTitle variant { sku } quantity } } } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(
        order["data"]["orders"]["nodes"][0]["items"],
        json!([{ "sku": "SKU-1", "variantTitle": "Default", "variant": { "sku": "SKU-1" }, "quantity": 2 }]),
        "{order}"
    );

    // Cancelling the v1 order returns its units to the variant; the cart checks out.
    let cancel =
        "mutation($id: ID!) { cancelOrder(input: {orderId: $id}) { userErrors { code } } }";
    let body = app
        .gql(cancel, json!({ "id": global_id("Order", 1) }), Some(&token))
        .await;
    assert_eq!(
        body["data"]["cancelOrder"]["userErrors"],
        json!([]),
        "{body}"
    );
    let teapot = app
        .gql(
            product,
            json!({ "id": global_id("Product", 1) }),
            Some(&token),
        )
        .await;
    assert_eq!(teapot["data"]["product"]["stock"], 9);
    assert_eq!(teapot["data"]["product"]["variants"][0]["stock"], 9);
    app.place_order(
        &token,
        json!({ "shippingAddress": "1 Main St", "paymentMethod": "CASH_ON_DELIVERY" }),
    )
    .await;
    let mug = app
        .gql(
            product,
            json!({ "id": global_id("Product", 2) }),
            Some(&token),
        )
        .await;
    assert_eq!(mug["data"]["product"]["stock"], 1, "{mug}");

    // New products and variants get ids past the migrated ones.
    let admin = app.admin("admin@example.com").await;
    let new = app.product(&admin, "Kettle", "30.00", 1).await;
    let kettle = app.gql(product, json!({ "id": new }), Some(&admin)).await;
    assert_eq!(
        kettle["data"]["product"]["variants"][0]["sku"], "SKU-3",
        "{kettle}"
    );
}

mod v1_database_migrates_in_place {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        v1_database_migrates_in_place(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(postgres_tests), ignore = "TEST_POSTGRES_URL is not set")]
    async fn postgres() {
        v1_database_migrates_in_place(Backend::Postgres).await;
    }
}
