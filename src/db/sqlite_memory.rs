//! SQLite's own memory (page caches, statements, rows) from mimalloc instead of glibc's
//! malloc.
//!
//! SQLite statements run on tokio's blocking threads, where glibc's malloc (an arena per
//! thread) was the slower allocator: with mimalloc, SQLite mode served 12–19 % more
//! requests in W1–W4 and gave memory back after the load (RSS 40 MB instead of 58 MB
//! after W4), at the same peak (bench/RESULTS.md).

use std::ffi::{c_int, c_void};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use libsqlite3_sys as sqlite;

unsafe extern "C" {
    // Part of mimalloc's API; libmimalloc-sys declares them only behind its `extended`
    // feature.
    fn mi_usable_size(p: *const c_void) -> usize;
    fn mi_good_size(size: usize) -> usize;
}

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Whether SQLite allocates through mimalloc in this process.
pub fn is_installed() -> bool {
    INSTALLED.load(Ordering::Relaxed)
}

/// Hands SQLite's allocations to mimalloc. Takes effect only before SQLite's first use in
/// the process (SQLite then refuses, and keeps the system allocator).
pub(crate) fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let methods = sqlite::sqlite3_mem_methods {
            xMalloc: Some(malloc),
            xFree: Some(free),
            xRealloc: Some(realloc),
            xSize: Some(size),
            xRoundup: Some(roundup),
            xInit: Some(init),
            xShutdown: Some(shutdown),
            pAppData: std::ptr::null_mut(),
        };
        // SAFETY: SQLITE_CONFIG_MALLOC takes a pointer to a sqlite3_mem_methods, which
        // SQLite copies before returning; the functions below keep its contract (8-byte
        // aligned blocks, NULL on failure, xSize of a live block).
        let rc =
            unsafe { sqlite::sqlite3_config(sqlite::SQLITE_CONFIG_MALLOC, &raw const methods) };
        if rc == sqlite::SQLITE_OK {
            INSTALLED.store(true, Ordering::Relaxed);
        } else {
            tracing::warn!(
                rc,
                "SQLite was already in use: it keeps the system allocator"
            );
        }
    });
}

/// Caps the memory SQLite keeps for itself in this process, all connections together
/// (its soft heap limit): past it, SQLite reuses its page caches' least recent pages
/// rather than allocating more. Without it every connection (13 in SQLite mode) keeps a
/// 2 MiB page cache and sorts in memory: SQLite itself reached 67 MB under the faceted
/// category workload, the process 113 MB; with 8 MiB, 60 MB (bench/RESULTS.md).
pub(crate) fn limit_to_mib(mib: u32) {
    let bytes = i64::from(mib) * 1024 * 1024;
    // SAFETY: a setter of one process-wide value, callable at any time from any thread.
    unsafe {
        sqlite::sqlite3_soft_heap_limit64(bytes);
    }
}

fn to_usize(n: c_int) -> usize {
    usize::try_from(n).unwrap_or(0)
}

fn to_int(n: usize) -> c_int {
    c_int::try_from(n).unwrap_or(c_int::MAX)
}

unsafe extern "C" fn malloc(n: c_int) -> *mut c_void {
    unsafe { libmimalloc_sys::mi_malloc(to_usize(n)) }
}

unsafe extern "C" fn free(p: *mut c_void) {
    unsafe { libmimalloc_sys::mi_free(p) }
}

unsafe extern "C" fn realloc(p: *mut c_void, n: c_int) -> *mut c_void {
    unsafe { libmimalloc_sys::mi_realloc(p, to_usize(n)) }
}

unsafe extern "C" fn size(p: *mut c_void) -> c_int {
    to_int(unsafe { mi_usable_size(p) })
}

unsafe extern "C" fn roundup(n: c_int) -> c_int {
    to_int(unsafe { mi_good_size(to_usize(n)) })
}

unsafe extern "C" fn init(_: *mut c_void) -> c_int {
    sqlite::SQLITE_OK
}

unsafe extern "C" fn shutdown(_: *mut c_void) {}
