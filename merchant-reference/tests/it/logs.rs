//! The binary's logs: plain text when its output is not a terminal.

use std::io::BufRead;

use crate::support::*;

#[tokio::test]
async fn logs_written_to_a_pipe_carry_no_colour_codes() {
    let gateway = FakeGateway::start().await;
    let db = TempDb::new("logs");
    let (merchant, logs) = Process::spawn_logging(&gateway.url, &db.0);
    // A refused notification is logged at warn.
    let response = reqwest::Client::new().get(merchant.notify_url()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let line = tokio::task::spawn_blocking(move || {
        let mut lines = std::io::BufReader::new(logs).lines();
        lines.find(|l| l.as_ref().map_or(true, |l| l.contains("notification rejected"))).unwrap().unwrap()
    })
    .await
    .unwrap();
    drop(merchant);
    assert!(!line.contains('\u{1b}'), "escape codes in a piped log: {line:?}");
}
