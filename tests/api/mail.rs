//! Mail over real SMTP: password reset and order mails, sent from the outbox to the
//! test's own SMTP server, through outages and with two server processes.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::{Value, json};

use mini_ecommerce::config::{Config, Secret};

use crate::helpers::{Backend, NO_POSTGRES, PASSWORD, TestApp, wait_until};
use crate::smtp_server::{Mail, SmtpServer};

/// How long a test waits for a mail that should come (it comes in milliseconds).
const ARRIVES: Duration = Duration::from_secs(20);
/// How long a test listens for a mail that should not come.
const QUIET: Duration = Duration::from_millis(1500);

const REQUEST: &str = "mutation($e: String!) { requestPasswordReset(input: {email: $e}) {
    accepted userErrors { field code } } }";
const RESET: &str = "mutation($t: String!, $p: String!) {
    resetPassword(input: {token: $t, newPassword: $p}) {
        accessToken refreshToken user { email } userErrors { field code } } }";
const REFRESH: &str = "mutation($t: String!) { refreshToken(input: {refreshToken: $t}) {
    accessToken userErrors { code } } }";
const LOGIN: &str = "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) {
    accessToken userErrors { code } } }";
const NEW_PASSWORD: &str = "a brand new passphrase";

/// Runs `test` on `backend` with a server that mails to a fresh SMTP server.
async fn with_mail<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestApp, SmtpServer) -> Fut,
    Fut: Future<Output = ()>,
{
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app = TestApp::spawn(backend, |config: &mut Config| {
        config.mail.smtp_url = Some(Secret::new(url));
        config.mail.mail_from = "Shop <shop@example.com>".to_owned();
        config.mail.mail_retry_ms = 100;
        config.mail.password_reset_url = "https://shop.example/reset?token={token}".to_owned();
    })
    .await
    .expect(NO_POSTGRES);
    test(app, smtp).await;
}

/// A test on both backends, with an SMTP server beside the app.
macro_rules! mail_test {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                with_mail(Backend::Sqlite, $body).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(postgres_tests), ignore = "TEST_POSTGRES_URL is not set")]
            async fn postgres() {
                with_mail(Backend::Postgres, $body).await;
            }
        }
    };
}

async fn next_mail(smtp: &SmtpServer) -> Mail {
    smtp.next_mail(ARRIVES)
        .await
        .expect("a mail arrives over SMTP")
}

async fn assert_no_more_mail(smtp: &SmtpServer) {
    if let Some(mail) = smtp.next_mail(QUIET).await {
        panic!("an unexpected mail: {:?} to {:?}", mail.subject(), mail.to);
    }
}

/// The token of a reset mail: from the link, in the text body and the HTML one alike.
fn reset_token(mail: &Mail) -> String {
    let text = mail.text_body().expect("a text body");
    let html = mail.html_body().expect("an HTML body");
    let prefix = "https://shop.example/reset?token=";
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no link: {text}"))
        + prefix.len();
    let token: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert!(token.len() >= 22, "at least 128 bits: {token}");
    assert!(html.contains(&format!("{prefix}{token}")), "{html}");
    token
}

async fn request_reset(app: &TestApp, email: &str) -> Value {
    app.gql(REQUEST, json!({ "e": email }), None).await
}

async fn reset(app: &TestApp, token: &str, password: &str) -> Value {
    app.gql(RESET, json!({ "t": token, "p": password }), None)
        .await
}

fn reset_error(body: &Value) -> Value {
    body["data"]["resetPassword"]["userErrors"][0]["code"].clone()
}

