//! Process-wide settings of the storage layer.

use crate::helpers::{Backend, TestApp};

/// SQLite accepts an allocator only before its first use; a SQLite connection opened
/// before `db::sqlite_memory::install` would silently keep glibc's malloc.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_allocates_through_mimalloc() {
    let _app = TestApp::spawn(Backend::Sqlite, |_| {})
        .await
        .expect("SQLite always runs");
    assert!(mini_ecommerce::db::sqlite_memory::is_installed());
}
