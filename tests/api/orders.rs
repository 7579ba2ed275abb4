//! Cart, orders and payments, including the concurrency rules.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{TestApp, backend_test, error_code, user_error_code};

const CART: &str =
    "{ cart { totalQuantity subtotal items { id quantity lineTotal product { id name } } } }";
const ADD: &str = "mutation($p: ID!, $q: Int) { addToCart(input: {productId: $p, quantity: $q}) {
    cart { totalQuantity subtotal } cartItem { id quantity lineTotal } userErrors { field code message } } }";
const UPDATE_ITEM: &str =
    "mutation($i: ID!, $q: Int!) { updateCartItem(input: {cartItemId: $i, quantity: $q}) {
    cart { totalQuantity } cartItem { quantity } userErrors { field code } } }";
const REMOVE_ITEM: &str = "mutation($i: ID!) { removeFromCart(input: {cartItemId: $i}) {
    cart { totalQuantity } userErrors { code } } }";
const PLACE: &str = "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order {
    id orderNumber status totalAmount itemCount paymentMethod nextStatuses customer { email }
    items { productName unitPrice quantity subtotal product { id name } }
    payment { status amount method transactionId } } userErrors { field code message } } }";
const PAY: &str =
    "mutation($o: ID!, $t: String!) { payOrder(input: {orderId: $o, paymentToken: $t}) {
    order { status payment { status transactionId } } userErrors { field code } } }";
const SET_STATUS: &str =
    "mutation($o: ID!, $s: OrderStatus!) { updateOrderStatus(input: {orderId: $o, status: $s}) {
    order { status nextStatuses payment { status } } userErrors { field code } } }";
const CANCEL: &str = "mutation($o: ID!) { cancelOrder(input: {orderId: $o}) {
    order { status payment { status } } userErrors { code } } }";
const STOCK: &str = "query($id: ID!) { product(id: $id) { stock isArchived } }";

async fn add(app: &TestApp, token: &str, product: &str, quantity: i32) -> Value {
    app.gql(ADD, json!({ "p": product, "q": quantity }), Some(token))
        .await
}

async fn place(app: &TestApp, token: &str, input: Value) -> Value {
    app.gql(PLACE, json!({ "input": input }), Some(token)).await
}

