//! Idle and slow clients are cut off after the connection timeout, so they cannot hold the merchant's file
//! handles (INTERFACES §1 "Connections").

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

/// A merchant whose connections time out after 1 s, and a raw connection to it.
async fn impatient(name: &str) -> (Running, TempDb, FakeGateway, TcpStream) {
    let gateway = FakeGateway::start().await;
    let db = TempDb::new(name);
    let mut config = config(&gateway.url, &db.0);
    config.connection_timeout = Duration::from_secs(1);
    let merchant = Running::start(config).await;
    let stream = TcpStream::connect(merchant.base.trim_start_matches("http://")).await.unwrap();
    (merchant, db, gateway, stream)
}

/// Runs `client` against the connection until the merchant closes it (10 s at most, far past the 1 s timeout);
/// returns what the merchant sent.
async fn until_closed(stream: &mut TcpStream, client: impl AsyncFnOnce(&mut tokio::net::tcp::WriteHalf<'_>)) -> String {
    let (mut reader, mut writer) = stream.split();
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::select! {
            () = async { client(&mut writer).await; std::future::pending::<()>().await } => {}
            _ = reader.read_to_end(&mut answer) => {}
        }
    })
    .await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(closed.is_ok(), "the merchant kept the connection open; it sent: {answer:?}");
    answer
}

/// Sends `bytes` one every 200 ms.
async fn trickle(writer: &mut tokio::net::tcp::WriteHalf<'_>, bytes: &[u8]) {
    for byte in bytes {
        if writer.write_all(&[*byte]).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_timeout() {
    let (_merchant, _db, _gateway, mut stream) = impatient("idle").await;
    let answer = until_closed(&mut stream, async |w| {
        w.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    })
    .await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n") && answer.ends_with("ok"), "{answer}");
}

#[tokio::test]
async fn a_client_sending_one_header_byte_every_200_ms_is_cut_off() {
    let (_merchant, _db, _gateway, mut stream) = impatient("slow-head").await;
    let head = format!("POST /notify HTTP/1.1\r\nhost: x\r\nx-slow: {}\r\n\r\n", "s".repeat(100));
    let answer = until_closed(&mut stream, async |w| trickle(w, head.as_bytes()).await).await;
    assert_eq!(answer, "");
}

#[tokio::test]
async fn a_client_sending_its_body_too_slowly_is_cut_off() {
    let (_merchant, _db, _gateway, mut stream) = impatient("slow-body").await;
    let answer = until_closed(&mut stream, async |w| {
        let head = "POST /notify HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\n\
                    content-length: 100\r\n\r\n";
        w.write_all(head.as_bytes()).await.unwrap();
        trickle(w, &[b'a'; 100]).await;
    })
    .await;
    // The body never arrived whole: refused like any unreadable notification.
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n") && answer.ends_with(r#"{"code":501}"#), "{answer}");
}
