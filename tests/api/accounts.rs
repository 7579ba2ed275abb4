//! Accounts and sessions, as behaviour.md describes them.

use serde_json::json;

use crate::helpers::{
    LOGIN, PASSWORD, REGISTER, TestApp, backend_test, error_code, user_error_code,
};

const ME: &str = "{ me { id email firstName lastName phone role isActive } }";
const REFRESH: &str = "mutation($t: String!) { refreshToken(input: {refreshToken: $t}) {
    accessToken refreshToken user { email } userErrors { field code message } } }";
const LOGOUT: &str =
    "mutation($t: String!, $all: Boolean) { logout(input: {refreshToken: $t, everywhere: $all}) {
    success userErrors { code } } }";
const USERS: &str =
    "query($first: Int, $after: String, $last: Int, $before: String, $filter: UserFilter) {
    users(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
      totalCount edges { cursor node { id email role isActive } } nodes { email }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";

fn registration(email: &str, password: &str, confirmation: &str) -> serde_json::Value {
    json!({ "input": { "email": email, "password": password, "passwordConfirmation": confirmation,
        "firstName": "Ann", "lastName": "Lee" } })
}

async fn user_count(app: &TestApp, admin: &str) -> i64 {
    let body = app
        .gql("{ users { totalCount } }", json!({}), Some(admin))
        .await;
    body["data"]["users"]["totalCount"]
        .as_i64()
        .unwrap_or_else(|| panic!("{body}"))
}

backend_test!(
    register_returns_user_and_working_tokens,
    |app: TestApp| async move {
        let body = app
            .gql(
                REGISTER,
                registration("  Ann.Lee@Example.COM ", PASSWORD, PASSWORD),
                None,
            )
            .await;
        let payload = &body["data"]["register"];
        let utc = || {
            insta::dynamic_redaction(|value, _| {
                let time = value.as_str().unwrap_or_default();
                assert!(time.ends_with('Z'), "a UTC time: {value:?}");
                "[time]"
            })
        };
        insta::assert_json_snapshot!("registered", payload, {
            ".accessToken" => "[token]",
            ".refreshToken" => "[token]",
            ".accessTokenExpiresAt" => utc(),
            ".refreshTokenExpiresAt" => utc(),
            ".user.id" => "[id]",
            ".user.createdAt" => utc(),
        });
        let token = payload["accessToken"].as_str().unwrap();
        let me = app.gql(ME, json!({}), Some(token)).await;
        assert_eq!(me["data"]["me"]["email"], "ann.lee@example.com");
        assert_eq!(me["data"]["me"]["id"], payload["user"]["id"]);
    }
);

backend_test!(
    register_rejects_bad_input_and_changes_nothing,
    |app: TestApp| async move {
        let admin = app.admin("admin@example.com").await;
        app.register("taken@example.com").await;
        let before = user_count(&app, &admin).await;
        let long_password = "a".repeat(73);
        let cases = [
            (
                registration("not-an-email", PASSWORD, PASSWORD),
                "INVALID_INPUT",
                "email",
            ),
            (
                registration(
                    &format!("{}@example.com", "a".repeat(250)),
                    PASSWORD,
                    PASSWORD,
                ),
                "INVALID_INPUT",
                "email",
            ),
            (
                registration("TAKEN@example.com", PASSWORD, PASSWORD),
                "EMAIL_TAKEN",
                "email",
            ),
            (
                registration("new@example.com", PASSWORD, "something else"),
                "PASSWORD_MISMATCH",
                "passwordConfirmation",
            ),
            (
                registration("new@example.com", "short1", "short1"),
                "PASSWORD_TOO_WEAK",
                "password",
            ),
            (
                registration("new@example.com", "1234567890", "1234567890"),
                "PASSWORD_TOO_WEAK",
                "password",
            ),
            (
                registration("new@example.com", "new@example.com", "new@example.com"),
                "PASSWORD_TOO_WEAK",
                "password",
            ),
            (
                registration("new@example.com", "iloveyou", "iloveyou"),
                "PASSWORD_TOO_WEAK",
                "password",
            ),
            (
                registration("new@example.com", &long_password, &long_password),
                "INVALID_INPUT",
                "password",
            ),
        ];
        for (variables, code, field) in cases {
            let body = app.gql(REGISTER, variables.clone(), None).await;
            assert_eq!(
                user_error_code(&body, "register"),
                code,
                "{variables} -> {body}"
            );
            assert_eq!(
                body["data"]["register"]["userErrors"][0]["field"],
                json!(["input", field]),
                "{body}"
            );
            assert_eq!(body["data"]["register"]["user"], json!(null));
            assert_eq!(body["data"]["register"]["accessToken"], json!(null));
        }
        let mut bad_names = registration("new@example.com", PASSWORD, PASSWORD);
        bad_names["input"]["firstName"] = json!("   ");
        let body = app.gql(REGISTER, bad_names, None).await;
        assert_eq!(user_error_code(&body, "register"), "INVALID_INPUT");
        let mut bad_phone = registration("new@example.com", PASSWORD, PASSWORD);
        bad_phone["input"]["phone"] = json!("call me maybe");
        let body = app.gql(REGISTER, bad_phone, None).await;
        assert_eq!(user_error_code(&body, "register"), "INVALID_INPUT");
        assert_eq!(user_count(&app, &admin).await, before);
    }
);

backend_test!(
    login_gives_one_answer_for_unknown_email_and_wrong_password,
    |app: TestApp| async move {
        app.register("bob@example.com").await;
        let ok = app
            .gql(
                LOGIN,
                json!({ "input": { "email": " BOB@example.com", "password": PASSWORD } }),
                None,
            )
            .await;
        assert!(ok["data"]["login"]["accessToken"].is_string(), "{ok}");
        let wrong = app
            .gql(
                LOGIN,
                json!({ "input": { "email": "bob@example.com", "password": "wrong password" } }),
                None,
            )
            .await;
        let unknown = app
            .gql(
                LOGIN,
                json!({ "input": { "email": "nobody@example.com", "password": PASSWORD } }),
                None,
            )
            .await;
        assert_eq!(user_error_code(&wrong, "login"), "INVALID_CREDENTIALS");
        assert_eq!(
            wrong["data"]["login"]["userErrors"],
            unknown["data"]["login"]["userErrors"]
        );
        assert_eq!(wrong["data"]["login"]["accessToken"], json!(null));
    }
);

backend_test!(
    refresh_rotates_and_detects_reuse,
    |app: TestApp| async move {
        let (_, first, _) = app.register("carol@example.com").await;
        let body = app.gql(REFRESH, json!({ "t": first }), None).await;
        let second = body["data"]["refreshToken"]["refreshToken"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_ne!(second, first);
        let access = body["data"]["refreshToken"]["accessToken"]
            .as_str()
            .unwrap();
        assert_eq!(
            app.gql(ME, json!({}), Some(access)).await["data"]["me"]["email"],
            "carol@example.com"
        );

        // The rotated token is refused, and presenting it revokes the whole session.
        let reuse = app.gql(REFRESH, json!({ "t": first }), None).await;
        assert_eq!(user_error_code(&reuse, "refreshToken"), "INVALID_TOKEN");
        let after = app.gql(REFRESH, json!({ "t": second }), None).await;
        assert_eq!(
            user_error_code(&after, "refreshToken"),
            "INVALID_TOKEN",
            "{after}"
        );

        let garbage = app.gql(REFRESH, json!({ "t": "not-a-token" }), None).await;
        assert_eq!(user_error_code(&garbage, "refreshToken"), "INVALID_TOKEN");
    }
);

backend_test!(
    logout_revokes_one_session_or_all,
    |app: TestApp| async move {
        let (_, one, _) = app.register("dan@example.com").await;
        let login = app
            .gql(
                LOGIN,
                json!({ "input": { "email": "dan@example.com", "password": PASSWORD } }),
                None,
            )
            .await;
        let two = login["data"]["login"]["refreshToken"]
            .as_str()
            .unwrap()
            .to_owned();
        let login = app
            .gql(
                LOGIN,
                json!({ "input": { "email": "dan@example.com", "password": PASSWORD } }),
                None,
            )
            .await;
        let three = login["data"]["login"]["refreshToken"]
            .as_str()
            .unwrap()
            .to_owned();

        let out = app.gql(LOGOUT, json!({ "t": one }), None).await;
        assert_eq!(out["data"]["logout"]["success"], true, "{out}");
        assert_eq!(
            user_error_code(
                &app.gql(REFRESH, json!({ "t": one }), None).await,
                "refreshToken"
            ),
            "INVALID_TOKEN"
        );
        let still = app.gql(REFRESH, json!({ "t": two }), None).await;
        let two = still["data"]["refreshToken"]["refreshToken"]
            .as_str()
            .expect("other session lives")
            .to_owned();

        let all = app
            .gql(LOGOUT, json!({ "t": three, "all": true }), None)
            .await;
        assert_eq!(all["data"]["logout"]["success"], true);
        assert_eq!(
            user_error_code(
                &app.gql(REFRESH, json!({ "t": two }), None).await,
                "refreshToken"
            ),
            "INVALID_TOKEN"
        );

        let unknown = app.gql(LOGOUT, json!({ "t": "nope" }), None).await;
        assert_eq!(unknown["data"]["logout"]["success"], false);
        assert_eq!(user_error_code(&unknown, "logout"), "INVALID_TOKEN");
    }
);

backend_test!(me_and_bad_tokens, |app: TestApp| async move {
    let anonymous = app.gql(ME, json!({}), None).await;
    assert_eq!(anonymous["data"]["me"], json!(null));
    assert!(anonymous["errors"].is_null());
    for token in ["garbage", "eyJhbGciOiJub25lIn0.eyJzdWIiOjF9.", ""] {
        let body = app.gql(ME, json!({}), Some(token)).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{token}: {body}");
    }
    // Operations that need no user ignore a bad header.
    let body = app
        .gql(
            LOGIN,
            json!({ "input": { "email": "x@example.com", "password": PASSWORD } }),
            Some("garbage"),
        )
        .await;
    assert_eq!(user_error_code(&body, "login"), "INVALID_CREDENTIALS");
});

backend_test!(
    update_profile_validates_and_clears_phone,
    |app: TestApp| async move {
        let (token, _, _) = app.register("erin@example.com").await;
        let update = "mutation($input: UpdateProfileInput!) { updateProfile(input: $input) {
        user { firstName lastName phone } userErrors { field code } } }";
        let body = app
            .gql(
                update,
                json!({ "input": { "firstName": " Erin ", "phone": "+1 (555) 010-0000" } }),
                Some(&token),
            )
            .await;
        assert_eq!(
            body["data"]["updateProfile"]["user"],
            json!({ "firstName": "Erin", "lastName": "User", "phone": "+1 (555) 010-0000" })
        );
        let body = app
            .gql(update, json!({ "input": { "phone": "" } }), Some(&token))
            .await;
        assert_eq!(body["data"]["updateProfile"]["user"]["phone"], json!(null));
        let body = app
            .gql(
                update,
                json!({ "input": { "lastName": "x".repeat(101) } }),
                Some(&token),
            )
            .await;
        assert_eq!(user_error_code(&body, "updateProfile"), "INVALID_INPUT");
        assert_eq!(
            body["data"]["updateProfile"]["userErrors"][0]["field"],
            json!(["input", "lastName"])
        );
        let me = app.gql(ME, json!({}), Some(&token)).await;
        assert_eq!(me["data"]["me"]["lastName"], "User");
        let anonymous = app
            .gql(update, json!({ "input": { "firstName": "X" } }), None)
            .await;
        assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
    }
);