fn order_id(body: &Value) -> String {
    body["data"]["placeOrder"]["order"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no order: {body}"))
        .to_owned()
}

async fn stock(app: &TestApp, admin: &str, product: &str) -> i64 {
    app.gql(STOCK, json!({ "id": product }), Some(admin)).await["data"]["product"]["stock"]
        .as_i64()
        .unwrap()
}

backend_test!(cart_rules, |app: TestApp| async move {
    let admin = app.admin("admin@example.com").await;
    let (ann, _, _) = app.register("ann@example.com").await;
    let (bob, _, _) = app.register("bob@example.com").await;
    let pen = app.product(&admin, "Pen", "2.50", 5).await;
    let ink = app.product(&admin, "Ink", "0.10", 100).await;

    assert_eq!(
        error_code(&app.gql(CART, json!({}), Some(&admin)).await),
        "FORBIDDEN"
    );
    assert_eq!(
        error_code(&app.gql(CART, json!({}), None).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(error_code(&add(&app, &admin, &pen, 1).await), "FORBIDDEN");

    let body = add(&app, &ann, &pen, 2).await;
    assert_eq!(body["data"]["addToCart"]["cartItem"]["lineTotal"], "5.00");
    let body = add(&app, &ann, &pen, 2).await;
    assert_eq!(
        body["data"]["addToCart"]["cartItem"]["quantity"], 4,
        "adds to the line"
    );
    let item = body["data"]["addToCart"]["cartItem"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = add(&app, &ann, &pen, 2).await;
    assert_eq!(user_error_code(&body, "addToCart"), "INSUFFICIENT_STOCK");
    assert_eq!(
        body["data"]["addToCart"]["cart"]["totalQuantity"], 4,
        "unchanged"
    );
    assert_eq!(body["data"]["addToCart"]["cartItem"], json!(null));
    for quantity in [0, -1, 1001] {
        let body = add(&app, &ann, &ink, quantity).await;
        assert_eq!(
            user_error_code(&body, "addToCart"),
            "INVALID_QUANTITY",
            "{quantity}"
        );
    }
    let body = add(&app, &ann, &ink, 3).await;
    assert_eq!(body["data"]["addToCart"]["cart"]["subtotal"], "10.30");
    let body = add(&app, &ann, &crate::helpers::global_id("Product", 9999), 1).await;
    assert_eq!(user_error_code(&body, "addToCart"), "NOT_FOUND");

    let body = app
        .gql(UPDATE_ITEM, json!({ "i": item, "q": 1 }), Some(&ann))
        .await;
    assert_eq!(body["data"]["updateCartItem"]["cartItem"]["quantity"], 1);
    let body = app
        .gql(UPDATE_ITEM, json!({ "i": item, "q": 6 }), Some(&ann))
        .await;
    assert_eq!(
        user_error_code(&body, "updateCartItem"),
        "INSUFFICIENT_STOCK"
    );
    let body = app
        .gql(UPDATE_ITEM, json!({ "i": item, "q": 1 }), Some(&bob))
        .await;
    assert_eq!(
        user_error_code(&body, "updateCartItem"),
        "NOT_FOUND",
        "not Bob's line"
    );
    let body = app.gql(REMOVE_ITEM, json!({ "i": item }), Some(&bob)).await;
    assert_eq!(user_error_code(&body, "removeFromCart"), "NOT_FOUND");
    let body = app
        .gql(UPDATE_ITEM, json!({ "i": item, "q": 0 }), Some(&ann))
        .await;
    assert_eq!(
        body["data"]["updateCartItem"]["cart"]["totalQuantity"], 3,
        "0 removes the line"
    );
    assert_eq!(body["data"]["updateCartItem"]["cartItem"], json!(null));

    // Archiving takes a product out of every cart, and it cannot be added again.
    add(&app, &bob, &ink, 1).await;
    let archive = "mutation($id: ID!) { updateProduct(input: {id: $id, isArchived: true}) { userErrors { code } } }";
    app.gql(archive, json!({ "id": ink }), Some(&admin)).await;
    for token in [&ann, &bob] {
        assert_eq!(
            app.gql(CART, json!({}), Some(token)).await["data"]["cart"]["totalQuantity"],
            0
        );
    }
    let body = add(&app, &ann, &ink, 1).await;
    assert_eq!(user_error_code(&body, "addToCart"), "PRODUCT_UNAVAILABLE");

    add(&app, &ann, &pen, 1).await;
    let cleared = app
        .gql(
            "mutation { clearCart { cart { totalQuantity items { id } } userErrors { code } } }",
            json!({}),
            Some(&ann),
        )
        .await;
    assert_eq!(
        cleared["data"]["clearCart"]["cart"],
        json!({ "totalQuantity": 0, "items": [] })
    );

    // A line grows up to 1,000 units, however many adds it takes.
    let (cy, _, _) = app.register("cy@example.com").await;
    let paper = app.product(&admin, "Paper", "0.01", 5000).await;
    let body = add(&app, &cy, &paper, 600).await;
    assert_eq!(body["data"]["addToCart"]["cartItem"]["quantity"], 600);
    let body = add(&app, &cy, &paper, 500).await;
    assert_eq!(user_error_code(&body, "addToCart"), "INVALID_QUANTITY");
    assert_eq!(body["data"]["addToCart"]["cart"]["totalQuantity"], 600);
    let body = add(&app, &cy, &paper, 400).await;
    assert_eq!(body["data"]["addToCart"]["cartItem"]["quantity"], 1000);
});

backend_test!(
    card_order_from_cart_to_delivery,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let (ann, _, _) = app.register("ann@example.com").await;
        let mug = app.product(&admin, "Mug", "4.99", 10).await;
        let tea = app.product(&admin, "Tea", "12.00", 3).await;
        add(&app, &ann, &mug, 3).await;
        add(&app, &ann, &tea, 1).await;

        let body = place(
            &app,
            &ann,
            json!({ "shippingAddress": " 1 Main St ", "paymentMethod": "CARD" }),
        )
        .await;
        insta::assert_json_snapshot!("placed_card_order", body["data"]["placeOrder"], {
            ".order.id" => "[id]",
            ".order.orderNumber" => insta::dynamic_redaction(|value, _| {
                let number = value.as_str().unwrap_or_default();
                assert!(number.starts_with("ORD-") && number.len() == 14, "{number}");
                "[ORD-##########]"
            }),
            ".order.items[].product.id" => "[id]",
        });
        let id = order_id(&body);
        assert_eq!(
            app.gql(CART, json!({}), Some(&ann)).await["data"]["cart"]["totalQuantity"],
            0
        );
        assert_eq!(stock(&app, &admin, &mug).await, 7);
        assert_eq!(stock(&app, &admin, &tea).await, 2);

        // The lines keep the name and price of the moment of purchase.
        let rename = "mutation($id: ID!) { updateProduct(input: {id: $id, name: \"Big Mug\", price: \"9.99\"}) { userErrors { code } } }";
        app.gql(rename, json!({ "id": mug }), Some(&admin)).await;
        let query = "query($id: ID!) { order(id: $id) { items { productName unitPrice subtotal product { name } } } }";
        let seen = app.gql(query, json!({ "id": id }), Some(&ann)).await;
        assert_eq!(
            seen["data"]["order"]["items"][0],
            json!({ "productName": "Mug", "unitPrice": "4.99", "subtotal": "14.97", "product": { "name": "Big Mug" } })
        );

        let body = app
            .gql(
                SET_STATUS,
                json!({ "o": id, "s": "CONFIRMED" }),
                Some(&admin),
            )
            .await;
        assert_eq!(
            user_error_code(&body, "updateOrderStatus"),
            "PAYMENT_REQUIRED"
        );
        let body = app
            .gql(
                PAY,
                json!({ "o": id, "t": "tok_chargeDeclined" }),
                Some(&ann),
            )
            .await;
        assert_eq!(user_error_code(&body, "payOrder"), "PAYMENT_DECLINED");
        let check = "query($id: ID!) { order(id: $id) { status payment { status } } }";
        assert_eq!(
            app.gql(check, json!({ "id": id }), Some(&ann)).await["data"]["order"],
            json!({ "status": "PENDING", "payment": { "status": "FAILED" } })
        );
        let body = app
            .gql(PAY, json!({ "o": id, "t": "tok_visa" }), Some(&ann))
            .await;
        assert_eq!(
            body["data"]["payOrder"]["order"]["payment"]["status"], "PAID",
            "{body}"
        );
        assert!(
            body["data"]["payOrder"]["order"]["payment"]["transactionId"]
                .as_str()
                .unwrap()
                .starts_with("txn_")
        );
        let body = app
            .gql(PAY, json!({ "o": id, "t": "tok_visa" }), Some(&ann))
            .await;
        assert_eq!(user_error_code(&body, "payOrder"), "ALREADY_PAID");

        assert_eq!(
            error_code(
                &app.gql(SET_STATUS, json!({ "o": id, "s": "CONFIRMED" }), Some(&ann))
                    .await
            ),
            "FORBIDDEN"
        );
        let body = app
            .gql(SET_STATUS, json!({ "o": id, "s": "SHIPPED" }), Some(&admin))
            .await;
        assert_eq!(
            user_error_code(&body, "updateOrderStatus"),
            "INVALID_STATUS_TRANSITION",
            "must confirm first"
        );
        for (status, next) in [
            ("CONFIRMED", json!(["SHIPPED", "CANCELLED"])),
            ("SHIPPED", json!(["DELIVERED"])),
            ("DELIVERED", json!([])),
        ] {
            let body = app
                .gql(SET_STATUS, json!({ "o": id, "s": status }), Some(&admin))
                .await;
            assert_eq!(
                body["data"]["updateOrderStatus"]["order"]["status"], status,
                "{body}"
            );
            assert_eq!(
                body["data"]["updateOrderStatus"]["order"]["nextStatuses"],
                next
            );
        }
        let body = app.gql(CANCEL, json!({ "o": id }), Some(&ann)).await;
        assert_eq!(
            user_error_code(&body, "cancelOrder"),
            "INVALID_STATUS_TRANSITION"
        );

        // An ordered product can only be archived, not deleted.
        let delete = "mutation($id: ID!) { deleteProduct(input: {id: $id}) { deletedProductId userErrors { code } } }";
        let body = app.gql(delete, json!({ "id": tea }), Some(&admin)).await;
        assert_eq!(
            body["data"]["deleteProduct"]["deletedProductId"],
            json!(tea)
        );
        assert_eq!(
            app.gql(STOCK, json!({ "id": tea }), Some(&admin)).await["data"]["product"]["isArchived"],
            true
        );
    }
);

backend_test!(
    cash_on_delivery_is_paid_on_delivery,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let (ann, _, _) = app.register("ann@example.com").await;
        let pen = app.product(&admin, "Pen", "1.00", 5).await;
        add(&app, &ann, &pen, 1).await;
        let body = place(&app, &ann, json!({ "shippingAddress": "Home" })).await;
        assert_eq!(
            body["data"]["placeOrder"]["order"]["paymentMethod"],
            "CASH_ON_DELIVERY"
        );
        let id = order_id(&body);
        let body = app
            .gql(PAY, json!({ "o": id, "t": "tok_visa" }), Some(&ann))
            .await;
        assert_eq!(
            user_error_code(&body, "payOrder"),
            "INVALID_STATUS_TRANSITION"
        );
        for status in ["CONFIRMED", "SHIPPED"] {
            let body = app
                .gql(SET_STATUS, json!({ "o": id, "s": status }), Some(&admin))
                .await;
            assert_eq!(
                body["data"]["updateOrderStatus"]["order"]["payment"]["status"],
                "PENDING"
            );
        }
        let body = app
            .gql(
                SET_STATUS,
                json!({ "o": id, "s": "DELIVERED" }),
                Some(&admin),
            )
            .await;
        assert_eq!(
            body["data"]["updateOrderStatus"]["order"]["payment"]["status"],
            "PAID"
        );
    }
);

backend_test!(
    cancelling_returns_stock_and_settles_the_payment,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let (ann, _, _) = app.register("ann@example.com").await;
        let (bob, _, _) = app.register("bob@example.com").await;
        let pen = app.product(&admin, "Pen", "1.00", 5).await;

        let unpaid = app
            .order(&ann, &pen, 2, json!({ "shippingAddress": "Home" }))
            .await;
        assert_eq!(stock(&app, &admin, &pen).await, 3);
        let body = app.gql(CANCEL, json!({ "o": unpaid }), Some(&bob)).await;
        assert_eq!(
            user_error_code(&body, "cancelOrder"),
            "NOT_FOUND",
            "not Bob's order"
        );
        let seen = app
            .gql(
                "query($id: ID!) { order(id: $id) { id } }",
                json!({ "id": unpaid }),
                Some(&bob),
            )
            .await;
        assert_eq!(seen["data"]["order"], json!(null));
        let body = app.gql(CANCEL, json!({ "o": unpaid }), Some(&ann)).await;
        assert_eq!(
            body["data"]["cancelOrder"]["order"],
            json!({ "status": "CANCELLED", "payment": { "status": "FAILED" } })
        );
        assert_eq!(stock(&app, &admin, &pen).await, 5);
        let body = app
            .gql(PAY, json!({ "o": unpaid, "t": "tok_visa" }), Some(&ann))
            .await;
        assert_eq!(
            user_error_code(&body, "payOrder"),
            "INVALID_STATUS_TRANSITION"
        );

        let paid = app
            .order(
                &ann,
                &pen,
                1,
                json!({ "shippingAddress": "Home", "paymentMethod": "CARD" }),
            )
            .await;
        app.gql(PAY, json!({ "o": paid, "t": "tok_visa" }), Some(&ann))
            .await;
        let body = app
            .gql(
                SET_STATUS,
                json!({ "o": paid, "s": "CANCELLED" }),
                Some(&admin),
            )
            .await;
        assert_eq!(
            body["data"]["updateOrderStatus"]["order"]["payment"]["status"], "REFUNDED",
            "{body}"
        );
        assert_eq!(stock(&app, &admin, &pen).await, 5);

        // Nothing to order, not a customer, no address.
        assert_eq!(
            user_error_code(
                &place(&app, &ann, json!({ "shippingAddress": "Home" })).await,
                "placeOrder"
            ),
            "CART_EMPTY"
        );
        assert_eq!(
            error_code(&place(&app, &admin, json!({ "shippingAddress": "Home" })).await),
            "FORBIDDEN"
        );
        add(&app, &ann, &pen, 1).await;
        let body = place(&app, &ann, json!({ "shippingAddress": "   " })).await;
        assert_eq!(user_error_code(&body, "placeOrder"), "INVALID_INPUT");
        assert_eq!(
            app.gql(CART, json!({}), Some(&ann)).await["data"]["cart"]["totalQuantity"],
            1,
            "cart kept"
        );
    }
);

backend_test!(a_short_line_sells_nothing, |app: TestApp| async move {
    let admin = app.admin("admin@example.com").await;
    let (ann, _, _) = app.register("ann@example.com").await;
    let pen = app.product(&admin, "Pen", "1.00", 5).await;
    let cup = app.product(&admin, "Cup", "3.00", 4).await;
    add(&app, &ann, &pen, 2).await;
    let body = add(&app, &ann, &cup, 4).await;
    let cup_line = body["data"]["addToCart"]["cartItem"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let adjust = "mutation($id: ID!) { adjustStock(input: {productId: $id, delta: -2}) { userErrors { code } } }";
    app.gql(adjust, json!({ "id": cup }), Some(&admin)).await;

    let body = place(&app, &ann, json!({ "shippingAddress": "Home" })).await;
    let error = &body["data"]["placeOrder"]["userErrors"][0];
    assert_eq!(error["code"], "INSUFFICIENT_STOCK", "{body}");
    assert_eq!(error["field"], json!(["cart", cup_line]));
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("Cup") && message.contains('2'),
        "{message}"
    );
    assert_eq!(body["data"]["placeOrder"]["order"], json!(null));
    assert_eq!(stock(&app, &admin, &pen).await, 5, "nothing sold");
    assert_eq!(stock(&app, &admin, &cup).await, 2);
    assert_eq!(
        app.gql(CART, json!({}), Some(&ann)).await["data"]["cart"]["totalQuantity"],
        6,
        "cart kept"
    );
    let orders = app
        .gql("{ orders { totalCount } }", json!({}), Some(&ann))
        .await;
    assert_eq!(orders["data"]["orders"]["totalCount"], 0);
});

backend_test!(
    orders_are_listed_by_who_may_see_them,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let (ann, _, ann_id) = app.register("ann@example.com").await;
        let (bob, _, _) = app.register("bob@example.com").await;
        let pen = app.product(&admin, "Pen", "1.00", 50).await;
        let mut ann_orders = Vec::new();
        for _ in 0..3 {
            let input = json!({ "shippingAddress": "A" });
            ann_orders.push(app.order(&ann, &pen, 1, input).await);
        }
        let bob_order = app
            .order(&bob, &pen, 1, json!({ "shippingAddress": "B" }))
            .await;
        app.gql(CANCEL, json!({ "o": ann_orders[0] }), Some(&ann))
            .await;

        let list = "query($f: OrderFilter, $first: Int, $after: String) { orders(first: $first, after: $after, filter: $f) {
        totalCount nodes { id } pageInfo { hasNextPage endCursor } } }";
        let ids = |body: &Value| -> Vec<String> {
            body["data"]["orders"]["nodes"]
                .as_array()
                .unwrap_or_else(|| panic!("{body}"))
                .iter()
                .map(|n| n["id"].as_str().unwrap().to_owned())
                .collect()
        };
        let newest_first: Vec<String> = ann_orders.iter().rev().cloned().collect();
        assert_eq!(
            ids(&app.gql(list, json!({}), Some(&ann)).await),
            newest_first
        );
        // A customer's customerId filter is ignored.
        let sneaky = app
            .gql(
                list,
                json!({ "f": { "customerId": crate::helpers::global_id("User", 3) } }),
                Some(&bob),
            )
            .await;
        assert_eq!(ids(&sneaky), vec![bob_order.clone()]);
        assert_eq!(
            app.gql(list, json!({}), Some(&admin)).await["data"]["orders"]["totalCount"],
            4
        );
        assert_eq!(
            ids(&app
                .gql(list, json!({ "f": { "customerId": ann_id } }), Some(&admin))
                .await),
            newest_first
        );
        let cancelled = app
            .gql(
                list,
                json!({ "f": { "status": "CANCELLED" } }),
                Some(&admin),
            )
            .await;
        assert_eq!(ids(&cancelled), [ann_orders[0].clone()]);
        let first = app.gql(list, json!({ "first": 2 }), Some(&ann)).await;
        let after = first["data"]["orders"]["pageInfo"]["endCursor"].clone();
        let second = app
            .gql(list, json!({ "first": 2, "after": after }), Some(&ann))
            .await;
        assert_eq!([ids(&first), ids(&second)].concat(), newest_first);

        let mine = "{ me { orders(status: PENDING) { totalCount nodes { id } } } }";
        let body = app.gql(mine, json!({}), Some(&ann)).await;
        assert_eq!(body["data"]["me"]["orders"]["totalCount"], 2);
        let node = app
            .gql(
                "query($id: ID!) { node(id: $id) { ... on Order { id } } }",
                json!({ "id": bob_order }),
                Some(&ann),
            )
            .await;
        assert_eq!(node["data"]["node"], json!(null));
        assert_eq!(
            error_code(&app.gql(list, json!({}), None).await),
            "UNAUTHENTICATED"
        );
    }
);

