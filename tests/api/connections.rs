//! Connections that never finish their request, or sit idle, are closed; more of them
//! than the process has files for never stop the server from answering.

use std::time::{Duration, Instant};

use futures_util::SinkExt;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{Backend, TestApp};
use crate::subscriptions::{next_json, signed_in};

/// Whether the server closes `stream` within `within` (reads until end of file).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buffer = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// A normal GraphQL request to `addr` is answered with 200 within `within`.
async fn assert_answers(addr: std::net::SocketAddr, within: Duration) {
    let client = reqwest::Client::builder().timeout(within).build().unwrap();
    let answer = client
        .post(format!("http://{addr}/graphql"))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("a normal request is answered");
    assert_eq!(answer.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_connections_are_closed_and_never_exhaust_files() {
    // The test itself holds 1,300 sockets.
    mini_ecommerce::server::raise_open_file_limit();
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let mut server = app
        .server_process_with(&[("HTTP_HEADER_TIMEOUT_SECS", "3")], Some(1024))
        .await;
    let addr = server.addr;

    let mut idle = Vec::new();
    for _ in 0..1_100 {
        // Past the connection cap the kernel's backlog takes them; past the backlog a
        // connect may wait, which is the server's right.
        if let Ok(Ok(stream)) =
            tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await
        {
            idle.push(stream);
        }
    }
    let mut slow = Vec::new();
    for _ in 0..200 {
        if let Ok(Ok(mut stream)) =
            tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await
        {
            let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nho").await;
            slow.push(stream);
        }
    }
    assert!(
        idle.len() >= 1_000,
        "{} idle connections opened",
        idle.len()
    );
    // The slow ones go on with a byte now and then, as a slowloris client does.
    let trickle = tokio::spawn(async move {
        for _ in 0..8 {
            for stream in &mut slow {
                let _ = stream.write_all(b"s").await;
            }
            // The client's stalling is the subject: this is how slowly it sends.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        slow
    });

    // A normal request is answered meanwhile, not refused for want of files.
    let started = Instant::now();
    assert_answers(addr, Duration::from_secs(20)).await;
    let waited = started.elapsed();
    assert!(server.is_running());

    // Idle sockets are closed by the header deadline (2-3 s), not left open for good.
    for stream in idle.iter_mut().take(50) {
        assert!(
            closed_within(stream, Duration::from_secs(10)).await,
            "an idle connection stayed open"
        );
    }
    let mut slow = trickle.await.unwrap();
    for stream in slow.iter_mut().take(50) {
        assert!(
            closed_within(stream, Duration::from_secs(10)).await,
            "a slow connection stayed open"
        );
    }
    assert_answers(addr, Duration::from_secs(10)).await;
    eprintln!(
        "a normal request beside {} idle and {} slow connections waited {waited:?}",
        idle.len(),
        slow.len()
    );
}

/// A WebSocket lives on past the header deadline: the deadline ends with the upgrade.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_outlive_the_header_deadline() {
    let app = TestApp::spawn(Backend::Sqlite, |c| c.server.http_header_timeout_secs = 1)
        .await
        .unwrap();
    let (token, _, _) = app.register("ws@example.com").await;
    let mut socket = signed_in(app.addr, "graphql-transport-ws", &token).await;
    // The subject: the socket sits idle past the (1 s) header deadline.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let subscribe =
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { nope }" } });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .unwrap();
    let answer = next_json(&mut socket)
        .await
        .expect("the socket is still open");
    assert_eq!(answer["id"], "1", "{answer}");
}

/// WebSockets hold their connection's slot after the upgrade: 1,100 of them that never
/// send `connection_init` cannot exhaust the files of a process limited to 1,024.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_websockets_count_against_the_connection_cap() {
    mini_ecommerce::server::raise_open_file_limit();
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let mut server = app.server_process_with(&[], Some(1024)).await;
    let addr = server.addr;
    let mut sockets = Vec::new();
    for _ in 0..1_100 {
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
                format!("ws://{addr}/graphql/ws"),
            )
            .unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        if let Ok(Ok((socket, _))) = tokio::time::timeout(
            Duration::from_millis(200),
            tokio_tungstenite::connect_async(request),
        )
        .await
        {
            sockets.push(socket);
        }
    }
    assert!(sockets.len() >= 500, "{} upgrades", sockets.len());
    // Held sockets end at the 10 s init deadline; a normal request is answered by then.
    assert_answers(addr, Duration::from_secs(30)).await;
    assert!(server.is_running());
    eprintln!(
        "{} idle WebSockets open beside a normal request",
        sockets.len()
    );
}

/// A WebSocket that never sends `connection_init` is closed with 4408 after 10 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_websocket_is_closed_after_the_init_deadline() {
    use futures_util::StreamExt;
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{}/graphql/ws",
            app.addr
        ))
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let started = Instant::now();
    let message = tokio::time::timeout(Duration::from_secs(20), socket.next())
        .await
        .expect("closed within 20 s");
    match message {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 4408),
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "{:?}",
        started.elapsed()
    );
}
