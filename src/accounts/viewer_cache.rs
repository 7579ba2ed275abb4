//! The users who sign requests in to this process, remembered for a few seconds.
//!
//! Every authenticated request needs its user's row (the role and the active flag decide
//! what it may do); read per request, it was one of the two statements of a product page
//! and a third of the server's work for it (bench/RESULTS.md). A row is kept for
//! `VIEWER_CACHE_SECS` and forgotten as soon as the user changes: in this process before
//! the change's answer goes out, in every other one when the `user_changed`
//! notification arrives (milliseconds). Two rules keep a stale row from being served:
//! - an entry counts only while the listener that stored it is still connected (a
//!   notification sent while it reconnects is lost, so a reconnection voids them all);
//! - a row read while any change was announced is not stored (the read may have seen
//!   the row before the change).
//!
//! A change made outside the server (SQL by hand, a `create-admin` on SQLite, whose
//! channel is in-process) is seen when the entry expires.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::model::UserRow;
use crate::db::Db;
use crate::db::notify::{Channel, Message};
use crate::error::AppResult;

const CHANNEL: &str = "user_changed";

/// Most users remembered; past it the expired ones go, then all (memory stays bounded
/// whatever the number of users signing in).
const MAX_ENTRIES: usize = 10_000;

/// "This user changed", and which process changed it.
#[derive(Clone, Debug)]
struct UserChanged {
    user_id: i64,
    origin: u64,
}

impl Message for UserChanged {
    fn encode(&self) -> String {
        format!("{}:{}", self.user_id, self.origin)
    }

    fn decode(payload: &str) -> Option<Self> {
        let (user_id, origin) = payload.split_once(':')?;
        Some(UserChanged {
            user_id: user_id.parse().ok()?,
            origin: origin.parse().ok()?,
        })
    }
}

struct Entry {
    user: Arc<UserRow>,
    stored_at: Instant,
    listener: u64,
}

struct Inner {
    entries: Mutex<HashMap<i64, Entry>>,
    /// Bumped by every change heard: a read that started before it is not stored.
    generation: AtomicU64,
    max_age: Duration,
    changes: Channel<UserChanged>,
    origin: u64,
}

/// What a read must show to [`ViewerCache::put`]: the state before it began.
#[derive(Clone, Copy)]
pub(crate) struct Ticket {
    generation: u64,
    listener: Option<u64>,
}

#[derive(Clone)]
pub(crate) struct ViewerCache {
    inner: Arc<Inner>,
}

impl ViewerCache {
    /// Opens the change channel and starts listening to it; `max_age` zero keeps nothing.
    pub(crate) async fn start(db: &Db, database_url: &str, max_age: Duration) -> AppResult<Self> {
        let changes = Channel::open(db, database_url, CHANNEL, 256).await?;
        let mut heard = changes.subscribe();
        let inner = Arc::new(Inner {
            entries: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            max_age,
            changes,
            origin: rand::random::<u64>(),
        });
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                let news = heard.recv().await;
                let Some(inner) = weak.upgrade() else {
                    break;
                };
                match news {
                    Ok(news) if news.origin == inner.origin => {}
                    Ok(news) => inner.forget(Some(news.user_id)),
                    // Fell behind: some change is unknown, so every entry is suspect.
                    Err(RecvError::Lagged(_)) => inner.forget(None),
                    Err(RecvError::Closed) => break,
                }
            }
        });
        Ok(ViewerCache { inner })
    }

    /// The remembered row of `user_id`, if it is still good.
    pub(crate) fn get(&self, user_id: i64) -> Option<Arc<UserRow>> {
        if self.inner.max_age.is_zero() {
            return None;
        }
        let listener = self.inner.changes.listening()?;
        let entries = self.inner.lock();
        let entry = entries.get(&user_id)?;
        let good = entry.listener == listener && entry.stored_at.elapsed() < self.inner.max_age;
        good.then(|| entry.user.clone())
    }

    /// Take one before reading a row from the database, to store it with.
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket {
            generation: self.inner.generation.load(Ordering::SeqCst),
            listener: self.inner.changes.listening(),
        }
    }

    /// Remembers a row read after `ticket` was taken, unless something changed since.
    pub(crate) fn put(&self, ticket: Ticket, user: Arc<UserRow>) {
        let Some(listener) = ticket.listener else {
            return;
        };
        if self.inner.max_age.is_zero() {
            return;
        }
        let mut entries = self.inner.lock();
        // Under the lock: a change that bumps the generation after this check forgets
        // the entry after it is stored.
        if self.inner.generation.load(Ordering::SeqCst) != ticket.generation
            || self.inner.changes.listening() != Some(listener)
        {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            let max_age = self.inner.max_age;
            entries.retain(|_, entry| entry.stored_at.elapsed() < max_age);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        let entry = Entry {
            user,
            stored_at: Instant::now(),
            listener,
        };
        entries.insert(entry.user.id, entry);
    }

    /// `user_id` changed (the change has committed): forget it here at once and tell the
    /// other processes.
    pub(crate) async fn changed(&self, user_id: i64) {
        self.inner.forget(Some(user_id));
        let news = UserChanged {
            user_id,
            origin: self.inner.origin,
        };
        self.inner.changes.send(news).await;
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets one user, or everyone.
    fn forget(&self, user_id: Option<i64>) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::SeqCst);
        match user_id {
            Some(id) => {
                entries.remove(&id);
            }
            None => entries.clear(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_messages_round_trip() {
        let news = UserChanged {
            user_id: 42,
            origin: u64::MAX,
        };
        let back = UserChanged::decode(&news.encode()).unwrap();
        assert_eq!((back.user_id, back.origin), (42, u64::MAX));
        assert!(UserChanged::decode("42").is_none());
        assert!(UserChanged::decode("x:1").is_none());
    }
}