backend_test!(
    a_page_of_orders_costs_a_fixed_number_of_statements,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let mut products = Vec::new();
        for i in 0..5 {
            products.push(app.product(&admin, &format!("P{i}"), "1.00", 1000).await);
        }
        let mut customers = Vec::new();
        for c in 0..4 {
            customers.push(app.customer(&format!("c{c}@example.com")).await);
        }
        for n in 0..20 {
            let customer = &customers[n % customers.len()];
            for product in &products {
                app.add_to_cart(customer, product, 1).await;
            }
            app.place_order(customer, json!({ "shippingAddress": "X" }))
                .await;
        }
        let query = "query($n: Int) { orders(first: $n) { nodes { orderNumber totalAmount itemCount
        customer { email } payment { status amount }
        items { productName quantity product { name stock } } } } }";
        let mut costs = Vec::new();
        for n in [1, 5, 20] {
            let before = app.state.db.statement_count();
            let body = app.gql(query, json!({ "n": n }), Some(&admin)).await;
            let after = app.state.db.statement_count();
            let nodes = body["data"]["orders"]["nodes"]
                .as_array()
                .unwrap_or_else(|| panic!("{body}"));
            assert_eq!(nodes.len(), n as usize);
            assert!(
                nodes
                    .iter()
                    .all(|o| o["items"].as_array().unwrap().len() == 5)
            );
            costs.push(after - before);
        }
        // page, items, their products, payments, customers: five statements for 1, 5 or
        // 20 orders (the viewer comes from the viewer cache).
        assert_eq!(costs, [5, 5, 5]);
    }
);

