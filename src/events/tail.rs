//! Live order events for subscribers: each process follows the log's head and hands every
//! new event to its subscribers, who join it after replaying what they missed.
//!
//! The table is the truth; notifications only say "look again". A follower (one task per
//! process, running while anyone subscribes) reads the events after the last one it
//! handed out whenever an order change is announced — by this process or, through
//! PostgreSQL's LISTEN/NOTIFY, by any other — and at least once a second, in case a
//! notification was lost (the listener reconnecting).
//!
//! A subscriber joins without a gap or a repeat: it starts listening to the follower
//! *before* it replays the log from its cursor. Whatever the follower hands out from then
//! on reaches it; whatever the follower had handed out before was committed before the
//! replay read, so the replay has it. The positions overlap at most; the subscriber
//! passes on only positions above the last it passed on. A subscriber that falls behind
//! the follower's buffer replays again from its last position.

use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::{Mutex, broadcast};

use super::log::{self, EventFilter, EventRow};
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::orders::events::OrderEvents;

/// Events read from the table at once.
const BATCH: i64 = 200;
/// How far a subscriber may fall behind the follower before it replays from the table.
const CAPACITY: usize = 1024;
/// How often the follower reads the log when nothing is announced.
const POLL: Duration = Duration::from_secs(1);

/// This process's follower of the log, and its subscribers.
#[derive(Clone)]
pub(crate) struct EventTail {
    db: Db,
    /// Order changes announced anywhere: the follower's wake-up.
    changes: OrderEvents,
    live: broadcast::Sender<Arc<EventRow>>,
    /// Whether the follower runs. Starting it and its stopping (when the last subscriber
    /// has gone) happen under this lock, so that a subscriber never joins a follower that
    /// is about to stop.
    running: Arc<Mutex<bool>>,
}

impl EventTail {
    pub(crate) fn new(db: Db, changes: OrderEvents) -> Self {
        EventTail {
            db,
            changes,
            live: broadcast::channel(CAPACITY).0,
            running: Arc::new(Mutex::new(false)),
        }
    }

    /// The events `filter` admits after position `after` (or, without one, after the
    /// head as it is now): first those in the log, then live ones, each once, in log
    /// order, for as long as the stream is held.
    pub(crate) async fn subscribe(
        &self,
        after: Option<i64>,
        filter: EventFilter,
    ) -> AppResult<impl Stream<Item = EventRow> + use<>> {
        let live = self.join().await?;
        let head = self.db.run(async |c| log::head(c).await).await?;
        let last = match after {
            // A cursor of another log (a restored database, another shop) would skip
            // every event up to it.
            Some(position) if position > head => {
                return Err(AppError::bad_input("the cursor is ahead of the event log"));
            }
            Some(position) => position,
            None => head,
        };
        let state = Subscriber {
            db: self.db.clone(),
            live,
            filter,
            last,
            replay: true,
            pending: std::collections::VecDeque::new(),
        };
        Ok(futures_util::stream::unfold(
            state,
            |mut state| async move {
                let event = state.next().await?;
                Some((event, state))
            },
        ))
    }

    /// Listens to the follower, starting it if it is not running.
    async fn join(&self) -> AppResult<broadcast::Receiver<Arc<EventRow>>> {
        let mut running = self.running.lock().await;
        let receiver = self.live.subscribe();
        if !*running {
            let from = self.db.run(async |c| log::head(c).await).await?;
            *running = true;
            tokio::spawn(self.clone().follow(from));
        }
        Ok(receiver)
    }

    /// Hands out every event after `last`, until no one listens.
    async fn follow(self, mut last: i64) {
        let mut changes = self.changes.subscribe();
        loop {
            tokio::select! {
                _ = changes.recv() => {}
                () = tokio::time::sleep(POLL) => {}
            }
            if self.live.receiver_count() == 0 {
                let mut running = self.running.lock().await;
                if self.live.receiver_count() == 0 {
                    *running = false;
                    return;
                }
            }
            loop {
                let read = self
                    .db
                    .run(async |c| log::after(c, last, EventFilter::default(), BATCH).await)
                    .await;
                let events = match read {
                    Ok(events) => events,
                    Err(error) => {
                        tracing::warn!(?error, "reading the order event log failed");
                        break;
                    }
                };
                let full = events.len() == BATCH as usize;
                for event in events {
                    last = event.position;
                    let _ = self.live.send(Arc::new(event));
                }
                if !full {
                    break;
                }
            }
        }
    }
}

/// One subscription's place in the log.
struct Subscriber {
    db: Db,
    live: broadcast::Receiver<Arc<EventRow>>,
    filter: EventFilter,
    /// The last position passed on (or skipped as not admitted).
    last: i64,
    /// Whether the log must be read before listening on.
    replay: bool,
    pending: std::collections::VecDeque<EventRow>,
}

impl Subscriber {
    /// The next event, or `None` when the stream must end (the database failed).
    async fn next(&mut self) -> Option<EventRow> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                self.last = event.position;
                return Some(event);
            }
            if self.replay {
                let filter = self.filter;
                let last = self.last;
                let events = match self
                    .db
                    .run(async |c| log::after(c, last, filter, BATCH).await)
                    .await
                {
                    Ok(events) => events,
                    Err(error) => {
                        tracing::warn!(?error, "replaying the order event log failed");
                        return None;
                    }
                };
                self.replay = events.len() == BATCH as usize;
                self.pending.extend(events);
                continue;
            }
            match self.live.recv().await {
                Ok(event) => {
                    if event.position <= self.last {
                        continue;
                    }
                    if self.filter.admits(&event) {
                        return Some(self.passed((*event).clone()));
                    }
                    self.last = event.position;
                }
                Err(broadcast::error::RecvError::Lagged(_)) => self.replay = true,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    fn passed(&mut self, event: EventRow) -> EventRow {
        self.last = event.position;
        event
    }
}
