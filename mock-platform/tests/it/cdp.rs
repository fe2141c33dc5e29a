//! A minimal headless-Chromium driver over the DevTools protocol, for the console's end-to-end test.
//!
//! It speaks CDP over `--remote-debugging-pipe` (NUL-terminated JSON on the browser's fds 3 and 4, mapped from
//! our stdin/stdout pipes by `sh`), so no WebSocket client and no port discovery are needed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// One CDP answer, or one polled condition, never takes longer than this.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug)]
pub struct Browser {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
    session: String,
    profile: PathBuf,
    /// Uncaught exceptions the page reported (`Runtime.exceptionThrown`), as text.
    exceptions: Vec<String>,
}

impl Browser {
    /// Starts headless Chromium with a fresh profile and attaches to one blank page.
    pub async fn launch() -> Self {
        // Installs Debian's chromium on a fresh machine (the README's test command must pass with nothing done
        // first); `CHROMIUM` points at a browser kept elsewhere.
        let chromium = testkit::ensure(testkit::CHROMIUM)
            .unwrap_or_else(|e| panic!("the console end-to-end test needs Chromium: {e}"))
            .display()
            .to_string();
        let profile = std::env::temp_dir().join(format!(
            "mock-platform-chromium-{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos()
        ));
        std::fs::create_dir_all(&profile).unwrap();
        let mut child = Command::new("sh")
            // fd 3 = our stdin pipe (commands in), fd 4 = our stdout pipe (answers out); the browser's own output
            // goes to stderr, which is dropped.
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>&2"#)
            .arg(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                // Nothing beyond loopback: no pings, reports, safe-browsing or translation fetches.
                "--no-pings",
                "--disable-domain-reliability",
                "--disable-client-side-phishing-detection",
                "--safebrowsing-disable-auto-update",
                "--disable-features=Translate,OptimizationHints,MediaRouter",
                "--disable-default-apps",
                "--no-proxy-server",
                "--window-size=1400,680",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {chromium}: {e}"));
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut browser =
            Self { child, stdin, stdout, next_id: 0, session: String::new(), profile, exceptions: Vec::new() };
        let target = browser.browser_call("Target.createTarget", json!({"url": "about:blank"})).await;
        let target_id = target["targetId"].as_str().expect("a targetId").to_owned();
        let attached =
            browser.browser_call("Target.attachToTarget", json!({"targetId": target_id, "flatten": true})).await;
        browser.session = attached["sessionId"].as_str().expect("a sessionId").to_owned();
        browser.call("Page.enable", json!({})).await;
        browser.call("Runtime.enable", json!({})).await;
        browser
            .call(
                "Emulation.setDeviceMetricsOverride",
                json!({"width": 1400, "height": 680, "deviceScaleFactor": 1, "mobile": false}),
            )
            .await;
        browser
    }

    async fn send(&mut self, method: &str, params: Value, session: Option<String>) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = session.into();
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.stdin.write_all(&bytes).await.expect("writing to Chromium");
        self.stdin.flush().await.unwrap();
        let exceptions = &mut self.exceptions;
        let stdout = &mut self.stdout;
        let answer = tokio::time::timeout(STEP_TIMEOUT, async {
            loop {
                let mut buffer = Vec::new();
                let n = stdout.read_until(0, &mut buffer).await.expect("reading from Chromium");
                assert!(n > 0, "Chromium closed its DevTools pipe");
                buffer.pop_if(|b| *b == 0);
                let message: Value = serde_json::from_slice(&buffer).expect("CDP JSON");
                if message["id"] == id {
                    return message;
                }
                if message["method"] == "Runtime.exceptionThrown" {
                    exceptions.push(message["params"]["exceptionDetails"].to_string());
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no answer to {method} within {STEP_TIMEOUT:?}"));
        assert!(answer.get("error").is_none(), "{method}: {}", answer["error"]);
        answer["result"].clone()
    }

    async fn browser_call(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, None).await
    }

    /// A command on the attached page.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.send(method, params, Some(session)).await
    }

    pub async fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
        self.wait_until("document.readyState === 'complete' && location.href !== 'about:blank'", "the page load").await;
    }

    /// Evaluates `expression` in the page (promises awaited) and returns its value; a thrown error fails the test.
    pub async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call("Runtime.evaluate", json!({"expression": expression, "returnByValue": true, "awaitPromise": true}))
            .await;
        assert!(result.get("exceptionDetails").is_none(), "{expression}: {}", result["exceptionDetails"]);
        result["result"]["value"].clone()
    }

    /// Polls `expression` until it is `true` (bounded).
    pub async fn wait_until(&mut self, expression: &str, what: &str) {
        let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
        loop {
            if self.eval(&format!("Boolean({expression})")).await == Value::Bool(true) {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                let text = self.eval("document.body ? document.body.innerText.slice(0, 3000) : ''").await;
                panic!("timed out waiting for {what} ({expression}); the page shows:\n{}", text.as_str().unwrap_or(""));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&mut self) -> Vec<u8> {
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"})).await;
        base64_decode(shot["data"].as_str().expect("screenshot data"))
    }

    /// The page's uncaught exceptions so far.
    pub fn exceptions(&self) -> &[String] {
        &self.exceptions
    }

    /// Lets downloads land in `dir` (the console's "export case" button).
    pub async fn allow_downloads(&mut self, dir: &Path) {
        let params = json!({"behavior": "allow", "downloadPath": dir.to_string_lossy(), "eventsEnabled": false});
        self.browser_call("Browser.setDownloadBehavior", params).await;
    }

    /// The profile directory, removed by [`Browser::close`].
    pub fn profile(&self) -> &Path {
        &self.profile
    }

    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.browser_call("Browser.close", json!({}))).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

impl Drop for Browser {
    /// A failed test still leaves no browser and no profile behind.
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Standard base64 (CDP's binary encoding), padding and whitespace tolerated.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c:#x}"),
    };
    let digits: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=').map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, d)| n | (u32::from(*d) << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[test]
fn base64_decode_reads_padded_and_unpadded_input() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGVsbG8h"), b"hello!");
    assert_eq!(base64_decode("aGk"), b"hi");
}
