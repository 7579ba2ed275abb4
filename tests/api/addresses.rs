//! Customers v2: the address book and orders that copy an address, written from the
//! contract and the behaviour rules.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{TestApp, backend_test, error_code, global_id, user_error_code};

const FIELDS: &str = "id fullName line1 line2 city region postalCode countryCode phone isDefault";
const ADD: &str = "mutation($input: AddAddressInput!) { addAddress(input: $input) {
    address { id fullName line1 line2 city region postalCode countryCode phone isDefault }
    user { addresses { id } } userErrors { field code message } } }";
const UPDATE: &str = "mutation($input: UpdateAddressInput!) { updateAddress(input: $input) {
    address { id fullName countryCode isDefault } userErrors { field code } } }";
const DELETE: &str = "mutation($id: ID!) { deleteAddress(input: {id: $id}) {
    deletedAddressId user { defaultAddress { id } } userErrors { field code } } }";
const SET_DEFAULT: &str = "mutation($id: ID!) { setDefaultAddress(input: {id: $id}) {
    address { id isDefault } userErrors { field code } } }";
const PLACE: &str = "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
    order { id shippingAddress address { fullName line1 line2 city region postalCode countryCode phone } }
    userErrors { field code message } } }";

fn address(name: &str) -> Value {
    json!({ "fullName": name, "line1": "1 Main Street", "city": "Springfield",
        "postalCode": "12345", "countryCode": "US" })
}

async fn add(app: &TestApp, token: &str, address: Value, is_default: bool) -> Value {
    let input = json!({ "input": { "address": address, "isDefault": is_default } });
    app.gql(ADD, input, Some(token)).await
}

/// Adds an address; returns its id.
async fn saved(app: &TestApp, token: &str, name: &str, is_default: bool) -> String {
    let body = add(app, token, address(name), is_default).await;
    body["data"]["addAddress"]["address"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("address not added: {body}"))
        .to_owned()
}

/// The viewer's address book as (fullName, isDefault), and the default's name.
async fn book(app: &TestApp, token: &str) -> (Vec<(String, bool)>, Option<String>) {
    let query = format!("{{ me {{ addresses {{ {FIELDS} }} defaultAddress {{ fullName }} }} }}");
    let body = app.gql(&query, json!({}), Some(token)).await;
    let me = &body["data"]["me"];
    let list = me["addresses"]
        .as_array()
        .unwrap_or_else(|| panic!("no addresses: {body}"))
        .iter()
        .map(|a| {
            (
                a["fullName"].as_str().unwrap().to_owned(),
                a["isDefault"] == true,
            )
        })
        .collect();
    let default = me["defaultAddress"]["fullName"].as_str().map(str::to_owned);
    (list, default)
}

fn pairs(list: &[(&str, bool)]) -> Vec<(String, bool)> {
    list.iter().map(|(n, d)| ((*n).to_owned(), *d)).collect()
}

