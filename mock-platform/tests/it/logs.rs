//! The binary's logs: plain text when its output is not a terminal.

use std::io::BufRead;
use std::process::{Command, Stdio};

/// Kills the child when the test ends, pass or fail.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `mock-platform serve --listen 127.0.0.1:0 ARGS…` with its log on a pipe (stdout), no admin token, colour and log
/// level from the environment removed; `env` sets the variables the test is about.
fn serve(args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mock-platform"));
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .env_remove("MOCK_PLATFORM_ADMIN_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    Child(command.spawn().unwrap())
}

/// The child's first log line (blocking: the line the binary writes once it listens).
fn first_line(child: &mut Child) -> String {
    let mut line = String::new();
    std::io::BufReader::new(child.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
    line
}

#[test]
fn logs_written_to_a_pipe_carry_no_colour_codes() {
    let mut child = serve(&[], &[]);
    let line = first_line(&mut child);
    assert!(line.contains("mock-platform listening"), "{line:?}");
    assert!(!line.contains('\u{1b}'), "escape codes in a piped log: {line:?}");
    // The replica id: host, this child's pid, 4 hex digits.
    let pid = child.0.id();
    assert!(line.contains("replica{id=") && line.contains(&format!(":{pid}:")), "no replica id: {line:?}");
}

/// Every line the binary logs while it registers a merchant, sells an order and attempts its notification carries
/// the same replica span. A child process, not a subscriber set for one test thread: `tracing` caches whether a
/// callsite is enabled across all threads, so a thread-local subscriber can miss a span another test's thread
/// registered first (such a test was flaky here).
#[tokio::test]
async fn every_log_line_of_a_served_order_carries_the_replica_id() {
    let mut child = serve(&[], &[("RUST_LOG", "mock_platform=info")]);
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    let stdout = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut next_line = async || {
        tokio::time::timeout(std::time::Duration::from_secs(30), lines.recv())
            .await
            .expect("a log line within 30 s")
            .expect("the child logs until it is killed")
    };
    let first = next_line().await;
    let span = first.split_whitespace().find(|w| w.starts_with("replica{id=")).expect("a replica span").to_owned();
    let span = span.split('}').next().unwrap().to_owned();
    let addr = first.split_whitespace().find_map(|w| w.strip_prefix("addr=")).expect("the address").to_owned();
    let http = reqwest::Client::new();
    let post = async |path: &str, body: serde_json::Value| {
        let response = http.post(format!("http://{addr}{path}")).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 201, "{path}: {}", response.text().await.unwrap());
    };
    post(
        "/admin/merchants",
        serde_json::json!({"app_key": "12345678", "app_secret": "s", "notify_key": "k",
            "notify_url": "http://127.0.0.1:1/notify", "session": "sk", "phase": "live"}),
    )
    .await;
    post(
        "/admin/orders",
        serde_json::json!({"app_key": "12345678", "num": 1, "mobile": "13800000000", "item_title": "门票"}),
    )
    .await;
    let mut seen = vec![first];
    while !seen.last().unwrap().contains("notification attempt") {
        seen.push(next_line().await);
    }
    for what in ["merchant registered", "order paid (T1)", "notification attempt"] {
        assert!(seen.iter().any(|l| l.contains(what)), "no {what:?} line: {seen:#?}");
    }
    for line in &seen {
        assert!(line.contains(&span), "a line without {span}: {line}");
    }
}

/// A replica of a shared platform: the URL's password never reaches the log, and the public URL it hands out is the
/// one given (a load balancer's), not its own address.
#[test]
fn a_replica_logs_its_database_without_the_password_and_its_public_url() {
    let database = testkit::postgres::database();
    // The test server trusts local connections: a password in the URL is accepted and ignored.
    let url = database.url().replacen("postgres://postgres@", "postgres://postgres:pa55-w0rd@", 1);
    assert!(url.contains("pa55-w0rd"), "{url}");
    let mut child = serve(&["--public-url", "http://sandbox.example:8080/"], &[("MOCK_PLATFORM_DB", &url)]);
    let line = first_line(&mut child);
    assert!(line.contains("mock-platform listening"), "{line:?}");
    assert!(!line.contains("pa55-w0rd"), "the password in a log: {line:?}");
    assert!(line.contains("postgres://postgres:***@"), "{line:?}");
    assert!(line.contains("public=http://sandbox.example:8080 "), "{line:?}");
}
