//! INTERFACES §1 "Connections" and the gateway's shape: idle and slow clients are cut off after the connection
//! timeout, and requests hyper cannot parse still get a TOP envelope (gateway) or `{"error": …}` (elsewhere).

use std::time::Duration;

use mock_platform::PlatformConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::Harness;

/// A platform whose connections time out after 1 s.
async fn impatient() -> Harness {
    Harness::with_config(PlatformConfig { connection_timeout: Duration::from_secs(1), ..PlatformConfig::default() })
        .await
}

async fn connect(h: &Harness) -> TcpStream {
    TcpStream::connect(h.base.trim_start_matches("http://")).await.unwrap()
}

/// Reads until the server closes the connection (10 s at most: far beyond the 1 s timeout); returns what came.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut bytes)).await;
    assert!(read.is_ok(), "the server kept the connection open; read so far: {:?}", String::from_utf8_lossy(&bytes));
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_timeout() {
    let h = impatient().await;
    let mut stream = connect(&h).await;
    assert_eq!(read_to_close(&mut stream).await, "");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_timeout() {
    let h = impatient().await;
    let mut stream = connect(&h).await;
    stream.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    let answer = read_to_close(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(!answer.contains("connection: close"), "kept alive, then closed when idle: {answer}");
}

#[tokio::test]
async fn a_client_sending_one_header_byte_every_200_ms_is_cut_off() {
    let h = impatient().await;
    let mut stream = connect(&h).await;
    let request = format!("GET /metrics HTTP/1.1\r\nhost: x\r\nx-slow: {}\r\n\r\n", "s".repeat(100));
    let (mut reader, mut writer) = stream.split();
    let trickle = async {
        for byte in request.bytes() {
            if writer.write_all(&[byte]).await.is_err() {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        true
    };
    let mut answer = Vec::new();
    tokio::select! {
        finished = trickle => panic!("the whole slow head was accepted (writes all succeeded: {finished})"),
        _ = reader.read_to_end(&mut answer) => {}
    }
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
}

#[tokio::test]
async fn a_client_sending_its_body_too_slowly_is_cut_off() {
    let h = impatient().await;
    let mut stream = connect(&h).await;
    let head = "POST /router/rest HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\n\
                content-length: 100\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = stream.split();
    let trickle = async {
        for _ in 0..100 {
            if writer.write_all(b"a").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        std::future::pending::<()>().await;
    };
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::select! {
            () = trickle => unreachable!(),
            _ = reader.read_to_end(&mut answer) => {}
        }
    })
    .await;
    assert!(closed.is_ok(), "the slow body was still being read after 10 s");
    let answer = String::from_utf8_lossy(&answer);
    // The gateway could not read the params: 43, as for any unreadable body.
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n") && answer.contains("<code>43</code>"), "{answer}");
}

/// Sends `request` raw and returns the whole answer (the server closes the connection after these).
async fn raw(h: &Harness, request: &[u8]) -> String {
    let mut stream = connect(h).await;
    stream.write_all(request).await.unwrap();
    read_to_close(&mut stream).await
}

#[tokio::test]
async fn a_gateway_query_string_over_64_kib_gets_a_43_envelope() {
    let h = Harness::start().await;
    let request = format!("GET /router/rest?method=x&pad={} HTTP/1.1\r\nhost: x\r\n\r\n", "p".repeat(70_000));
    let answer = raw(&h, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\ncontent-type: text/xml"), "{answer}");
    assert!(answer.contains("<code>43</code>"), "{answer}");
}

#[tokio::test]
async fn a_gateway_call_with_more_than_100_headers_gets_a_43_envelope() {
    let h = Harness::start().await;
    let headers: String = (0..150).map(|i| format!("x-h{i}: v\r\n")).collect();
    let request = format!(
        "POST /router/rest HTTP/1.1\r\nhost: x\r\n{headers}content-type: application/x-www-form-urlencoded\r\n\
         content-length: 8\r\n\r\nmethod=x"
    );
    let answer = raw(&h, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("<code>43</code>"), "{answer}");
}

#[tokio::test]
async fn an_admin_path_over_64_kib_gets_json_not_an_empty_414() {
    let h = Harness::start().await;
    let request = format!("GET /admin/orders/{} HTTP/1.1\r\nhost: x\r\n\r\n", "9".repeat(70_000));
    let answer = raw(&h, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\n"), "{answer}");
    assert!(answer.ends_with(r#"{"error":"the request target is too long (64 KiB at most)"}"#), "{answer}");
}
