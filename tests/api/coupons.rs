//! Checkout v2: coupons — settings, the cart's code, exact caps under concurrency, and
//! uses given back on cancel. Written from the contract and the behaviour rules.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{TestApp, backend_test, error_code, user_error_code};

const CREATE: &str = "mutation($input: CreateCouponInput!) { createCoupon(input: $input) {
    coupon { id code type value minSubtotal startsAt endsAt usageLimit perCustomerLimit
             usageCount isActive createdAt updatedAt }
    userErrors { field code message } } }";
const UPDATE: &str = "mutation($input: UpdateCouponInput!) { updateCoupon(input: $input) {
    coupon { id value minSubtotal usageLimit perCustomerLimit usageCount isActive endsAt }
    userErrors { field code } } }";
const APPLY: &str = "mutation($code: String!) { applyCoupon(input: {code: $code}) {
    cart { id couponCode subtotal discount total items { id } }
    userErrors { field code message } } }";
const REMOVE: &str =
    "mutation { removeCoupon { cart { couponCode discount total } userErrors { code } } }";
const CART: &str = "{ cart { id couponCode subtotal discount total items { quantity } } }";
const PLACE: &str = "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
    order { id subtotal discountAmount couponCode totalAmount status cancellationReason
            payment { amount } }
    userErrors { field code message } } }";
const CANCEL: &str = "mutation($o: ID!) { cancelOrder(input: {orderId: $o}) {
    order { status cancellationReason couponCode discountAmount } userErrors { code } } }";
const COUPONS: &str = "query($s: String, $first: Int, $after: String) {
    coupons(search: $s, first: $first, after: $after) {
        totalCount nodes { code usageCount } pageInfo { hasNextPage endCursor } } }";

async fn create(app: &TestApp, admin: &str, input: Value) -> Value {
    app.gql(CREATE, json!({ "input": input }), Some(admin))
        .await
}

/// Creates a coupon that must be accepted; returns it.
async fn coupon(app: &TestApp, admin: &str, input: Value) -> Value {
    let body = create(app, admin, input).await;
    let payload = &body["data"]["createCoupon"];
    assert_eq!(payload["userErrors"], json!([]), "{body}");
    payload["coupon"].clone()
}

async fn apply(app: &TestApp, token: &str, code: &str) -> Value {
    app.gql(APPLY, json!({ "code": code }), Some(token)).await
}

async fn usage_count(app: &TestApp, admin: &str, code: &str) -> i64 {
    let body = app.gql(COUPONS, json!({ "s": code }), Some(admin)).await;
    let nodes = body["data"]["coupons"]["nodes"]
        .as_array()
        .expect("coupons")
        .clone();
    let found = nodes
        .iter()
        .find(|n| n["code"] == code)
        .unwrap_or_else(|| panic!("{body}"));
    found["usageCount"].as_i64().unwrap()
}

async fn stock(app: &TestApp, admin: &str, product: &str) -> i64 {
    let body = app
        .gql(
            "query($id: ID!) { product(id: $id) { stock } }",
            json!({ "id": product }),
            Some(admin),
        )
        .await;
    body["data"]["product"]["stock"]
        .as_i64()
        .unwrap_or_else(|| panic!("{body}"))
}

const HOME: &str = "1 Main St";

