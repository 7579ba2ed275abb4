//! A PostgreSQL that goes away: requests fail fast instead of waiting for the pool's
//! checkout timeout, /readyz answers from the last known state, and the server recovers
//! by itself. The database goes away behind a TCP proxy the test cuts, never the shared
//! server itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{Backend, TestApp};

/// A TCP proxy to `target` that can be cut (every connection closed, new ones closed at
/// once, as a database host that went away) and restored.
struct CuttableProxy {
    addr: std::net::SocketAddr,
    cut: Arc<AtomicBool>,
    connections: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl CuttableProxy {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(std::sync::Mutex::new(Vec::new()));
        let accept = tokio::spawn({
            let (cut, connections) = (cut.clone(), connections.clone());
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if cut.load(Ordering::SeqCst) {
                        continue; // dropped: closed at once
                    }
                    let target = target.clone();
                    let relay = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(&target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    connections.lock().unwrap().push(relay);
                }
            }
        });
        CuttableProxy {
            addr,
            cut,
            connections,
            accept,
        }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for relay in self.connections.lock().unwrap().drain(..) {
            relay.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// `host:port` of a `postgres://user@host:port/db?…` URL.
fn host_and_port(url: &str) -> String {
    let after_at = url.rsplit_once('@').map_or(url, |(_, rest)| rest);
    let host_port = after_at.split(['/', '?']).next().unwrap_or(after_at);
    if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(postgres_tests), ignore = "TEST_POSTGRES_URL is not set")]
async fn a_database_outage_fails_fast_and_recovers() {
    let base = std::env::var("TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .expect(crate::helpers::NO_POSTGRES);
    let target = host_and_port(&base);
    let proxy = CuttableProxy::start(target.clone()).await;
    let proxied = proxy.addr.to_string();
    let app = TestApp::spawn(Backend::Postgres, |c| {
        assert!(
            c.database.database_url.contains(&target),
            "{}",
            c.database.database_url
        );
        c.database.database_url = c.database.database_url.replacen(&target, &proxied, 1);
    })
    .await
    .unwrap();
    let admin = app.admin("admin@example.com").await;
    let query = "{ products { totalCount } }";
    let ok = app.gql(query, json!({}), Some(&admin)).await;
    assert_eq!(ok["data"]["products"]["totalCount"], 0, "{ok}");

    proxy.cut();
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let started = Instant::now();
        let body = app.gql(query, json!({}), Some(&admin)).await;
        slowest = slowest.max(started.elapsed());
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "INTERNAL_SERVER_ERROR",
            "{body}"
        );
    }
    // Before, each request waited for the pool's 10 s checkout timeout; a bound well
    // under it, with room for a loaded machine.
    assert!(
        slowest < Duration::from_secs(3),
        "a request waited {slowest:?}"
    );

    // /readyz reports the outage from the probe's last round, without waiting itself.
    let mut ready_took = Duration::ZERO;
    let down = wait_for_readyz(&app, 503, &mut ready_took).await;
    assert!(down, "/readyz never said 503");
    assert!(
        ready_took < Duration::from_secs(1),
        "/readyz took {ready_took:?}"
    );

    proxy.restore();
    let restored = Instant::now();
    let recovered = loop {
        let body = app.gql(query, json!({}), Some(&admin)).await;
        if body["data"]["products"]["totalCount"] == 0 {
            break restored.elapsed();
        }
        assert!(
            restored.elapsed() < Duration::from_secs(10),
            "no recovery: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The pool makes a new connection at the next checkout, without a backoff to sit out.
    assert!(
        recovered < Duration::from_secs(2),
        "recovered after {recovered:?}"
    );
    assert!(wait_for_readyz(&app, 200, &mut ready_took).await);
    eprintln!(
        "outage: slowest failing request {slowest:?}, /readyz {ready_took:?}, first good request {recovered:?} after the restore"
    );
}

/// Polls /readyz until it answers `status` (at most 5 s); records the slowest answer.
async fn wait_for_readyz(app: &TestApp, status: u16, slowest: &mut Duration) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let started = Instant::now();
        let response = app.client.get(app.url("/readyz")).send().await.unwrap();
        *slowest = (*slowest).max(started.elapsed());
        if response.status() == status {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A pool that is only busy is not a database that is down: /readyz stays 200 while every
/// connection is taken and a request waits for one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_pool_is_not_a_database_that_is_down() {
    let app = TestApp::spawn(Backend::Sqlite, |c| c.database.db_pool_size = 1)
        .await
        .unwrap();
    let admin = app.admin("admin@example.com").await;
    let held = app.state.db.get().await.expect("the only connection");
    let waiting = {
        let (client, url, admin) = (app.client.clone(), app.url("/graphql"), admin.clone());
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(admin)
                .json(&json!({ "query": "{ products { totalCount } }" }))
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        })
    };
    // Across the probe's rounds while the request waits, the server stays ready. The
    // sleep is the subject: time must pass over several rounds (one a second).
    for _ in 0..6 {
        let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(held);
    let body = waiting.await.unwrap();
    assert_eq!(body["data"]["products"]["totalCount"], 0, "{body}");
}
