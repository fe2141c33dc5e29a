//! The CLI contract of INTERFACES.md §2: `list`, and exit code 2 only for problems before the plan.

use std::process::Command;

fn conformance() -> Command {
    Command::new(env!("CARGO_BIN_EXE_conformance"))
}

const CREDENTIALS: [&str; 8] = ["--app-key", "12345678", "--app-secret", "s", "--session", "sess", "--notify-key", "k"];

#[test]
fn list_prints_every_check_with_its_rule() {
    let out = conformance().arg("list").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    for check in conformance::plan::all_checks() {
        let line = text.lines().find(|l| l.starts_with(check.info.id)).unwrap_or_else(|| panic!("{}", check.info.id));
        assert!(line.contains(check.info.rule), "{line}");
    }
}

#[test]
fn a_merchant_url_refusing_connections_exits_2_before_the_plan() {
    let refusing = testkit::RefusingPort::new();
    let out = conformance()
        .args(["run", "--merchant-url", &refusing.url("/notify"), "--gateway-listen", "127.0.0.1:0"])
        .args(CREDENTIALS)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refuses TCP connections"));
}

#[test]
fn a_gateway_address_in_use_exits_2() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = conformance()
        .args(["run", "--merchant-url", &format!("http://{addr}/notify"), "--gateway-listen", &addr])
        .args(CREDENTIALS)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen"));
}

#[test]
fn bad_flags_and_missing_credentials_exit_2() {
    let out = conformance().args(["run", "--no-such-flag"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = conformance()
        .args(["run", "--merchant-url", "http://127.0.0.1:1/notify", "--gateway-listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing --app-key"));
    let out = conformance()
        .args(["run", "--merchant-url", "http://127.0.0.1:1/n", "--gateway-listen", "127.0.0.1:0", "--platform-url"])
        .args(["http://127.0.0.1:2"])
        .args(CREDENTIALS)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn an_invalid_scenario_file_exits_2_naming_the_step() {
    let dir = std::env::temp_dir().join(format!("conformance-it-bad-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(&file, "title = \"t\"\n[[step]]\ndo = \"expect_ack\"\nmethod = \"send\"\nverdict = \"ok\"\n")
        .unwrap();
    let out = conformance()
        .arg("scenario")
        .arg(&file)
        .args(["--merchant-url", "http://127.0.0.1:9/notify", "--gateway-listen", "127.0.0.1:0"])
        .args(CREDENTIALS)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("step 1 (expect_ack)"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_case_file_of_another_schema_exits_2() {
    let dir = std::env::temp_dir().join(format!("conformance-it-bad-case-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("case.json");
    std::fs::write(&file, "{\"schema\": \"conformance-report/1\"}").unwrap();
    let out = conformance()
        .arg("replay")
        .arg(&file)
        .args(["--merchant-url", "http://127.0.0.1:9/notify", "--gateway-listen", "127.0.0.1:0", "--fast"])
        .args(CREDENTIALS)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("eticket-case/1"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_scenario_command_runs_a_file_and_reports_it_as_a_check() {
    // The validity-over scenario needs no merchant reply: something accepting TCP passes the preflight.
    let merchant = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/notify", merchant.local_addr().unwrap());
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/scenarios/faq-2.28-validity-over.toml");
    let dir = std::env::temp_dir().join(format!("conformance-it-scenario-cli-{}", std::process::id()));
    let report = dir.join("report.json");
    let out = conformance()
        .args(["scenario", scenario, "--merchant-url", &url, "--gateway-listen", "127.0.0.1:0", "--json-report"])
        .arg(&report)
        .args(CREDENTIALS)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(json["checks"][0]["id"], "scenario.faq-2.28-validity-over");
    assert_eq!(json["checks"][0]["outcome"], "pass");
    let _ = std::fs::remove_dir_all(dir);
}
