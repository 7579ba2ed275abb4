//! The mails, as text and HTML: a password reset link, and an order placed, shipped,
//! delivered or cancelled. Rendered when queued, from what the transaction saw.

use super::outbox::{MailKind, NewMail};
use super::sealed::TOKEN_PLACEHOLDER;

/// Text for HTML, escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A customer's text in a mail: it must not pass for the token's placeholder, so no
/// two braces stay side by side (`{{{` too: replaced until none is left).
fn shown(text: &str) -> String {
    let mut shown = text.to_owned();
    while shown.contains("{{") {
        shown = shown.replace("{{", "{ {");
    }
    shown
}

fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    format!("{sign}{}.{:02}", cents / 100, cents % 100)
}

/// Both bodies of a mail: a greeting, paragraphs, and the shop's sign-off.
fn bodies(first_name: &str, paragraphs: &[String], html_extra: &str) -> (String, String) {
    let name = shown(first_name);
    let mut text = format!("Hello {name},\n\n");
    let mut html = format!("<p>Hello {},</p>\n", escape(&name));
    for paragraph in paragraphs {
        text.push_str(paragraph);
        text.push_str("\n\n");
        html.push_str(&format!("<p>{}</p>\n", escape(paragraph)));
    }
    html.push_str(html_extra);
    text.push_str("— the shop\n");
    html.push_str("<p>— the shop</p>\n");
    (text, html)
}

/// Who a mail goes to.
pub(crate) struct Recipient<'a> {
    pub email: &'a str,
    pub first_name: &'a str,
}

impl<'a> Recipient<'a> {
    pub(crate) fn of(user: &'a crate::accounts::model::UserRow) -> Self {
        Recipient {
            email: &user.email,
            first_name: &user.first_name,
        }
    }
}

/// The reset mail: its link holds the token's placeholder, filled in when sent.
/// `url` is PASSWORD_RESET_URL (with `{token}`).
pub(crate) fn password_reset(
    to: &Recipient<'_>,
    url: &str,
    ttl_minutes: u64,
    token_salt: String,
) -> NewMail {
    let link = url.replace("{token}", TOKEN_PLACEHOLDER);
    let paragraphs = [
        "Someone asked to reset the password of your account. To choose a new one, open this link:"
            .to_owned(),
        link.clone(),
        format!(
            "The link works once, for {ttl_minutes} minutes. If you did not ask for it, ignore this mail: your password stays as it is."
        ),
    ];
    let button = format!(
        "<p><a href=\"{}\">Choose a new password</a></p>\n",
        escape(&link)
    );
    let (text, html) = bodies(to.first_name, &paragraphs, &button);
    NewMail {
        kind: MailKind::PasswordReset,
        to: to.email.to_owned(),
        subject: "Reset your password".to_owned(),
        text,
        html,
        token_salt: Some(token_salt),
    }
}

/// An order line as the mail lists it.
pub(crate) struct MailLine<'a> {
    pub name: &'a str,
    pub variant: &'a str,
    pub quantity: i32,
    pub unit_price_cents: i64,
}

pub(crate) fn order_placed(
    to: &Recipient<'_>,
    order_number: &str,
    total_cents: i64,
    lines: &[MailLine<'_>],
    ships_to: &str,
) -> NewMail {
    let mut paragraphs = vec![format!(
        "Thank you for your order {order_number}. We have received it:"
    )];
    for line in lines {
        let variant = if line.variant.is_empty() || line.variant == "Default" {
            String::new()
        } else {
            format!(" ({})", shown(line.variant))
        };
        paragraphs.push(format!(
            "{} × {}{variant} at {}",
            line.quantity,
            shown(line.name),
            money(line.unit_price_cents)
        ));
    }
    paragraphs.push(format!("Total: {}", money(total_cents)));
    paragraphs.push(format!("It ships to: {}", shown(ships_to)));
    let (text, html) = bodies(to.first_name, &paragraphs, "");
    NewMail {
        kind: MailKind::OrderPlaced,
        to: to.email.to_owned(),
        subject: format!("Your order {order_number}"),
        text,
        html,
        token_salt: None,
    }
}

/// A step of an order's life after it was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrderNews {
    Shipped,
    Delivered,
    Cancelled,
}

pub(crate) fn order_news(to: &Recipient<'_>, order_number: &str, news: OrderNews) -> NewMail {
    let (kind, subject, paragraph) = match news {
        OrderNews::Shipped => (
            MailKind::OrderShipped,
            format!("Your order {order_number} is on its way"),
            format!("Your order {order_number} has shipped."),
        ),
        OrderNews::Delivered => (
            MailKind::OrderDelivered,
            format!("Your order {order_number} was delivered"),
            format!("Your order {order_number} was delivered. We hope you enjoy it."),
        ),
        OrderNews::Cancelled => (
            MailKind::OrderCancelled,
            format!("Your order {order_number} was cancelled"),
            format!(
                "Your order {order_number} was cancelled. Anything you paid for it is refunded."
            ),
        ),
    };
    let (text, html) = bodies(to.first_name, &[paragraph], "");
    NewMail {
        kind,
        to: to.email.to_owned(),
        subject,
        text,
        html,
        token_salt: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_text_is_escaped_and_cannot_fake_the_placeholder() {
        let to = Recipient {
            email: "a@example.com",
            first_name: "<b>{{token}} {{{token}}</b>",
        };
        let mail = password_reset(&to, "https://s/r?t={token}", 30, "salt".to_owned());
        assert!(
            mail.html
                .contains("&lt;b&gt;{ {token}} { { {token}}&lt;/b&gt;"),
            "{}",
            mail.html
        );
        assert_eq!(mail.text.matches(TOKEN_PLACEHOLDER).count(), 1, "the link");
        assert_eq!(
            mail.html.matches(TOKEN_PLACEHOLDER).count(),
            2,
            "the link's text and href"
        );
        assert_eq!(money(1234), "12.34");
        assert_eq!(money(5), "0.05");
    }
}