backend_test!(
    change_password_revokes_every_session,
    |app: TestApp| async move {
        let (token, refresh, _) = app.register("fay@example.com").await;
        let change = "mutation($input: ChangePasswordInput!) { changePassword(input: $input) {
        accessToken refreshToken userErrors { field code } } }";
        let wrong = app
        .gql(change, json!({ "input": { "currentPassword": "nope nope", "newPassword": "a fresh secret" } }), Some(&token))
        .await;
        assert_eq!(
            user_error_code(&wrong, "changePassword"),
            "INVALID_CREDENTIALS"
        );
        let weak = app
            .gql(
                change,
                json!({ "input": { "currentPassword": PASSWORD, "newPassword": "password" } }),
                Some(&token),
            )
            .await;
        assert_eq!(
            user_error_code(&weak, "changePassword"),
            "PASSWORD_TOO_WEAK"
        );
        let ok = app
        .gql(change, json!({ "input": { "currentPassword": PASSWORD, "newPassword": "a fresh secret" } }), Some(&token))
        .await;
        let new_refresh = ok["data"]["changePassword"]["refreshToken"]
            .as_str()
            .expect("new pair")
            .to_owned();
        assert_eq!(
            user_error_code(
                &app.gql(REFRESH, json!({ "t": refresh }), None).await,
                "refreshToken"
            ),
            "INVALID_TOKEN"
        );
        let fresh = app.gql(REFRESH, json!({ "t": new_refresh }), None).await;
        assert!(
            fresh["data"]["refreshToken"]["accessToken"].is_string(),
            "{fresh}"
        );
        app.login("fay@example.com", "a fresh secret").await;
        let old = app
            .gql(
                LOGIN,
                json!({ "input": { "email": "fay@example.com", "password": PASSWORD } }),
                None,
            )
            .await;
        assert_eq!(user_error_code(&old, "login"), "INVALID_CREDENTIALS");
    }
);

