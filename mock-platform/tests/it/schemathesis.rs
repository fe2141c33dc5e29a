//! The admin API fuzzed as an API: schemathesis (PyPI, installed by testkit when missing) reads
//! `GET /admin/openapi.json` from a running platform and sends the requests it generates from it. Every answer must
//! have a documented status and content type and match its documented schema (so every 4xx is `{"error": …}`), and
//! none may be a 5xx.

use serde_json::json;

use crate::support::Harness;

/// Pinned, so a new schemathesis release cannot change what CI checks without a commit here.
const SCHEMATHESIS: testkit::PythonTool<'static> =
    testkit::PythonTool { command: "schemathesis", requirement: "schemathesis==4.32.5" };

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_undocumented_answer_and_no_server_error_in_the_admin_api() {
    let schemathesis =
        testkit::ensure_python_tool(SCHEMATHESIS).unwrap_or_else(|e| panic!("this test needs schemathesis: {e}"));
    // A merchant and an order, so generated requests naming them reach more than the 404 paths.
    let harness = Harness::start().await;
    harness.buy(json!({})).await;
    // Its working directory too: schemathesis keeps a cache of past failures there (`.schemathesis/`), which would
    // land in the source tree and make one run depend on the last.
    let report_dir = std::env::temp_dir().join(format!("mock-platform-schemathesis-{}", std::process::id()));
    std::fs::create_dir_all(&report_dir).expect("creating the schemathesis directory");
    let output = tokio::process::Command::new(schemathesis)
        .arg("run")
        .arg(format!("{}/admin/openapi.json", harness.base))
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "15",
            "--workers",
            "1",
            // Reproducible: the same requests on every run and machine.
            "--seed",
            "20261206",
            "--generation-deterministic",
            "--no-color",
        ])
        .arg("--report-dir")
        .arg(&report_dir)
        .current_dir(&report_dir)
        .env("NO_COLOR", "1")
        .kill_on_drop(true)
        .output()
        .await
        .expect("running schemathesis");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found answers the OpenAPI document does not describe:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // It really ran: a summary with generated cases, none failed.
    let summary =
        stdout.lines().find(|l| l.contains(" generated, ")).unwrap_or_else(|| panic!("no summary:\n{stdout}"));
    assert!(!summary.contains("failed"), "{summary}");
    let _ = std::fs::remove_dir_all(report_dir);
}