backend_test!(
    the_first_address_is_the_default_and_there_is_never_more_than_one,
    |app: TestApp| async move {
        let ann = app.customer("ann@example.com").await;
        assert_eq!(book(&app, &ann).await, (vec![], None));
        let a = saved(&app, &ann, "A", false).await;
        let b = saved(&app, &ann, "B", false).await;
        assert_eq!(
            book(&app, &ann).await.0,
            pairs(&[("A", true), ("B", false)])
        );
        let c = saved(&app, &ann, "C", true).await;
        let (list, default) = book(&app, &ann).await;
        assert_eq!(list, pairs(&[("C", true), ("B", false), ("A", false)]));
        assert_eq!(default.as_deref(), Some("C"));

        let body = app.gql(SET_DEFAULT, json!({ "id": a }), Some(&ann)).await;
        assert_eq!(
            body["data"]["setDefaultAddress"]["address"]["isDefault"], true,
            "{body}"
        );
        assert_eq!(
            book(&app, &ann).await.0,
            pairs(&[("A", true), ("C", false), ("B", false)])
        );

        // Deleting the default makes the newest remaining one the default.
        let body = app.gql(DELETE, json!({ "id": a }), Some(&ann)).await;
        assert_eq!(
            body["data"]["deleteAddress"]["deletedAddressId"],
            json!(a),
            "{body}"
        );
        assert_eq!(
            body["data"]["deleteAddress"]["user"]["defaultAddress"]["id"],
            json!(c)
        );
        assert_eq!(
            book(&app, &ann).await.0,
            pairs(&[("C", true), ("B", false)])
        );
        // Deleting another keeps the default.
        app.gql(DELETE, json!({ "id": b }), Some(&ann)).await;
        assert_eq!(book(&app, &ann).await.0, pairs(&[("C", true)]));
        app.gql(DELETE, json!({ "id": c }), Some(&ann)).await;
        assert_eq!(book(&app, &ann).await, (vec![], None));
        // An update keeps the default flag and the id.
        let d = saved(&app, &ann, "D", false).await;
        let input = json!({ "input": { "id": d, "address": address("D2") } });
        let body = app.gql(UPDATE, input, Some(&ann)).await;
        let updated = &body["data"]["updateAddress"]["address"];
        assert_eq!(
            (updated["id"].clone(), updated["isDefault"].clone()),
            (json!(d), json!(true)),
            "{body}"
        );
        assert_eq!(book(&app, &ann).await.0, pairs(&[("D2", true)]));
    }
);

backend_test!(
    address_fields_are_trimmed_and_checked,
    |app: TestApp| async move {
        let ann = app.customer("ann@example.com").await;
        let body = add(
            &app,
            &ann,
            json!({ "fullName": "  Ann Lee ", "line1": " 1 Main St ", "line2": "  ",
                "city": " Lyon ", "region": " Rhône ", "postalCode": " 69001 ",
                "countryCode": " fr ", "phone": " +33 (0)4 12-34 " }),
            false,
        )
        .await;
        let saved = &body["data"]["addAddress"]["address"];
        assert_eq!(saved["fullName"], "Ann Lee", "{body}");
        assert_eq!(saved["line1"], "1 Main St");
        assert_eq!(saved["line2"], Value::Null);
        assert_eq!(saved["city"], "Lyon");
        assert_eq!(saved["region"], "Rhône");
        assert_eq!(saved["postalCode"], "69001");
        assert_eq!(saved["countryCode"], "FR");
        assert_eq!(saved["phone"], "+33 (0)4 12-34");

        let long = "x".repeat(101);
        let bad = [
            ("countryCode", json!("XX")),
            ("countryCode", json!("USA")),
            ("countryCode", json!("")),
            ("fullName", json!("   ")),
            ("fullName", json!(long)),
            ("line1", json!("")),
            ("line2", json!(long)),
            ("city", json!("a\u{7}b")),
            ("region", json!(long)),
            ("postalCode", json!("1".repeat(21))),
            ("postalCode", json!(" ")),
            ("phone", json!("call me")),
        ];
        for (field, value) in bad {
            let mut input = address("Bob");
            input[field] = value.clone();
            let body = add(&app, &ann, input, false).await;
            assert_eq!(
                user_error_code(&body, "addAddress"),
                "INVALID_INPUT",
                "{field}={value}: {body}"
            );
            assert_eq!(
                body["data"]["addAddress"]["userErrors"][0]["field"],
                json!(["input", "address", field]),
                "{body}"
            );
        }
        assert_eq!(
            book(&app, &ann).await.0.len(),
            1,
            "no bad address was saved"
        );
    }
);

backend_test!(
    an_address_book_holds_at_most_20_even_under_concurrent_adds,
    |app: TestApp| async move {
        let ann = app.customer("ann@example.com").await;
        for i in 0..17 {
            saved(&app, &ann, &format!("A{i}"), false).await;
        }
        let racing =
            join_all((0..6).map(|i| add(&app, &ann, address(&format!("R{i}")), true))).await;
        let refused = racing
            .iter()
            .filter(|b| user_error_code(b, "addAddress") == "ADDRESS_LIMIT")
            .count();
        assert_eq!(refused, 3, "6 adds at 17 addresses: 3 fit: {racing:?}");
        let (list, _) = book(&app, &ann).await;
        assert_eq!(list.len(), 20);
        assert_eq!(
            list.iter().filter(|(_, d)| *d).count(),
            1,
            "one default: {list:?}"
        );
    }
);