backend_test!(
    users_connection_is_admin_only_and_pages_by_keyset,
    |app: TestApp| async move {
        let admin = app.admin("root@example.com").await;
        let (customer, _, _) = app.register("c0@example.com").await;
        for i in 1..7 {
            app.register(&format!("c{i}@example.com")).await;
        }
        assert_eq!(
            error_code(&app.gql(USERS, json!({}), Some(&customer)).await),
            "FORBIDDEN"
        );
        assert_eq!(
            error_code(&app.gql(USERS, json!({}), None).await),
            "UNAUTHENTICATED"
        );

        // Newest first, three at a time, forwards then backwards: no gaps, no duplicates.
        let mut seen = Vec::new();
        let mut after = json!(null);
        loop {
            let body = app
                .gql(USERS, json!({ "first": 3, "after": after }), Some(&admin))
                .await;
            let conn = &body["data"]["users"];
            assert_eq!(conn["totalCount"], 8, "{body}");
            for edge in conn["edges"].as_array().unwrap() {
                seen.push(edge["node"]["email"].as_str().unwrap().to_owned());
            }
            if conn["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = conn["pageInfo"]["endCursor"].clone();
        }
        let mut expected: Vec<String> = (0..7).rev().map(|i| format!("c{i}@example.com")).collect();
        expected.push("root@example.com".to_owned());
        assert_eq!(seen, expected);

        let last = app.gql(USERS, json!({ "last": 2 }), Some(&admin)).await;
        let nodes = &last["data"]["users"]["nodes"];
        assert_eq!(
            nodes,
            &json!([{ "email": "c0@example.com" }, { "email": "root@example.com" }])
        );
        assert_eq!(last["data"]["users"]["pageInfo"]["hasPreviousPage"], true);
        let before = last["data"]["users"]["pageInfo"]["startCursor"].clone();
        let prev = app
            .gql(USERS, json!({ "last": 2, "before": before }), Some(&admin))
            .await;
        assert_eq!(
            prev["data"]["users"]["nodes"],
            json!([{ "email": "c2@example.com" }, { "email": "c1@example.com" }])
        );

        let filtered = app
            .gql(
                USERS,
                json!({ "filter": { "search": "C3@EX", "role": "CUSTOMER", "isActive": true } }),
                Some(&admin),
            )
            .await;
        assert_eq!(
            filtered["data"]["users"]["nodes"],
            json!([{ "email": "c3@example.com" }])
        );
        assert_eq!(filtered["data"]["users"]["totalCount"], 1);
        let literal = app
            .gql(USERS, json!({ "filter": { "search": "%" } }), Some(&admin))
            .await;
        assert_eq!(literal["data"]["users"]["totalCount"], 0, "% is literal");

        for bad in [
            json!({ "first": 101 }),
            json!({ "first": -1 }),
            json!({ "first": 1, "last": 1 }),
            json!({ "after": "!!" }),
        ] {
            let body = app.gql(USERS, bad.clone(), Some(&admin)).await;
            assert_eq!(error_code(&body), "BAD_USER_INPUT", "{bad}: {body}");
        }
    }
);

const SET_ROLE: &str =
    "mutation($id: ID!, $role: Role!) { setUserRole(input: {userId: $id, role: $role}) {
    user { id role } userErrors { field code } } }";
