//! Mail to customers: password reset links and order mails, sent over SMTP from an
//! outbox.
//!
//! A change that causes a mail writes it to `mail_outbox` in its own transaction
//! ([`outbox::queue`]), so a mail exists exactly when its change committed. After the
//! commit the change wakes this process's [`worker`] ([`MailQueue::queued`]); workers in
//! other processes find it on their next poll. A worker claims a batch (on PostgreSQL
//! with `FOR UPDATE SKIP LOCKED`, and a lease in the row, so two processes never take
//! one mail), sends it with lettre, and marks it sent, or due again after a backoff.
//! Requests never wait for SMTP: a mail server that is down delays mail, nothing else.
//!
//! Delivery is at least once: a process that dies between the SMTP server's "250 OK"
//! and marking the row sent leaves the mail to be sent again when its lease ends. That
//! window is one statement long.

pub(crate) mod outbox;
pub(crate) mod sealed;
pub(crate) mod templates;
pub(crate) mod transport;
pub(crate) mod worker;

pub(crate) use outbox::MailQueue;