backend_test!(
    no_oversell_when_buyers_race_for_the_last_units,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let lamp = app.product(&admin, "Lamp", "10.00", 5).await;
        let buyers = app.customers_with_carts("buyer", 20, &lamp, 1).await;
        let results = join_all(
            buyers
                .iter()
                .map(|t| place(&app, t, json!({ "shippingAddress": "X" }))),
        )
        .await;
        let sold = results
            .iter()
            .filter(|b| b["data"]["placeOrder"]["order"].is_object())
            .count();
        let refused: Vec<&Value> = results
            .iter()
            .filter(|b| user_error_code(b, "placeOrder") == "INSUFFICIENT_STOCK")
            .collect();
        assert_eq!((sold, refused.len()), (5, 15), "{results:?}");
        assert_eq!(stock(&app, &admin, &lamp).await, 0);
        let orders = app
            .gql("{ orders { totalCount } }", json!({}), Some(&admin))
            .await;
        assert_eq!(orders["data"]["orders"]["totalCount"], 5);
        // Every refused buyer was charged nothing and keeps their cart.
        for (token, body) in buyers.iter().zip(&results) {
            if body["data"]["placeOrder"]["order"].is_null() {
                assert_eq!(
                    app.gql(CART, json!({}), Some(token)).await["data"]["cart"]["totalQuantity"],
                    1
                );
                assert_eq!(
                    app.gql("{ orders { totalCount } }", json!({}), Some(token))
                        .await["data"]["orders"]["totalCount"],
                    0
                );
            }
        }
    }
);