backend_test!(
    addresses_are_their_owners_and_admins_cannot_write_them,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        let bob = app.customer("bob@example.com").await;
        let anns = saved(&app, &ann, "Ann", false).await;
        saved(&app, &bob, "Bob", false).await;

        let update = json!({ "input": { "id": anns, "address": address("Mallory") } });
        let body = app.gql(UPDATE, update.clone(), Some(&bob)).await;
        assert_eq!(
            user_error_code(&body, "updateAddress"),
            "NOT_FOUND",
            "{body}"
        );
        let body = app.gql(DELETE, json!({ "id": anns }), Some(&bob)).await;
        assert_eq!(user_error_code(&body, "deleteAddress"), "NOT_FOUND");
        let body = app
            .gql(SET_DEFAULT, json!({ "id": anns }), Some(&bob))
            .await;
        assert_eq!(user_error_code(&body, "setDefaultAddress"), "NOT_FOUND");
        let node = "query($id: ID!) { node(id: $id) { ... on Address { fullName } } }";
        let body = app.gql(node, json!({ "id": anns }), Some(&bob)).await;
        assert_eq!(body["data"]["node"], Value::Null, "{body}");
        let body = app.gql(node, json!({ "id": anns }), Some(&ann)).await;
        assert_eq!(body["data"]["node"]["fullName"], "Ann");
        let missing = global_id("Address", 999_999);
        let body = app.gql(DELETE, json!({ "id": missing }), Some(&ann)).await;
        assert_eq!(user_error_code(&body, "deleteAddress"), "NOT_FOUND");
        assert_eq!(book(&app, &ann).await.0, pairs(&[("Ann", true)]));

        for token in [Some(admin.as_str()), None] {
            let expected = if token.is_some() {
                "FORBIDDEN"
            } else {
                "UNAUTHENTICATED"
            };
            let body = add_as(&app, token, address("X")).await;
            assert_eq!(error_code(&body), expected, "{body}");
            let body = app.gql(UPDATE, update.clone(), token).await;
            assert_eq!(error_code(&body), expected, "{body}");
            let body = app.gql(DELETE, json!({ "id": anns }), token).await;
            assert_eq!(error_code(&body), expected, "{body}");
            let body = app.gql(SET_DEFAULT, json!({ "id": anns }), token).await;
            assert_eq!(error_code(&body), expected, "{body}");
        }
        // Admins see a customer's addresses.
        let users = "{ users(first: 10) { nodes { email addresses { fullName } defaultAddress { fullName } } } }";
        let body = app.gql(users, json!({}), Some(&admin)).await;
        let nodes = body["data"]["users"]["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"));
        let ann_row = nodes
            .iter()
            .find(|u| u["email"] == "ann@example.com")
            .unwrap();
        assert_eq!(ann_row["addresses"], json!([{ "fullName": "Ann" }]));
        assert_eq!(ann_row["defaultAddress"]["fullName"], "Ann");
    }
);

async fn add_as(app: &TestApp, token: Option<&str>, address: Value) -> Value {
    app.gql(ADD, json!({ "input": { "address": address } }), token)
        .await
}

