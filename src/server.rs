//! Accepting and serving HTTP connections, with the bounds a public server needs: a
//! deadline for each request's headers (which also closes idle keep-alive connections),
//! a cap on open connections below the process's file limit, and graceful shutdown.
//!
//! `axum::serve` sets neither a header deadline nor a connection cap: 2,000 idle
//! connections and 200 that sent their headers a byte at a time stayed open as long as
//! their clients wished, and about 1,100 of them under the common limit of 1,024 open
//! files stopped the server from accepting anything (`Too many open files`). So the
//! accept loop is ours, over hyper's HTTP/1.1 connection (HTTP/2 is left to the reverse
//! proxy in front, which is where TLS ends too).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;

/// How long a connection may take to send a request's headers once the server is more
/// than half full: slots held by slow or idle clients come back quickly under pressure.
const BUSY_HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// How long shutdown waits for open connections to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Files kept free for everything but client connections: database connections, SQLite's
/// files, media, the listening socket, logs.
const RESERVED_FILES: u64 = 128;

/// A connection's place under the cap, in every request's extensions: a WebSocket keeps
/// it after the upgrade (when hyper's part of the connection ends), so open sockets
/// count against the cap whatever they speak.
#[derive(Clone)]
pub(crate) struct ConnectionSlot(
    #[expect(dead_code, reason = "held, never read")] Arc<OwnedSemaphorePermit>,
);

/// The bounds on client connections.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    /// The time a connection has to send a request's headers, from its opening or the end
    /// of its previous response (so it is also the idle keep-alive timeout).
    pub header_timeout: Duration,
    pub max_connections: usize,
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets requests in flight
/// end. At `max_connections`, new connections wait in the kernel's backlog until one ends.
pub(crate) async fn serve(
    router: Router,
    listener: TcpListener,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let slot = ConnectionSlot(Arc::new(slot));
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small responses go out at once instead of waiting for the client's ACK of the
        // previous segment (Nagle's algorithm), as in most HTTP servers.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
        let half_full = slots.available_permits() < limits.max_connections / 2;
        let header_timeout = if half_full {
            limits.header_timeout.min(BUSY_HEADER_TIMEOUT)
        } else {
            limits.header_timeout
        };
        let request_slot = slot.clone();
        let service = router
            .clone()
            .map_request(move |mut request: axum::extract::Request<_>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request.extensions_mut().insert(request_slot.clone());
                request
            });
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .with_upgrades();
            tokio::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                // The only change is to stopping (or the loop is gone).
                _ = stopping.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection gives its slot back when it ends; WebSockets, and clients that
    // stop reading, are not waited for beyond the grace period.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period");
    }
    Ok(())
}

/// Errors of one connection (reset before it was accepted) are the client's; others,
/// such as running out of files, would repeat at once, so the loop pauses.
async fn accept_failed(error: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::error!(error = %error, "accept failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Raises the soft limit of open files to the hard limit (many systems start services
/// with 1,024), and returns the connections that fit below it: the cap's default.
pub fn raise_open_file_limit() -> usize {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
        let files = unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return 1024 - RESERVED_FILES as usize;
            }
            if limit.rlim_cur < limit.rlim_max {
                let raised = libc::rlimit {
                    rlim_cur: limit.rlim_max,
                    rlim_max: limit.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    limit.rlim_cur = limit.rlim_max;
                }
            }
            limit.rlim_cur
        };
        let fit = files.saturating_sub(RESERVED_FILES).max(16);
        usize::try_from(fit)
            .unwrap_or(usize::MAX)
            .min(MAX_DEFAULT_CONNECTIONS)
    }
    #[cfg(not(unix))]
    {
        MAX_DEFAULT_CONNECTIONS
    }
}

/// The default cap where the file limit is higher still.
const MAX_DEFAULT_CONNECTIONS: usize = 50_000;