backend_test!(
    racing_cancels_return_stock_once,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let (ann, _, _) = app.register("ann@example.com").await;
        let lamp = app.product(&admin, "Lamp", "10.00", 10).await;
        for _ in 0..3 {
            let id = app
                .order(&ann, &lamp, 3, json!({ "shippingAddress": "X" }))
                .await;
            let (a, b, c) = tokio::join!(
                app.gql(CANCEL, json!({ "o": id }), Some(&ann)),
                app.gql(CANCEL, json!({ "o": id }), Some(&admin)),
                app.gql(
                    SET_STATUS,
                    json!({ "o": id, "s": "CANCELLED" }),
                    Some(&admin)
                ),
            );
            let wins = [
                a["data"]["cancelOrder"]["order"].is_object(),
                b["data"]["cancelOrder"]["order"].is_object(),
                c["data"]["updateOrderStatus"]["order"].is_object(),
            ];
            assert_eq!(wins.iter().filter(|w| **w).count(), 1, "{a} {b} {c}");
            assert_eq!(stock(&app, &admin, &lamp).await, 10);
        }
    }
);

backend_test!(
    one_idempotency_key_gives_one_order,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let (ann, _, _) = app.register("ann@example.com").await;
        let lamp = app.product(&admin, "Lamp", "10.00", 10).await;
        add(&app, &ann, &lamp, 2).await;
        let input = json!({ "shippingAddress": "X", "idempotencyKey": "checkout-1" });
        let results = join_all((0..5).map(|_| place(&app, &ann, input.clone()))).await;
        let ids: Vec<String> = results.iter().map(order_id).collect();
        assert!(ids.iter().all(|id| id == &ids[0]), "{results:?}");
        assert_eq!(stock(&app, &admin, &lamp).await, 8);
        // A later retry with the same key also answers with that order.
        assert_eq!(order_id(&place(&app, &ann, input).await), ids[0]);
        assert_eq!(
            app.gql("{ orders { totalCount } }", json!({}), Some(&ann))
                .await["data"]["orders"]["totalCount"],
            1
        );
    }
);

