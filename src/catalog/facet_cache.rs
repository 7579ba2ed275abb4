//! Facet counts, remembered per filter until the catalog changes.
//!
//! A faceted category page aggregates over every product of the subtree; without a cache
//! it costs the database a hundred times a plain page. Facets change only when the
//! catalog does: a product, variant or category written, or a variant's stock reaching
//! or leaving zero. Each such change bumps a generation number, here at once and in every
//! other process through a database notification; an entry of an older generation is
//! never served. The age limit (`FACET_CACHE_SECS`) covers a notification lost while a
//! listener reconnects.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::categories::model::CategoryRow;
use super::model::ProductListFilter;
use crate::db::Db;
use crate::db::notify::{Channel, Message};
use crate::error::AppResult;

const CHANNEL: &str = "catalog_changed";

/// Most filters remembered; past it the cache starts over (a crawler walking every
/// filter combination must not grow it without bound).
const MAX_ENTRIES: usize = 4096;

/// One facet of one filter, as computed.
#[derive(Clone, Debug)]
pub(crate) enum FacetValue {
    Categories(Vec<(CategoryRow, i64)>),
    Options(Vec<(String, String, i64)>),
    InStock(i64),
    PriceRange(Option<(i64, i64)>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum FacetKind {
    Categories,
    Options,
    InStock,
    PriceRange,
}

/// "Something in the catalog changed", and which process changed it: a process has
/// already forgotten its facets when it hears its own news back.
#[derive(Clone, Debug)]
struct CatalogChanged {
    origin: u64,
}

impl Message for CatalogChanged {
    fn encode(&self) -> String {
        self.origin.to_string()
    }

    fn decode(payload: &str) -> Option<Self> {
        Some(CatalogChanged {
            origin: payload.parse().ok()?,
        })
    }
}

struct Entry {
    generation: u64,
    stored_at: Instant,
    value: FacetValue,
}

type Key = (FacetKind, ProductListFilter);

struct Inner {
    generation: AtomicU64,
    entries: Mutex<HashMap<Key, Entry>>,
    /// One turn per missing entry: requests that miss the same entry at once wait for
    /// the first one's result instead of all asking the database (a cold category page
    /// under load asked it once per waiting request).
    turns: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
    max_age: Duration,
    changes: Channel<CatalogChanged>,
    /// This process, in the news it sends.
    origin: u64,
}

#[derive(Clone)]
pub(crate) struct FacetCache {
    inner: Arc<Inner>,
}

impl FacetCache {
    /// Opens the change channel and starts listening to it; `max_age` zero keeps nothing.
    pub(crate) async fn start(db: &Db, database_url: &str, max_age: Duration) -> AppResult<Self> {
        let changes = Channel::open(db, database_url, CHANNEL, 64).await?;
        let mut heard = changes.subscribe();
        let origin = rand::random::<u64>();
        let inner = Arc::new(Inner {
            generation: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
            turns: Mutex::new(HashMap::new()),
            max_age,
            changes,
            origin,
        });
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                let news = match heard.recv().await {
                    Ok(news) => Some(news),
                    // Lagging behind loses only news that all means "forget".
                    Err(RecvError::Lagged(_)) => None,
                    Err(RecvError::Closed) => break,
                };
                let Some(inner) = weak.upgrade() else {
                    break;
                };
                if news.is_none_or(|n| n.origin != inner.origin) {
                    inner.generation.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        Ok(FacetCache { inner })
    }

    /// The generation to hand to [`FacetCache::put`]: read before computing, so that a
    /// change during the computation makes its result stale at once.
    pub(crate) fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::SeqCst)
    }

    pub(crate) fn get(&self, kind: FacetKind, filter: &ProductListFilter) -> Option<FacetValue> {
        if self.inner.max_age.is_zero() {
            return None;
        }
        let entries = self.inner.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(&(kind, filter.clone()))?;
        let fresh =
            entry.generation == self.generation() && entry.stored_at.elapsed() < self.inner.max_age;
        fresh.then(|| entry.value.clone())
    }

    /// Waits for the turn to compute a missing entry; look again once it is yours, the
    /// request before may have stored it. `None` when nothing is kept.
    pub(crate) async fn turn(
        &self,
        kind: FacetKind,
        filter: &ProductListFilter,
    ) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        if self.inner.max_age.is_zero() {
            return None;
        }
        let turn = {
            let mut turns = self.inner.turns.lock().unwrap_or_else(|e| e.into_inner());
            if turns.len() >= MAX_ENTRIES {
                turns.retain(|_, turn| Arc::strong_count(turn) > 1);
            }
            turns.entry((kind, filter.clone())).or_default().clone()
        };
        Some(turn.lock_owned().await)
    }

    pub(crate) fn put(
        &self,
        kind: FacetKind,
        filter: &ProductListFilter,
        generation: u64,
        value: FacetValue,
    ) {
        if self.inner.max_age.is_zero() || generation != self.generation() {
            return;
        }
        let mut entries = self.inner.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        let entry = Entry {
            generation,
            stored_at: Instant::now(),
            value,
        };
        entries.insert((kind, filter.clone()), entry);
    }

    /// The catalog changed (the change has committed): forget every facet here at once,
    /// and tell the other processes.
    pub(crate) async fn changed(&self) {
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
        let news = CatalogChanged {
            origin: self.inner.origin,
        };
        self.inner.changes.send(news).await;
    }
}