const SET_ACTIVE: &str =
    "mutation($id: ID!, $on: Boolean!) { setUserActive(input: {userId: $id, isActive: $on}) {
    user { isActive } userErrors { field code } } }";

backend_test!(
    roles_and_deactivation_apply_at_once,
    |app: TestApp| async move {
        let admin = app.admin("boss@example.com").await;
        let admin_id = app.gql(ME, json!({}), Some(&admin)).await["data"]["me"]["id"].clone();
        let (token, refresh, id) = app.register("gus@example.com").await;

        // Promotion takes effect on the token the user already holds.
        assert_eq!(
            error_code(&app.gql(USERS, json!({}), Some(&token)).await),
            "FORBIDDEN"
        );
        let body = app
            .gql(SET_ROLE, json!({ "id": id, "role": "ADMIN" }), Some(&admin))
            .await;
        assert_eq!(
            body["data"]["setUserRole"]["user"]["role"], "ADMIN",
            "{body}"
        );
        assert!(app.gql(USERS, json!({}), Some(&token)).await["errors"].is_null());
        app.gql(
            SET_ROLE,
            json!({ "id": id, "role": "CUSTOMER" }),
            Some(&admin),
        )
        .await;

        // Not on oneself; wrong-type and unknown IDs are NOT_FOUND; garbage is BAD_USER_INPUT.
        let selfish = app
            .gql(
                SET_ROLE,
                json!({ "id": admin_id, "role": "CUSTOMER" }),
                Some(&admin),
            )
            .await;
        assert_eq!(user_error_code(&selfish, "setUserRole"), "INVALID_INPUT");
        let selfish = app
            .gql(
                SET_ACTIVE,
                json!({ "id": admin_id, "on": false }),
                Some(&admin),
            )
            .await;
        assert_eq!(user_error_code(&selfish, "setUserActive"), "INVALID_INPUT");
        assert_eq!(
            app.gql(ME, json!({}), Some(&admin)).await["data"]["me"]["role"],
            "ADMIN"
        );
        let product_id = base64_id("Product:1");
        let body = app
            .gql(
                SET_ROLE,
                json!({ "id": product_id, "role": "ADMIN" }),
                Some(&admin),
            )
            .await;
        assert_eq!(user_error_code(&body, "setUserRole"), "NOT_FOUND");
        let body = app
            .gql(
                SET_ROLE,
                json!({ "id": base64_id("User:999999"), "role": "ADMIN" }),
                Some(&admin),
            )
            .await;
        assert_eq!(user_error_code(&body, "setUserRole"), "NOT_FOUND");
        let body = app
            .gql(
                SET_ROLE,
                json!({ "id": "%%%", "role": "ADMIN" }),
                Some(&admin),
            )
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT");
        let body = app
            .gql(SET_ROLE, json!({ "id": id, "role": "ADMIN" }), Some(&token))
            .await;
        assert_eq!(error_code(&body), "FORBIDDEN");

        // Deactivation: the held access token, login and refresh all stop.
        let body = app
            .gql(SET_ACTIVE, json!({ "id": id, "on": false }), Some(&admin))
            .await;
        assert_eq!(body["data"]["setUserActive"]["user"]["isActive"], false);
        assert_eq!(
            error_code(&app.gql(ME, json!({}), Some(&token)).await),
            "UNAUTHENTICATED"
        );
        let login = app
            .gql(
                LOGIN,
                json!({ "input": { "email": "gus@example.com", "password": PASSWORD } }),
                None,
            )
            .await;
        assert_eq!(user_error_code(&login, "login"), "ACCOUNT_DISABLED");
        let refreshed = app.gql(REFRESH, json!({ "t": refresh }), None).await;
        assert_eq!(
            user_error_code(&refreshed, "refreshToken"),
            "ACCOUNT_DISABLED"
        );
        app.gql(SET_ACTIVE, json!({ "id": id, "on": true }), Some(&admin))
            .await;
        app.login("gus@example.com", PASSWORD).await;
    }
);

backend_test!(
    node_shows_users_only_to_themselves_and_admins,
    |app: TestApp| async move {
        let admin = app.admin("adm@example.com").await;
        let (ann, _, ann_id) = app.register("ann@example.com").await;
        let (bob, _, _) = app.register("bob@example.com").await;
        let query = "query($id: ID!) { node(id: $id) { id ... on User { email } } }";
        let own = app.gql(query, json!({ "id": ann_id }), Some(&ann)).await;
        assert_eq!(own["data"]["node"]["email"], "ann@example.com");
        let other = app.gql(query, json!({ "id": ann_id }), Some(&bob)).await;
        assert_eq!(other["data"]["node"], json!(null));
        assert_eq!(
            app.gql(query, json!({ "id": ann_id }), Some(&admin)).await["data"]["node"]["email"],
            "ann@example.com"
        );
        let missing = app
            .gql(
                query,
                json!({ "id": base64_id("User:424242") }),
                Some(&admin),
            )
            .await;
        assert_eq!(missing["data"]["node"], json!(null));
        let bad = app
            .gql(query, json!({ "id": "not an id" }), Some(&admin))
            .await;
        assert_eq!(error_code(&bad), "BAD_USER_INPUT");
    }
);

fn base64_id(raw: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(raw)
}
