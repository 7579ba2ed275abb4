//! The `mail_outbox` table: queueing a mail in the caller's transaction, and the
//! worker's claims, successes and failures.

use std::sync::Arc;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use tokio::sync::Notify;

use crate::db::schema::mail_outbox;
use crate::db::{Conn, Db, db_run};
use crate::error::AppResult;

/// What a mail is about: kept with it, for logs and for an operator reading the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MailKind {
    PasswordReset,
    OrderPlaced,
    OrderShipped,
    OrderDelivered,
    OrderCancelled,
}

impl MailKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MailKind::PasswordReset => "PASSWORD_RESET",
            MailKind::OrderPlaced => "ORDER_PLACED",
            MailKind::OrderShipped => "ORDER_SHIPPED",
            MailKind::OrderDelivered => "ORDER_DELIVERED",
            MailKind::OrderCancelled => "ORDER_CANCELLED",
        }
    }
}

/// A mail to queue, rendered (`templates`).
#[derive(Debug, Clone)]
pub(crate) struct NewMail {
    pub kind: MailKind,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The salt of the token its bodies' placeholder stands for (`sealed`).
    pub token_salt: Option<String>,
}

/// Wakes this process's mail worker after a commit that queued mail.
#[derive(Clone, Default, Debug)]
pub(crate) struct MailQueue {
    wake: Arc<Notify>,
}

impl MailQueue {
    pub(crate) fn queued(&self) {
        self.wake.notify_one();
    }

    pub(crate) async fn wait(&self) {
        self.wake.notified().await;
    }
}

/// Queues a mail in the caller's transaction: it is sent if and only if that commits.
pub(crate) async fn queue(
    conn: &mut Conn<'_>,
    mail: &NewMail,
    now: NaiveDateTime,
) -> QueryResult<()> {
    db_run!(conn, c => diesel::insert_into(mail_outbox::table)
        .values((
            mail_outbox::kind.eq(mail.kind.as_str()),
            mail_outbox::recipient.eq(&mail.to),
            mail_outbox::subject.eq(&mail.subject),
            mail_outbox::text_body.eq(&mail.text),
            mail_outbox::html_body.eq(&mail.html),
            mail_outbox::token_salt.eq(&mail.token_salt),
            mail_outbox::created_at.eq(now),
            mail_outbox::next_attempt_at.eq(now),
        ))
        .execute(c)
        .await)?;
    Ok(())
}

/// The ids of due, unclaimed mails, oldest first (a query, locked or not by the caller).
macro_rules! due {
    ($now:expr, $limit:expr) => {
        mail_outbox::table
            .filter(mail_outbox::sent_at.is_null())
            .filter(mail_outbox::failed_at.is_null())
            .filter(mail_outbox::next_attempt_at.le($now))
            .filter(
                mail_outbox::locked_until
                    .is_null()
                    .or(mail_outbox::locked_until.lt($now)),
            )
            .select(mail_outbox::id)
            .order(mail_outbox::id.asc())
            .limit($limit)
    };
}

/// A claimed mail.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = mail_outbox)]
pub(crate) struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub token_salt: Option<String>,
    pub created_at: NaiveDateTime,
    /// Attempts so far, this one included.
    pub attempts: i32,
    /// The claim's lease: the worker writes the outcome only while it still holds it.
    pub locked_until: Option<NaiveDateTime>,
}

/// Claims up to `limit` due mails until `lease_until`: no other worker takes them
/// before then (if this one dies, they are due again after it). PostgreSQL skips the
/// rows another worker is claiming at the same moment; SQLite's write transactions run
/// one at a time.
pub(crate) async fn claim(
    db: &Db,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> AppResult<Vec<OutboxRow>> {
    // Most polls find nothing: a plain read answers them without a write transaction
    // (on SQLite that would take the database's one write lock every second).
    let any_due: Vec<i64> = db
        .run(async |c| db_run!(c, c => due!(now, 1).load(c).await))
        .await?;
    if any_due.is_empty() {
        return Ok(Vec::new());
    }
    db.transaction(async |tx| {
        let ids: Vec<i64> = db_run!(tx,
            sqlite c => due!(now, limit).load(c).await,
            postgres c => due!(now, limit).for_update().skip_locked().load(c).await
        )?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = db_run!(tx, c => diesel::update(mail_outbox::table.filter(mail_outbox::id.eq_any(&ids)))
            .set((
                mail_outbox::locked_until.eq(lease_until),
                mail_outbox::attempts.eq(mail_outbox::attempts + 1),
            ))
            .returning(OutboxRow::as_returning())
            .get_results(c)
            .await)?;
        Ok(rows)
    })
    .await
}

/// The row of a claimed mail, as long as the claim's lease is the one `mail` holds: a
/// worker that overran its lease (another may have claimed the mail since) changes
/// nothing.
macro_rules! still_claimed {
    ($mail:expr) => {
        mail_outbox::table
            .filter(mail_outbox::id.eq($mail.id))
            .filter(mail_outbox::locked_until.eq($mail.locked_until))
    };
}

pub(crate) async fn mark_sent(
    conn: &mut Conn<'_>,
    mail: &OutboxRow,
    now: NaiveDateTime,
) -> QueryResult<()> {
    db_run!(conn, c => diesel::update(still_claimed!(mail))
        .set((
            mail_outbox::sent_at.eq(now),
            mail_outbox::locked_until.eq(None::<NaiveDateTime>),
        ))
        .execute(c)
        .await)?;
    Ok(())
}

/// Records a failed attempt: due again at `retry_at`, or given up for good (`None`).
pub(crate) async fn mark_failed(
    conn: &mut Conn<'_>,
    mail: &OutboxRow,
    error: &str,
    retry_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    db_run!(conn, c => diesel::update(still_claimed!(mail))
        .set((
            mail_outbox::last_error.eq(error),
            mail_outbox::locked_until.eq(None::<NaiveDateTime>),
            mail_outbox::next_attempt_at.eq(retry_at.unwrap_or(now)),
            mail_outbox::failed_at.eq(retry_at.is_none().then_some(now)),
        ))
        .execute(c)
        .await)?;
    Ok(())
}

/// Mails neither sent nor given up (for /metrics; the partial index of due mails
/// covers exactly these).
pub(crate) async fn pending_count(conn: &mut Conn<'_>) -> QueryResult<i64> {
    db_run!(conn, c => mail_outbox::table
        .filter(mail_outbox::sent_at.is_null())
        .filter(mail_outbox::failed_at.is_null())
        .count()
        .get_result(c)
        .await)
}