backend_test!(
    orders_copy_a_saved_or_given_address_and_keep_it,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        let bob = app.customer("bob@example.com").await;
        let lamp = app.product(&admin, "Lamp", "10.00", 10).await;
        let home = {
            let mut home = address("Ann Lee");
            home["line2"] = json!("Flat 2");
            home["region"] = json!("IL");
            home["phone"] = json!("+1 555 0100");
            let body = add(&app, &ann, home, false).await;
            body["data"]["addAddress"]["address"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let bobs = saved(&app, &bob, "Bob", false).await;
        app.add_to_cart(&ann, &lamp, 1).await;

        // Exactly one destination: none, or two, is INVALID_INPUT on the input.
        for input in [
            json!({}),
            json!({ "shippingAddress": "1 Road", "addressId": home }),
            json!({ "addressId": home, "address": address("X") }),
        ] {
            let body = app.gql(PLACE, json!({ "input": input }), Some(&ann)).await;
            assert_eq!(
                user_error_code(&body, "placeOrder"),
                "INVALID_INPUT",
                "{input}: {body}"
            );
            assert_eq!(
                body["data"]["placeOrder"]["userErrors"][0]["field"],
                json!(["input"])
            );
        }
        // Another customer's address is NOT_FOUND; a bad inline one names its field.
        let body = app
            .gql(PLACE, json!({ "input": { "addressId": bobs } }), Some(&ann))
            .await;
        assert_eq!(user_error_code(&body, "placeOrder"), "NOT_FOUND", "{body}");
        assert_eq!(
            body["data"]["placeOrder"]["userErrors"][0]["field"],
            json!(["input", "addressId"])
        );
        let mut bad = address("X");
        bad["countryCode"] = json!("ZZ");
        let body = app
            .gql(PLACE, json!({ "input": { "address": bad } }), Some(&ann))
            .await;
        assert_eq!(
            body["data"]["placeOrder"]["userErrors"][0]["field"],
            json!(["input", "address", "countryCode"]),
            "{body}"
        );
        let cart = app
            .gql("{ cart { totalQuantity } }", json!({}), Some(&ann))
            .await;
        assert_eq!(
            cart["data"]["cart"]["totalQuantity"], 1,
            "nothing was taken"
        );

        let body = app
            .gql(PLACE, json!({ "input": { "addressId": home } }), Some(&ann))
            .await;
        let order = body["data"]["placeOrder"]["order"].clone();
        let copied = json!({ "fullName": "Ann Lee", "line1": "1 Main Street", "line2": "Flat 2",
            "city": "Springfield", "region": "IL", "postalCode": "12345", "countryCode": "US",
            "phone": "+1 555 0100" });
        assert_eq!(order["address"], copied, "{body}");
        assert_eq!(
            order["shippingAddress"],
            "Ann Lee, 1 Main Street, Flat 2, 12345 Springfield, IL, US, +1 555 0100"
        );
        // Editing and deleting the saved address never changes the order.
        let update = json!({ "input": { "id": home, "address": address("Someone Else") } });
        app.gql(UPDATE, update, Some(&ann)).await;
        app.gql(DELETE, json!({ "id": home }), Some(&ann)).await;
        let query = "query($id: ID!) { node(id: $id) { ... on Order { shippingAddress address { fullName line1 line2 city region postalCode countryCode phone } } } }";
        let again = app
            .gql(query, json!({ "id": order["id"] }), Some(&ann))
            .await;
        assert_eq!(again["data"]["node"]["address"], copied, "{again}");

        // An address for this order only, and the v1 free text (no structured address).
        app.add_to_cart(&ann, &lamp, 1).await;
        let mut once = address("  Gift For Bob ");
        once["countryCode"] = json!("gb");
        let body = app
            .gql(PLACE, json!({ "input": { "address": once } }), Some(&ann))
            .await;
        let order = &body["data"]["placeOrder"]["order"];
        assert_eq!(order["address"]["fullName"], "Gift For Bob", "{body}");
        assert_eq!(order["address"]["countryCode"], "GB");
        assert_eq!(
            order["shippingAddress"],
            "Gift For Bob, 1 Main Street, 12345 Springfield, GB"
        );
        assert_eq!(
            book(&app, &ann).await.0,
            vec![],
            "an inline address is not saved"
        );
        app.add_to_cart(&ann, &lamp, 1).await;
        let body = app
            .gql(
                PLACE,
                json!({ "input": { "shippingAddress": " 9 Elm Road " } }),
                Some(&ann),
            )
            .await;
        let order = &body["data"]["placeOrder"]["order"];
        assert_eq!(order["shippingAddress"], "9 Elm Road", "{body}");
        assert_eq!(order["address"], Value::Null);
    }
);