backend_test!(coupon_settings_are_checked, |app: TestApp| async move {
    let admin = app.admin("admin@example.com").await;
    let customer = app.customer("ann@example.com").await;
    let made = coupon(
        &app,
        &admin,
        json!({ "code": " summer-10 ", "type": "PERCENTAGE", "value": "12.5", "usageLimit": 3 }),
    )
    .await;
    assert_eq!(made["code"], "SUMMER-10");
    assert_eq!(made["value"], "12.50");
    assert_eq!(made["isActive"], true);
    assert_eq!(made["usageCount"], 0);
    assert_eq!(made["perCustomerLimit"], Value::Null);

    let taken = create(
        &app,
        &admin,
        json!({ "code": "Summer-10", "type": "FIXED_AMOUNT", "value": "1" }),
    )
    .await;
    assert_eq!(
        user_error_code(&taken, "createCoupon"),
        "CODE_TAKEN",
        "{taken}"
    );
    for (input, field) in [
        (
            json!({ "code": "ab", "type": "PERCENTAGE", "value": "5" }),
            "code",
        ),
        (
            json!({ "code": "HAS SPACE", "type": "PERCENTAGE", "value": "5" }),
            "code",
        ),
        (
            json!({ "code": "X".repeat(33), "type": "PERCENTAGE", "value": "5" }),
            "code",
        ),
        (
            json!({ "code": "PCT0", "type": "PERCENTAGE", "value": "0" }),
            "value",
        ),
        (
            json!({ "code": "PCT101", "type": "PERCENTAGE", "value": "100.01" }),
            "value",
        ),
        (
            json!({ "code": "PCT3DEC", "type": "PERCENTAGE", "value": "10.005" }),
            "value",
        ),
        (
            json!({ "code": "FIXNEG", "type": "FIXED_AMOUNT", "value": "-1" }),
            "value",
        ),
        (
            json!({ "code": "LIM0", "type": "FIXED_AMOUNT", "value": "1", "usageLimit": 0 }),
            "usageLimit",
        ),
        (
            json!({ "code": "PER0", "type": "FIXED_AMOUNT", "value": "1", "perCustomerLimit": 0 }),
            "perCustomerLimit",
        ),
        (
            json!({ "code": "DATES", "type": "FIXED_AMOUNT", "value": "1",
                 "startsAt": "2030-01-02T00:00:00Z", "endsAt": "2030-01-01T00:00:00Z" }),
            "endsAt",
        ),
    ] {
        let body = create(&app, &admin, input.clone()).await;
        let error = &body["data"]["createCoupon"]["userErrors"][0];
        assert_eq!(error["code"], "INVALID_INPUT", "{input} {body}");
        assert_eq!(error["field"], json!(["input", field]), "{input} {body}");
    }
    let hundred = coupon(
        &app,
        &admin,
        json!({ "code": "ALL", "type": "PERCENTAGE", "value": 100 }),
    )
    .await;
    assert_eq!(hundred["value"], "100.00");

    // Admins only.
    let input = json!({ "input": { "code": "NOPE1", "type": "PERCENTAGE", "value": "5" } });
    let body = app.gql(CREATE, input.clone(), Some(&customer)).await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    let body = app.gql(CREATE, input, None).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    let body = app.gql(COUPONS, json!({}), Some(&customer)).await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    let body = apply(&app, &admin, "ALL").await;
    assert_eq!(error_code(&body), "FORBIDDEN", "customers only: {body}");

    // search: a substring of the code, case-insensitive; pages by code.
    let body = app.gql(COUPONS, json!({ "s": "mmer" }), Some(&admin)).await;
    assert_eq!(body["data"]["coupons"]["totalCount"], 1, "{body}");
    assert_eq!(body["data"]["coupons"]["nodes"][0]["code"], "SUMMER-10");
    let page = app.gql(COUPONS, json!({ "first": 1 }), Some(&admin)).await;
    assert_eq!(page["data"]["coupons"]["totalCount"], 2, "{page}");
    assert_eq!(page["data"]["coupons"]["nodes"][0]["code"], "ALL");
    let cursor = page["data"]["coupons"]["pageInfo"]["endCursor"].clone();
    let next = app
        .gql(
            COUPONS,
            json!({ "first": 1, "after": cursor }),
            Some(&admin),
        )
        .await;
    assert_eq!(
        next["data"]["coupons"]["nodes"][0]["code"], "SUMMER-10",
        "{next}"
    );
    assert_eq!(next["data"]["coupons"]["pageInfo"]["hasNextPage"], false);

    // updateCoupon: absent fields stay, null clears.
    let id = made["id"].clone();
    let body = app
        .gql(
            UPDATE,
            json!({ "input": { "id": id, "value": "20", "perCustomerLimit": 2 } }),
            Some(&admin),
        )
        .await;
    let updated = &body["data"]["updateCoupon"]["coupon"];
    assert_eq!(updated["value"], "20.00", "{body}");
    assert_eq!(updated["usageLimit"], 3);
    assert_eq!(updated["perCustomerLimit"], 2);
    let body = app
        .gql(
            UPDATE,
            json!({ "input": { "id": id, "usageLimit": null, "isActive": false } }),
            Some(&admin),
        )
        .await;
    let updated = &body["data"]["updateCoupon"]["coupon"];
    assert_eq!(updated["usageLimit"], Value::Null, "{body}");
    assert_eq!(updated["isActive"], false);
    assert_eq!(updated["value"], "20.00");
    let body = app
        .gql(
            UPDATE,
            json!({ "input": { "id": id, "value": "101" } }),
            Some(&admin),
        )
        .await;
    assert_eq!(
        user_error_code(&body, "updateCoupon"),
        "INVALID_INPUT",
        "{body}"
    );
    let node = app
        .gql(
            "query($id: ID!) { node(id: $id) { id ... on Coupon { code } } }",
            json!({ "id": id }),
            Some(&customer),
        )
        .await;
    assert_eq!(node["data"]["node"], Value::Null, "admins only: {node}");
});