backend_test!(
    stock_arithmetic_is_exact_under_concurrent_orders_and_adjustments,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let lamp = app.product(&admin, "Lamp", "10.00", 50).await;
        let buyers = app.customers_with_carts("b", 10, &lamp, 2).await;
        let adjust = "mutation($id: ID!, $d: Int!) { adjustStock(input: {productId: $id, delta: $d}) { product { stock } userErrors { code } } }";
        let orders = join_all(
            buyers
                .iter()
                .map(|t| place(&app, t, json!({ "shippingAddress": "X" }))),
        );
        let ups =
            join_all((0..10).map(|_| app.gql(adjust, json!({ "id": lamp, "d": 3 }), Some(&admin))));
        let downs =
            join_all((0..5).map(|_| app.gql(adjust, json!({ "id": lamp, "d": -1 }), Some(&admin))));
        let (orders, ups, downs) = tokio::join!(orders, ups, downs);
        assert!(
            orders
                .iter()
                .all(|b| b["data"]["placeOrder"]["order"].is_object()),
            "{orders:?}"
        );
        assert!(
            ups.iter()
                .chain(&downs)
                .all(|b| b["data"]["adjustStock"]["product"].is_object())
        );
        assert_eq!(stock(&app, &admin, &lamp).await, 50 - 20 + 30 - 5);
    }
);

backend_test!(demo_data_is_usable_at_once, |app: TestApp| async move {
    let plan = mini_ecommerce::seed::SeedPlan {
        products: 50,
        customers: 3,
        orders_per_customer: 2,
        cart_lines: 3,
    };
    let seeded = mini_ecommerce::seed::seed_demo(&app.state.db, &app.state.hasher, plan)
        .await
        .expect("seeded");
    assert_eq!(
        (
            seeded.products,
            seeded.customers,
            seeded.orders,
            seeded.cart_lines
        ),
        (50, 3, 7, 9),
        "the demo account has one delivered order too"
    );
    assert!(seeded.reviews >= 3, "{seeded:?}");
    let demo = app
        .login("demo@example.com", mini_ecommerce::seed::DEMO_PASSWORD)
        .await;
    let page = app
        .gql(
            "{ products(first: 100) { totalCount } }",
            json!({}),
            Some(&demo),
        )
        .await;
    assert_eq!(page["data"]["products"]["totalCount"], 50);
    // The demo account has an address book to check out with.
    let me = app
        .gql(
            "{ me { addresses { isDefault city } defaultAddress { line1 countryCode } } }",
            json!({}),
            Some(&demo),
        )
        .await;
    assert_eq!(
        me["data"]["me"]["addresses"].as_array().map(Vec::len),
        Some(2),
        "{me}"
    );
    assert_eq!(
        me["data"]["me"]["defaultAddress"],
        json!({ "line1": "12 Orchard Lane", "countryCode": "GB" })
    );
    // Reviews: the best rated first, the demo account's own among them.
    let rated = app
        .gql(
            "{ products(first: 100, sort: {field: RATING, direction: DESC}) {
                nodes { averageRating reviewCount myReview { rating } } } }",
            json!({}),
            Some(&demo),
        )
        .await;
    let nodes = rated["data"]["products"]["nodes"]
        .as_array()
        .expect("products");
    let reviewed: usize = nodes
        .iter()
        .map(|n| n["reviewCount"].as_u64().unwrap() as usize)
        .sum();
    assert_eq!(reviewed, seeded.reviews, "{rated}");
    assert!(nodes[0]["averageRating"].as_f64().is_some(), "{rated}");
    assert_eq!(
        nodes.iter().filter(|n| n["myReview"].is_object()).count(),
        3,
        "{rated}"
    );
    // A category tree of three levels (5, 15 and 30 categories), every product in a leaf
    // and in sizes or colours.
    let tree = app
        .gql(
            "{ categories { name children { children { name products { totalCount } } } }
               products(first: 1) { nodes { options { name values } variants { sku } } } }",
            json!({}),
            Some(&demo),
        )
        .await;
    let roots = tree["data"]["categories"].as_array().expect("roots");
    let departments: Vec<&Value> = roots
        .iter()
        .flat_map(|r| r["children"].as_array().unwrap())
        .collect();
    let leaves: Vec<&Value> = departments
        .iter()
        .flat_map(|d| d["children"].as_array().unwrap())
        .collect();
    assert_eq!((roots.len(), departments.len(), leaves.len()), (5, 15, 30));
    let in_leaves: i64 = leaves
        .iter()
        .map(|l| l["products"]["totalCount"].as_i64().unwrap())
        .sum();
    assert_eq!(in_leaves, 50);
    let first = &tree["data"]["products"]["nodes"][0];
    assert_eq!(first["variants"].as_array().unwrap().len(), 3, "{first}");
    assert_eq!(first["options"][0]["values"].as_array().unwrap().len(), 3);
    // Seeding carts later, without products, draws on the catalog already there.
    let carts_only = mini_ecommerce::seed::SeedPlan {
        products: 0,
        customers: 5,
        orders_per_customer: 0,
        cart_lines: 2,
    };
    let seeded = mini_ecommerce::seed::seed_demo(&app.state.db, &app.state.hasher, carts_only)
        .await
        .expect("seeded");
    assert_eq!((seeded.customers, seeded.cart_lines), (2, 4));
    let customer = app
        .login("customer1@example.com", mini_ecommerce::seed::DEMO_PASSWORD)
        .await;
    let orders = app
        .gql(
            "{ orders { totalCount nodes { status itemCount payment { status } } } }",
            json!({}),
            Some(&customer),
        )
        .await;
    assert_eq!(orders["data"]["orders"]["totalCount"], 2);
    assert_eq!(orders["data"]["orders"]["nodes"][0]["status"], "DELIVERED");
    assert_eq!(
        orders["data"]["orders"]["nodes"][0]["payment"]["status"],
        "PAID"
    );
    let placed = place(&app, &customer, json!({ "shippingAddress": "Home" })).await;
    assert_eq!(
        placed["data"]["placeOrder"]["order"]["itemCount"], 3,
        "{placed}"
    );
});