mail_test!(
    a_reset_link_works_once_and_ends_every_session,
    |app: TestApp, smtp: SmtpServer| async move {
        let (_, first_refresh, _) = app.register("ann@example.com").await;
        let second_refresh = {
            let body = app
                .gql(
                    "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { refreshToken } }",
                    json!({ "e": "ann@example.com", "p": PASSWORD }),
                    None,
                )
                .await;
            body["data"]["login"]["refreshToken"]
                .as_str()
                .unwrap()
                .to_owned()
        };

        // The same answer for an account and for no account; a malformed email is refused.
        for email in ["nobody@example.com", " Ann@Example.com "] {
            let body = request_reset(&app, email).await;
            assert_eq!(
                body["data"]["requestPasswordReset"],
                json!({ "accepted": true, "userErrors": [] }),
                "{body}"
            );
        }
        let malformed = request_reset(&app, "not an email").await;
        assert_eq!(malformed["data"]["requestPasswordReset"]["accepted"], false);
        assert_eq!(
            malformed["data"]["requestPasswordReset"]["userErrors"][0]["field"],
            json!(["input", "email"])
        );

        // One mail only, to the account: the request for nobody sent none before it.
        let mail = next_mail(&smtp).await;
        assert_eq!(mail.to, ["ann@example.com"]);
        assert_eq!(mail.from, "shop@example.com");
        assert_eq!(mail.subject().as_deref(), Some("Reset your password"));
        let first_token = reset_token(&mail);
        // The database never held the token: not in the outbox, not in the resets.
        let holding = format!(
            "SELECT COUNT(*) FROM mail_outbox WHERE text_body LIKE '%{first_token}%'
               OR html_body LIKE '%{first_token}%' OR token_salt = '{first_token}'"
        );
        assert_eq!(app.count(&holding).await, 0);
        let stored =
            format!("SELECT COUNT(*) FROM password_resets WHERE token_hash = '{first_token}'");
        assert_eq!(app.count(&stored).await, 0);
        assert_eq!(app.count("SELECT COUNT(*) FROM password_resets").await, 1);

        // A refused password leaves the token usable.
        let weak = reset(&app, &first_token, "short").await;
        assert_eq!(reset_error(&weak), "PASSWORD_TOO_WEAK", "{weak}");
        // A newer request voids it.
        request_reset(&app, "ann@example.com").await;
        let token = reset_token(&next_mail(&smtp).await);
        assert_ne!(token, first_token);
        let voided = reset(&app, &first_token, NEW_PASSWORD).await;
        assert_eq!(reset_error(&voided), "INVALID_TOKEN", "{voided}");
        assert_eq!(
            reset_error(&reset(&app, "made-up", NEW_PASSWORD).await),
            "INVALID_TOKEN"
        );

        let done = reset(&app, &token, NEW_PASSWORD).await;
        let payload = &done["data"]["resetPassword"];
        assert_eq!(payload["userErrors"], json!([]), "{done}");
        assert_eq!(payload["user"]["email"], "ann@example.com");
        assert!(payload["accessToken"].is_string(), "the payload signs in");
        let used = reset(&app, &token, "yet another passphrase").await;
        assert_eq!(reset_error(&used), "INVALID_TOKEN", "a token works once");

        for refresh in [first_refresh, second_refresh] {
            let body = app.gql(REFRESH, json!({ "t": refresh }), None).await;
            assert_eq!(
                body["data"]["refreshToken"]["accessToken"],
                Value::Null,
                "{body}"
            );
        }
        let old = app
            .gql(
                LOGIN,
                json!({ "e": "ann@example.com", "p": PASSWORD }),
                None,
            )
            .await;
        assert_eq!(
            old["data"]["login"]["userErrors"][0]["code"],
            "INVALID_CREDENTIALS"
        );
        let new = app
            .gql(
                LOGIN,
                json!({ "e": "ann@example.com", "p": NEW_PASSWORD }),
                None,
            )
            .await;
        assert!(new["data"]["login"]["accessToken"].is_string(), "{new}");

        // An expired token is refused too.
        request_reset(&app, "ann@example.com").await;
        let expiring = reset_token(&next_mail(&smtp).await);
        app.execute_sql("UPDATE password_resets SET expires_at = '2000-01-01 00:00:00'")
            .await;
        let expired = reset(&app, &expiring, "one more passphrase").await;
        assert_eq!(reset_error(&expired), "INVALID_TOKEN", "{expired}");
        assert_no_more_mail(&smtp).await;
    }
);

mail_test!(
    of_two_concurrent_resets_with_one_token_one_wins,
    |app: TestApp, smtp: SmtpServer| async move {
        app.register("ann@example.com").await;
        request_reset(&app, "ann@example.com").await;
        let token = reset_token(&next_mail(&smtp).await);
        let passwords = ["first new passphrase", "second new passphrase"];
        let results = join_all(passwords.iter().map(|p| reset(&app, &token, p))).await;
        let won: Vec<&Value> = results
            .iter()
            .filter(|body| body["data"]["resetPassword"]["accessToken"].is_string())
            .collect();
        assert_eq!(won.len(), 1, "{results:?}");
        let lost = results
            .iter()
            .find(|body| reset_error(body) == "INVALID_TOKEN");
        assert!(lost.is_some(), "{results:?}");
    }
);

const SET_STATUS: &str = "mutation($o: ID!, $s: OrderStatus!) {
    updateOrderStatus(input: {orderId: $o, status: $s}) { userErrors { code } } }";
const NUMBER: &str = "query($id: ID!) { node(id: $id) { ... on Order { orderNumber } } }";