backend_test!(
    applying_checks_the_rules_in_order,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let lamp = app.product(&admin, "Lamp", "10.05", 1000).await;
        let ann = app.customer("ann@example.com").await;
        app.add_to_cart(&ann, &lamp, 1).await;
        let cases = [
            ("UNKNOWN", "COUPON_INVALID"),
            ("OFF", "COUPON_INVALID"),
            ("LATER", "COUPON_EXPIRED"),
            ("OVER", "COUPON_EXPIRED"),
            ("BIGCART", "COUPON_MIN_SUBTOTAL"),
            ("INACTIVEANDOVER", "COUPON_INVALID"),
        ];
        coupon(
            &app,
            &admin,
            json!({ "code": "OFF", "type": "PERCENTAGE", "value": "5", "isActive": false }),
        )
        .await;
        coupon(&app, &admin, json!({ "code": "LATER", "type": "PERCENTAGE", "value": "5", "startsAt": "2099-01-01T00:00:00Z" })).await;
        coupon(&app, &admin, json!({ "code": "OVER", "type": "PERCENTAGE", "value": "5", "endsAt": "2020-01-01T00:00:00Z", "minSubtotal": "1000" })).await;
        coupon(&app, &admin, json!({ "code": "BIGCART", "type": "PERCENTAGE", "value": "5", "minSubtotal": "10.06" })).await;
        coupon(&app, &admin, json!({ "code": "INACTIVEANDOVER", "type": "PERCENTAGE", "value": "5", "isActive": false, "endsAt": "2020-01-01T00:00:00Z" })).await;
        for (code, expected) in cases {
            let body = apply(&app, &ann, code).await;
            let error = &body["data"]["applyCoupon"]["userErrors"][0];
            assert_eq!(error["code"], expected, "{code}: {body}");
            assert_eq!(error["field"], json!(["input", "code"]), "{body}");
            assert_eq!(
                body["data"]["applyCoupon"]["cart"]["couponCode"],
                Value::Null,
                "nothing applied: {body}"
            );
        }
        // Exactly at the minimum applies; lower case finds the code; 10 % of 10.05 is 1.005 → 1.01.
        coupon(
            &app,
            &admin,
            json!({ "code": "TEN", "type": "PERCENTAGE", "value": "10", "minSubtotal": "10.05" }),
        )
        .await;
        let body = apply(&app, &ann, "ten").await;
        let cart = &body["data"]["applyCoupon"]["cart"];
        assert_eq!(
            body["data"]["applyCoupon"]["userErrors"],
            json!([]),
            "{body}"
        );
        assert_eq!(cart["couponCode"], "TEN");
        assert_eq!(cart["subtotal"], "10.05");
        assert_eq!(cart["discount"], "1.01");
        assert_eq!(cart["total"], "9.04");
        // A cart holds one coupon: another replaces it. A fixed amount never passes the subtotal.
        coupon(
            &app,
            &admin,
            json!({ "code": "FIFTY", "type": "FIXED_AMOUNT", "value": "50" }),
        )
        .await;
        let body = apply(&app, &ann, "FIFTY").await;
        let cart = &body["data"]["applyCoupon"]["cart"];
        assert_eq!(cart["couponCode"], "FIFTY", "{body}");
        assert_eq!(cart["discount"], "10.05");
        assert_eq!(cart["total"], "0.00");
        // A usage limit reached refuses it (COUPON_USAGE_LIMIT comes before the minimum).
        coupon(&app, &admin, json!({ "code": "ONCE", "type": "FIXED_AMOUNT", "value": "1", "usageLimit": 1, "minSubtotal": "999" })).await;
        let bob = app.customer("bob@example.com").await;
        app.add_to_cart(&bob, &lamp, 100).await;
        assert_eq!(
            apply(&app, &bob, "ONCE").await["data"]["applyCoupon"]["userErrors"],
            json!([])
        );
        app.place_order(&bob, json!({ "shippingAddress": HOME }))
            .await;
        let body = apply(&app, &ann, "ONCE").await;
        assert_eq!(
            user_error_code(&body, "applyCoupon"),
            "COUPON_USAGE_LIMIT",
            "{body}"
        );

        // When the coupon stops applying the cart keeps its code with a discount of 0.00,
        // and placeOrder fails with the coupon's error, changing nothing.
        let fifty = app
            .gql(COUPONS, json!({ "s": "FIFTY" }), Some(&admin))
            .await;
        assert_eq!(fifty["data"]["coupons"]["totalCount"], 1);
        let list = app
            .gql(
                "{ coupons(search: \"FIFTY\") { nodes { id } } }",
                json!({}),
                Some(&admin),
            )
            .await;
        let id = list["data"]["coupons"]["nodes"][0]["id"].clone();
        app.gql(
            UPDATE,
            json!({ "input": { "id": id, "isActive": false } }),
            Some(&admin),
        )
        .await;
        let body = app.gql(CART, json!({}), Some(&ann)).await;
        assert_eq!(body["data"]["cart"]["couponCode"], "FIFTY", "{body}");
        assert_eq!(body["data"]["cart"]["discount"], "0.00");
        assert_eq!(body["data"]["cart"]["total"], "10.05");
        let before = stock(&app, &admin, &lamp).await;
        let body = app
            .gql(
                PLACE,
                json!({ "input": { "shippingAddress": HOME } }),
                Some(&ann),
            )
            .await;
        assert_eq!(body["data"]["placeOrder"]["order"], Value::Null, "{body}");
        assert_eq!(
            user_error_code(&body, "placeOrder"),
            "COUPON_INVALID",
            "{body}"
        );
        assert_eq!(stock(&app, &admin, &lamp).await, before, "no stock taken");
        let body = app.gql(CART, json!({}), Some(&ann)).await;
        assert_eq!(
            body["data"]["cart"]["items"],
            json!([{ "quantity": 1 }]),
            "cart kept: {body}"
        );
        assert_eq!(body["data"]["cart"]["couponCode"], "FIFTY");
        let body = app.gql(REMOVE, json!({}), Some(&ann)).await;
        assert_eq!(
            body["data"]["removeCoupon"]["cart"],
            json!({ "couponCode": null, "discount": "0.00", "total": "10.05" }),
            "{body}"
        );
    }
);

