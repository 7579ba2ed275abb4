//! The mail worker: a task in every server process that sends what the outbox holds.

use crate::telemetry::metrics;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use lettre::message::Mailbox;

use super::outbox::{self, MailKind, MailQueue, OutboxRow};
use super::sealed::{TOKEN_PLACEHOLDER, TokenSeal};
use super::transport::{SMTP_TIMEOUT, SendError, Transport};
use crate::db::{Db, now};

/// Mails claimed at once.
const BATCH: i64 = 10;
/// How often the outbox is read when nothing wakes the worker: mail queued by another
/// process, or due again after a failure.
const POLL: Duration = Duration::from_secs(1);
/// Attempts before a mail is given up (the last ones an hour apart: about half a day).
const MAX_ATTEMPTS: i32 = 20;
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

#[derive(Clone)]
pub(crate) struct MailWorker {
    /// A pool of its own: background work never takes a request's connection (nor
    /// shows in the request pool's statement count).
    pub db: Db,
    pub transport: Arc<Transport>,
    pub from: Mailbox,
    pub queue: MailQueue,
    pub seal: TokenSeal,
    /// The wait before the first retry; it doubles with each attempt.
    pub retry_base: Duration,
    /// How long a reset link works: a reset mail not sent by then is given up.
    pub reset_ttl: Duration,
}

impl MailWorker {
    fn backoff(&self) -> crate::outbox::Backoff {
        crate::outbox::Backoff {
            base: self.retry_base,
            max: MAX_BACKOFF,
        }
    }

    /// Runs until the process ends.
    pub(crate) fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let claimed = match self.round().await {
                    Ok(claimed) => claimed,
                    Err(error) => {
                        tracing::warn!(?error, "reading the mail outbox failed");
                        0
                    }
                };
                if claimed < BATCH as usize {
                    tokio::select! {
                        () = self.queue.wait() => {}
                        () = tokio::time::sleep(POLL) => {}
                    }
                }
            }
        })
    }

    /// Claims a batch and sends it; returns how many it claimed.
    async fn round(&self) -> crate::error::AppResult<usize> {
        let now = now();
        // Twice what the batch takes if every mail times out (each send is cut off at
        // SMTP_TIMEOUT); a mail whose turn comes too late is left to the lease's end.
        let lease = SMTP_TIMEOUT * (2 * BATCH as u32);
        let lease_until = now + TimeDelta::from_std(lease).unwrap_or(TimeDelta::MAX);
        let mails = outbox::claim(&self.db, now, lease_until, BATCH).await?;
        let last_start = lease_until - TimeDelta::from_std(SMTP_TIMEOUT * 2).unwrap_or_default();
        for mail in &mails {
            if crate::db::now() > last_start {
                break;
            }
            self.deliver(mail).await?;
        }
        Ok(mails.len())
    }

    async fn deliver(&self, mail: &OutboxRow) -> crate::error::AppResult<()> {
        let reset_ttl = TimeDelta::from_std(self.reset_ttl).unwrap_or(TimeDelta::MAX);
        if mail.kind == MailKind::PasswordReset.as_str() && mail.created_at + reset_ttl < now() {
            // Its link no longer works: sending it now would only confuse.
            let error = "the reset link expired before the mail could be sent";
            tracing::warn!(id = mail.id, error, "mail given up");
            metrics::mail_failed(true);
            return self
                .db
                .run(async |c| outbox::mark_failed(c, mail, error, None, now()).await)
                .await;
        }
        let (text, html) = match &mail.token_salt {
            Some(salt) => {
                let token = self.seal.open(salt);
                (
                    mail.text_body.replace(TOKEN_PLACEHOLDER, &token),
                    mail.html_body.replace(TOKEN_PLACEHOLDER, &token),
                )
            }
            None => (mail.text_body.clone(), mail.html_body.clone()),
        };
        let sent = self
            .transport
            .send(&self.from, &mail.recipient, &mail.subject, text, html)
            .await;
        let now = now();
        let (error, retry_at) = match sent {
            Ok(()) => {
                tracing::info!(id = mail.id, kind = %mail.kind, "mail sent");
                metrics::mail_sent();
                return self
                    .db
                    .run(async |c| outbox::mark_sent(c, mail, now).await)
                    .await;
            }
            Err(SendError::Permanent(error)) => (error, None),
            Err(SendError::Transient(error)) if mail.attempts >= MAX_ATTEMPTS => (error, None),
            Err(SendError::Transient(error)) => {
                let retry_at = self.backoff().retry_at(now, mail.attempts);
                (error, Some(retry_at))
            }
        };
        metrics::mail_failed(retry_at.is_none());
        match retry_at {
            Some(at) => {
                tracing::warn!(id = mail.id, kind = %mail.kind, attempts = mail.attempts, %error, retry_at = %at, "mail not sent, will retry")
            }
            None => {
                tracing::error!(id = mail.id, kind = %mail.kind, attempts = mail.attempts, %error, "mail not sent, given up")
            }
        }
        self.db
            .run(async |c| outbox::mark_failed(c, mail, &error, retry_at, now).await)
            .await
    }
}
