//! Where mail goes: an SMTP server (lettre), the log (development without SMTP_URL),
//! or nowhere (MAIL_DISABLED).

use std::time::Duration;

use lettre::message::{Mailbox, Message, MultiPart};
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::MailSettings;

/// How long one SMTP exchange may take before it counts as failed.
pub(crate) const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

pub(crate) enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Log,
    Disabled,
}

/// `smtp://` means STARTTLS when the server offers it, unless the URL says otherwise
/// (lettre's own default for `smtp://` is never to encrypt); with a password in the URL,
/// STARTTLS is required, so that a man in the middle who hides the server's offer
/// cannot read the password.
fn with_tls_choice(url: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let has_tls_choice = query.split('&').any(|pair| pair.starts_with("tls="));
    if !url.starts_with("smtp://") || has_tls_choice {
        return url.to_owned();
    }
    let authority = base
        .trim_start_matches("smtp://")
        .split('/')
        .next()
        .unwrap_or("");
    let has_password = authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'));
    let tls = if has_password {
        "required"
    } else {
        "opportunistic"
    };
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}tls={tls}")
}

/// The transport's builder: checks the URL (scheme, host, TLS) without connecting.
fn smtp_builder(url: &str) -> Result<AsyncSmtpTransportBuilder, String> {
    if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
        return Err("SMTP_URL must start with smtp:// or smtps://".to_owned());
    }
    // The error never repeats the URL, which may hold a password.
    AsyncSmtpTransport::<Tokio1Executor>::from_url(&with_tls_choice(url))
        .map_err(|e| format!("SMTP_URL is not usable: {}", describe(&e)))
}

/// lettre's error without its source chain's URL parts.
fn describe(error: &lettre::transport::smtp::Error) -> String {
    if error.is_client() {
        "bad URL".to_owned()
    } else {
        error.to_string()
    }
}

/// Checks SMTP_URL at start, without connecting.
pub(crate) fn check_url(url: &str) -> Result<(), String> {
    smtp_builder(url).map(|_| ())
}

impl Transport {
    pub(crate) fn from_settings(settings: &MailSettings) -> Result<Transport, String> {
        match &settings.smtp_url {
            // (Building starts the connection pool's task: this runs on the runtime.)
            Some(url) => {
                let builder = smtp_builder(url.expose())?;
                Ok(Transport::Smtp(builder.timeout(Some(SMTP_TIMEOUT)).build()))
            }
            None if settings.mail_disabled => Ok(Transport::Disabled),
            None => Ok(Transport::Log),
        }
    }

    /// Sends one mail; the error says why, for the outbox row and the log.
    pub(crate) async fn send(
        &self,
        from: &Mailbox,
        to: &str,
        subject: &str,
        text: String,
        html: String,
    ) -> Result<(), SendError> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| SendError::Permanent(format!("bad recipient: {e}")))?;
        match self {
            Transport::Smtp(smtp) => {
                let message = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(subject)
                    .multipart(MultiPart::alternative_plain_html(text, html))
                    .map_err(|e| SendError::Permanent(format!("cannot build the mail: {e}")))?;
                // lettre's own timeout covers connecting only: a server that accepts and
                // then stalls would hold the worker for good without this one.
                match tokio::time::timeout(SMTP_TIMEOUT, smtp.send(message)).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
                    Ok(Err(e)) => Err(SendError::Transient(e.to_string())),
                    Err(_) => Err(SendError::Transient(format!(
                        "no answer from the SMTP server within {} s",
                        SMTP_TIMEOUT.as_secs()
                    ))),
                }
            }
            Transport::Log => {
                tracing::info!(to = %to, subject, body = %text, "mail (SMTP_URL is not set: logged, not sent)");
                Ok(())
            }
            Transport::Disabled => {
                tracing::info!(subject, "mail dropped (MAIL_DISABLED=true)");
                Ok(())
            }
        }
    }
}

/// Why a mail was not sent: worth trying again, or never.
#[derive(Debug)]
pub(crate) enum SendError {
    Transient(String),
    Permanent(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_choose_starttls_unless_told() {
        assert_eq!(
            with_tls_choice("smtp://h:25"),
            "smtp://h:25?tls=opportunistic"
        );
        assert_eq!(
            with_tls_choice("smtp://u:p@h:587"),
            "smtp://u:p@h:587?tls=required"
        );
        assert_eq!(
            with_tls_choice("smtp://h?tls=required"),
            "smtp://h?tls=required"
        );
        assert_eq!(with_tls_choice("smtps://h"), "smtps://h");
        assert!(check_url("smtp://user:pw@mail.example.com:587").is_ok());
        assert!(check_url("smtps://mail.example.com").is_ok());
        let refused = check_url("http://user:secret@mail.example.com").unwrap_err();
        assert!(!refused.contains("secret"), "{refused}");
    }
}