backend_test!(
    an_order_keeps_its_discount_and_cancel_gives_the_use_back,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let lamp = app.product(&admin, "Lamp", "19.99", 100).await;
        let ann = app.customer("ann@example.com").await;
        coupon(
            &app,
            &admin,
            json!({ "code": "SAVE15", "type": "PERCENTAGE", "value": "15", "perCustomerLimit": 1 }),
        )
        .await;
        let cart_id = app.gql(CART, json!({}), Some(&ann)).await["data"]["cart"]["id"].clone();
        app.add_to_cart(&ann, &lamp, 3).await;
        assert_eq!(
            apply(&app, &ann, "save15").await["data"]["applyCoupon"]["userErrors"],
            json!([])
        );
        let body = app
            .gql(
                PLACE,
                json!({ "input": { "shippingAddress": HOME } }),
                Some(&ann),
            )
            .await;
        let order = body["data"]["placeOrder"]["order"].clone();
        // 59.97 × 15 % = 8.9955 → 9.00.
        assert_eq!(order["subtotal"], "59.97", "{body}");
        assert_eq!(order["discountAmount"], "9.00");
        assert_eq!(order["couponCode"], "SAVE15");
        assert_eq!(order["totalAmount"], "50.97");
        assert_eq!(order["payment"]["amount"], "50.97");
        assert_eq!(usage_count(&app, &admin, "SAVE15").await, 1);
        let cart = app.gql(CART, json!({}), Some(&ann)).await;
        assert_eq!(cart["data"]["cart"]["items"], json!([]), "{cart}");
        assert_eq!(
            cart["data"]["cart"]["couponCode"],
            Value::Null,
            "the order took the coupon: {cart}"
        );
        assert_eq!(cart["data"]["cart"]["id"], cart_id, "Cart.id is stable");

        // The per-customer limit: used once, so refused, until the order is cancelled.
        app.add_to_cart(&ann, &lamp, 1).await;
        let body = apply(&app, &ann, "SAVE15").await;
        assert_eq!(
            user_error_code(&body, "applyCoupon"),
            "COUPON_USAGE_LIMIT",
            "{body}"
        );
        // Racing cancels give the use back once.
        let cancels = (0..4).map(|_| app.gql(CANCEL, json!({ "o": order["id"] }), Some(&ann)));
        let results = join_all(cancels).await;
        let won = results
            .iter()
            .filter(|b| b["data"]["cancelOrder"]["userErrors"] == json!([]))
            .count();
        assert_eq!(won, 1, "{results:?}");
        let winner = results
            .iter()
            .find(|b| b["data"]["cancelOrder"]["userErrors"] == json!([]))
            .unwrap();
        let cancelled = &winner["data"]["cancelOrder"]["order"];
        assert_eq!(cancelled["cancellationReason"], "CUSTOMER");
        assert_eq!(cancelled["couponCode"], "SAVE15", "kept once cancelled");
        assert_eq!(cancelled["discountAmount"], "9.00");
        assert_eq!(usage_count(&app, &admin, "SAVE15").await, 0);
        let body = apply(&app, &ann, "SAVE15").await;
        assert_eq!(
            body["data"]["applyCoupon"]["userErrors"],
            json!([]),
            "usable again: {body}"
        );
        // A second order holds a use; cancelling the first again changes nothing.
        app.place_order(&ann, json!({ "shippingAddress": HOME }))
            .await;
        assert_eq!(usage_count(&app, &admin, "SAVE15").await, 1);
        let again = app
            .gql(CANCEL, json!({ "o": order["id"] }), Some(&ann))
            .await;
        assert_eq!(
            user_error_code(&again, "cancelOrder"),
            "INVALID_STATUS_TRANSITION",
            "{again}"
        );
        assert_eq!(
            usage_count(&app, &admin, "SAVE15").await,
            1,
            "given back exactly once"
        );
        // An admin's cancel says so.
        let orders = app
            .gql(
                "{ orders(first: 1) { nodes { id } } }",
                json!({}),
                Some(&ann),
            )
            .await;
        let second = orders["data"]["orders"]["nodes"][0]["id"].clone();
        let body = app.gql(CANCEL, json!({ "o": second }), Some(&admin)).await;
        assert_eq!(
            body["data"]["cancelOrder"]["order"]["cancellationReason"], "ADMIN",
            "{body}"
        );
        assert_eq!(usage_count(&app, &admin, "SAVE15").await, 0);
    }
);