mail_test!(
    a_customer_gets_one_mail_per_order_step,
    |app: TestApp, smtp: SmtpServer| async move {
        let admin = app.admin("admin@example.com").await;
        let ann = app.customer("ann@example.com").await;
        let lamp = app.product(&admin, "Lamp", "12.50", 10).await;
        let input = json!({ "shippingAddress": "1 Main St", "idempotencyKey": "k1" });
        let order = app.order(&ann, &lamp, 2, input.clone()).await;
        // A retry with the same key is the same order: no second mail.
        app.add_to_cart(&ann, &lamp, 1).await;
        assert_eq!(app.place_order(&ann, input).await, order);
        let number = app.gql(NUMBER, json!({ "id": order }), Some(&ann)).await["data"]["node"]
            ["orderNumber"]
            .as_str()
            .unwrap()
            .to_owned();

        let placed = next_mail(&smtp).await;
        assert_eq!(placed.to, ["ann@example.com"]);
        assert_eq!(placed.subject(), Some(format!("Your order {number}")));
        let text = placed.text_body().unwrap();
        assert!(
            text.contains("2 × Lamp at 12.50") && text.contains("Total: 25.00"),
            "{text}"
        );
        assert!(placed.html_body().unwrap().contains("Total: 25.00"));

        for status in ["CONFIRMED", "SHIPPED", "DELIVERED"] {
            let body = app
                .gql(SET_STATUS, json!({ "o": order, "s": status }), Some(&admin))
                .await;
            assert_eq!(body["data"]["updateOrderStatus"]["userErrors"], json!([]));
        }
        let shipped = next_mail(&smtp).await;
        assert_eq!(
            shipped.subject(),
            Some(format!("Your order {number} is on its way"))
        );
        let delivered = next_mail(&smtp).await;
        assert_eq!(
            delivered.subject(),
            Some(format!("Your order {number} was delivered"))
        );

        // Cancelled by the customer: placed, then cancelled, and nothing for confirming.
        let second = app
            .place_order(&ann, json!({ "shippingAddress": "1 Main St" }))
            .await;
        let cancel =
            "mutation($o: ID!) { cancelOrder(input: {orderId: $o}) { userErrors { code } } }";
        app.gql(cancel, json!({ "o": second }), Some(&ann)).await;
        let again = app.gql(cancel, json!({ "o": second }), Some(&ann)).await;
        assert_eq!(
            again["data"]["cancelOrder"]["userErrors"][0]["code"],
            "INVALID_STATUS_TRANSITION"
        );
        let subjects = [next_mail(&smtp).await, next_mail(&smtp).await]
            .map(|m| m.subject().unwrap_or_default());
        assert!(
            subjects[0].starts_with("Your order ") && !subjects[0].contains(" was "),
            "{subjects:?}"
        );
        assert!(subjects[1].ends_with(" was cancelled"), "{subjects:?}");
        assert_no_more_mail(&smtp).await;
    }
);

mail_test!(
    mail_waits_out_an_smtp_outage_without_slowing_the_request,
    |app: TestApp, smtp: SmtpServer| async move {
        app.register("ann@example.com").await;
        smtp.stop().await;
        let started = Instant::now();
        let body = request_reset(&app, "ann@example.com").await;
        let took = started.elapsed();
        assert_eq!(
            body["data"]["requestPasswordReset"]["accepted"], true,
            "{body}"
        );
        // Far below what one SMTP attempt may take (15 s): the request did not wait for it.
        assert!(took < Duration::from_secs(5), "the request took {took:?}");
        // The worker tried and failed (the outbox row says so), then the server comes back.
        let failed = "SELECT COUNT(*) FROM mail_outbox
            WHERE attempts >= 1 AND last_error IS NOT NULL AND sent_at IS NULL";
        wait_until("a failed attempt is recorded", ARRIVES, async || {
            app.count(failed).await == 1
        })
        .await;
        smtp.restart().await;
        let mail = next_mail(&smtp).await;
        assert_eq!(mail.to, ["ann@example.com"]);
        let token = reset_token(&mail);
        let done = reset(&app, &token, NEW_PASSWORD).await;
        assert!(
            done["data"]["resetPassword"]["accessToken"].is_string(),
            "{done}"
        );
        assert_no_more_mail(&smtp).await;
    }
);

mail_test!(
    two_processes_send_each_mail_once,
    |app: TestApp, smtp: SmtpServer| async move {
        let second = app.another_server().await;
        let emails: Vec<String> = (0..12).map(|i| format!("user{i}@example.com")).collect();
        for email in &emails {
            app.register(email).await;
        }
        // Half the requests to each server: both workers wake, and race for the outbox.
        let requests = emails.iter().enumerate().map(|(i, e)| {
            let addr = if i % 2 == 0 { app.addr } else { second.addr };
            app.gql_at(addr, REQUEST, json!({ "e": e }), None)
        });
        join_all(requests).await;
        let mut received = Vec::new();
        for _ in &emails {
            received.extend(next_mail(&smtp).await.to);
        }
        assert_no_more_mail(&smtp).await;
        received.sort();
        let mut expected = emails.clone();
        expected.sort();
        assert_eq!(received, expected);
    }
);

crate::helpers::backend_test!(
    reset_requests_are_rate_limited_like_sign_ins,
    |config: &mut Config| config.auth.rate_limit_login_failures = 2,
    |app: TestApp| async move {
        app.register("ann@example.com").await;
        // The same allowance for an email with no account: the limit tells nothing.
        for email in ["ann@example.com", "nobody@example.com"] {
            for _ in 0..2 {
                let body = request_reset(&app, email).await;
                assert_eq!(
                    body["data"]["requestPasswordReset"]["accepted"], true,
                    "{body}"
                );
            }
            let limited = request_reset(&app, email).await;
            assert_eq!(
                limited["errors"][0]["extensions"]["code"], "RATE_LIMITED",
                "{limited}"
            );
        }
    }
);