backend_test!(
    add_to_cart_answers_what_is_selected,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let (ann, _, _) = app.register("ann@example.com").await;
        let pen = app.product(&admin, "Pen", "2.00", 5).await;
        let only_item = "mutation($p: ID!) { addToCart(input: {productId: $p, quantity: 2}) { cartItem { quantity lineTotal product { name } } userErrors { code } } }";
        let body = app.gql(only_item, json!({ "p": pen }), Some(&ann)).await;
        assert_eq!(
            body["data"]["addToCart"]["cartItem"],
            json!({ "quantity": 2, "lineTotal": "4.00", "product": { "name": "Pen" } })
        );
        let body = app.gql(only_item, json!({ "p": pen }), Some(&ann)).await;
        assert_eq!(body["data"]["addToCart"]["cartItem"]["quantity"], 4);
        let both = add(&app, &ann, &pen, 1).await;
        assert_eq!(both["data"]["addToCart"]["cart"]["totalQuantity"], 5);
        assert_eq!(both["data"]["addToCart"]["cartItem"]["quantity"], 5);
    }
);

backend_test!(
    checkout_and_add_to_cart_stay_prepared,
    |app: TestApp| async move {
        // diesel caches no UPDATE or upsert by itself; db::fixed_sql::FixedSql makes the
        // hot ones reusable. A statement kept for reuse shows up in prepared_statements.
        let admin = app.admin("admin@example.com").await;
        let (ann, _, _) = app.register("ann@example.com").await;
        let pen = app.product(&admin, "Pen", "1.00", 10).await;
        add(&app, &ann, &pen, 1).await;
        add(&app, &ann, &pen, 1).await;
        order_id(&place(&app, &ann, json!({ "shippingAddress": "X" })).await);
        let prepared = app.state.db.prepared_statements();
        let kept = |start: &str, table: &str| {
            prepared
                .iter()
                .any(|sql| sql.starts_with(start) && sql.contains(table))
        };
        // PostgreSQL takes all lines' stock and writes the order in one statement each.
        let postgres = app.config.database.database_url.starts_with("postgres");
        let (stock, order) = match postgres {
            true => (
                ("WITH wanted", "UPDATE products"),
                ("WITH new_order", "INSERT INTO orders"),
            ),
            false => (("UPDATE", "products"), ("INSERT", "orders")),
        };
        assert!(kept(stock.0, stock.1), "stock UPDATE: {prepared:#?}");
        assert!(kept("INSERT", "cart_items"), "cart upsert: {prepared:#?}");
        assert!(kept(order.0, order.1), "order INSERT: {prepared:#?}");
    }
);

backend_test!(
    the_cart_id_is_stable_per_customer,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let (ann, _, _) = app.register("ann@example.com").await;
        let (bob, _, _) = app.register("bob@example.com").await;
        let pen = app.product(&admin, "Pen", "2.50", 5).await;
        let cart_id = |body: Value| body["data"]["cart"]["id"].as_str().unwrap().to_owned();

        let first = cart_id(app.gql("{ cart { id } }", json!({}), Some(&ann)).await);
        let added = app
            .gql(
                "mutation($p: ID!) { addToCart(input: {productId: $p}) { cart { id totalQuantity } } }",
                json!({ "p": pen }),
                Some(&ann),
            )
            .await;
        assert_eq!(added["data"]["addToCart"]["cart"]["id"], first.as_str());
        let again = app.login("ann@example.com", crate::helpers::PASSWORD).await;
        assert_eq!(
            cart_id(app.gql("{ cart { id } }", json!({}), Some(&again)).await),
            first
        );
        let order = place(
            &app,
            &ann,
            json!({ "shippingAddress": "1 Main St", "paymentMethod": "CASH_ON_DELIVERY" }),
        )
        .await;
        order_id(&order);
        assert_eq!(
            cart_id(app.gql("{ cart { id } }", json!({}), Some(&ann)).await),
            first
        );
        assert_ne!(
            cart_id(app.gql("{ cart { id } }", json!({}), Some(&bob)).await),
            first
        );
    }
);