backend_test!(
    a_usage_limit_holds_under_concurrent_orders,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let lamp = app.product(&admin, "Lamp", "10.00", 1000).await;
        coupon(
            &app,
            &admin,
            json!({ "code": "FIVE", "type": "FIXED_AMOUNT", "value": "2.50", "usageLimit": 5 }),
        )
        .await;
        let customers = app.customers_with_carts("c", 20, &lamp, 2).await;
        for token in &customers {
            let body = apply(&app, token, "FIVE").await;
            assert_eq!(
                body["data"]["applyCoupon"]["userErrors"],
                json!([]),
                "{body}"
            );
        }
        let place = customers.iter().map(|token| {
            app.gql(
                PLACE,
                json!({ "input": { "shippingAddress": HOME } }),
                Some(token),
            )
        });
        let results = join_all(place).await;
        let discounted: Vec<&Value> = results
            .iter()
            .filter_map(|b| {
                b["data"]["placeOrder"]["order"]
                    .as_object()
                    .map(|_| &b["data"]["placeOrder"]["order"])
            })
            .collect();
        assert_eq!(discounted.len(), 5, "{results:?}");
        for order in &discounted {
            assert_eq!(order["discountAmount"], "2.50");
            assert_eq!(order["totalAmount"], "17.50");
        }
        let refused = results
            .iter()
            .filter(|b| user_error_code(b, "placeOrder") == "COUPON_USAGE_LIMIT")
            .count();
        assert_eq!(refused, 15, "{results:?}");
        assert_eq!(usage_count(&app, &admin, "FIVE").await, 5);
        assert_eq!(
            stock(&app, &admin, &lamp).await,
            1000 - 5 * 2,
            "refused orders took no stock"
        );
        assert_eq!(app.count("SELECT COUNT(*) FROM orders").await, 5);
        assert_eq!(
            app.count("SELECT COUNT(*) FROM cart_items").await,
            15,
            "refused carts kept"
        );
        assert_eq!(app.count("SELECT COUNT(*) FROM cart_coupons").await, 15);
    }
);
