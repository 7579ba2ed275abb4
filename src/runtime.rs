//! How the process shares out the machine's cores: request workers, bcrypt lanes and
//! the blocking pool.

use crate::config::Config;

/// The cores this process may use (2 when the system cannot say): tokio's default worker
/// count, and what the bcrypt lanes are sized from.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// How many password hashes may run at once: all cores but one, so a burst of logins
/// always leaves a core to other requests.
pub(crate) fn hash_lanes() -> usize {
    cores().saturating_sub(1).max(1)
}

/// The most threads tokio may start for blocking work, derived from the pool size: one
/// per database connection (diesel-async runs every SQLite statement on tokio's
/// blocking pool), one per bcrypt lane, one per worker (a worker that waits for a
/// cancelled SQLite statement hands its place to a blocking thread) and 4 for media
/// files and uploads; further work queues. Unbounded (tokio's default is 512), the pool
/// grew to ~50 threads under load in SQLite mode, each with its own allocator heap
/// (bench/RESULTS.md). No deadlock: only statements waiting for SQLite's write lock
/// hold a thread for long, and they are fewer than the connections; everything else on
/// the pool ends on its own, so the lock holder's next statement gets a thread.
pub fn max_blocking_threads(config: &Config) -> usize {
    let workers = config.server.worker_threads.map_or_else(cores, usize::from);
    config.database.db_pool_size as usize + hash_lanes() + workers + 4
}