backend_test!(
    a_corrupt_status_fails_loudly_instead_of_reading_as_pending,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let (ann, _, _) = app.register("ann@example.com").await;
        let pen = app.product(&admin, "Pen", "2.50", 5).await;
        let order = app
            .order(&ann, &pen, 1, json!({ "shippingAddress": "1 Main St" }))
            .await;
        // Past the CHECK constraint, as a bad migration or a hand edit could.
        let corrupt = if app.config.database.database_url.starts_with("postgres") {
            "DO $$ DECLARE c text; BEGIN
               FOR c IN SELECT conname FROM pg_constraint
                        WHERE conrelid = 'orders'::regclass AND contype = 'c' LOOP
                 EXECUTE format('ALTER TABLE orders DROP CONSTRAINT %I', c);
               END LOOP; END $$;
             UPDATE orders SET status = 'BOGUS';"
        } else {
            "PRAGMA ignore_check_constraints = ON; UPDATE orders SET status = 'BOGUS';"
        };
        app.execute_sql(corrupt).await;
        let body = app
            .gql(
                "query($id: ID!) { order(id: $id) { status } }",
                json!({ "id": order }),
                Some(&ann),
            )
            .await;
        assert_eq!(error_code(&body), "INTERNAL_SERVER_ERROR", "{body}");
        assert!(
            !body.to_string().contains("BOGUS"),
            "the row's text stays in the log: {body}"
        );
    }
);

// Set-based checkout: on PostgreSQL the stock of every line is taken by one statement,
// so an order costs the same number of statements whatever its number of lines; SQLite
// runs in-process and takes each line with its own two statements (product, variant).
backend_test!(
    checkout_statements_do_not_grow_with_the_lines_on_postgres,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let mut costs = Vec::new();
        for lines in [1, 3, 8] {
            let (buyer, _, _) = app.register(&format!("buyer{lines}@example.com")).await;
            for i in 0..lines {
                let product = app
                    .product(&admin, &format!("P{lines}-{i}"), "2.50", 10)
                    .await;
                add(&app, &buyer, &product, 2).await;
            }
            // Warm: the buyer's row is in the viewer cache before counting.
            app.gql(CART, json!({}), Some(&buyer)).await;
            let before = app.state.db.statement_count();
            let order = app
                .place_order(&buyer, json!({ "shippingAddress": "X" }))
                .await;
            costs.push(app.state.db.statement_count() - before);
            let placed = app
                .gql(
                    "query($id: ID!) { order(id: $id) { itemCount totalAmount } }",
                    json!({ "id": order }),
                    Some(&buyer),
                )
                .await;
            assert_eq!(placed["data"]["order"]["itemCount"], lines * 2, "{placed}");
            assert_eq!(
                placed["data"]["order"]["totalAmount"],
                format!("{}.00", lines * 5),
                "{placed}"
            );
        }
        if app.config.database.database_url.starts_with("postgres") {
            // BEGIN, the cart, the stock of all lines, the cart's coupon, the order with
            // its lines and payment, its mail, its event, COMMIT; then the event's NOTIFY.
            assert_eq!(costs, [9, 9, 9]);
        } else {
            // Per line: its product's stock, its variant's, its order line.
            assert_eq!(
                [costs[1] - costs[0], costs[2] - costs[1]],
                [6, 15],
                "{costs:?}"
            );
        }
    }
);

// Carts over the same products, filled in different orders, checked out at once: the
// products are always locked in one order (no deadlock), and the scarce product sells
// exactly its stock while the other lines of refused orders are given back untouched.
backend_test!(
    racing_multi_line_checkouts_sell_exactly_the_stock,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let plenty = app.product(&admin, "Plenty", "1.00", 100).await;
        let scarce = app.product(&admin, "Scarce", "2.00", 7).await;
        let more = app.product(&admin, "More", "3.00", 100).await;
        let mut buyers = Vec::new();
        for i in 0..18 {
            let (buyer, _, _) = app.register(&format!("racer{i}@example.com")).await;
            let mut products = [&plenty, &scarce, &more];
            products.rotate_left(i % 3);
            for product in products {
                add(&app, &buyer, product, 1).await;
            }
            buyers.push(buyer);
        }
        let results = join_all(
            buyers
                .iter()
                .map(|t| place(&app, t, json!({ "shippingAddress": "X" }))),
        )
        .await;
        let sold = results
            .iter()
            .filter(|b| b["data"]["placeOrder"]["order"]["itemCount"] == 3)
            .count();
        let refused = results
            .iter()
            .filter(|b| user_error_code(b, "placeOrder") == "INSUFFICIENT_STOCK")
            .count();
        assert_eq!((sold, refused), (7, 11), "{results:?}");
        assert_eq!(stock(&app, &admin, &scarce).await, 0);
        assert_eq!(stock(&app, &admin, &plenty).await, 93);
        assert_eq!(stock(&app, &admin, &more).await, 93);
    }
);
