//! `conformance sign …` end to end: the real binary, its stdout, stderr and exit codes (INTERFACES.md §2).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use conformance::exit;
use serde_json::{Map, Value, json};

const NOTIFY_KEY: &str = "219f9cb7eceb40fcd4aa016a61993423";
const APP_SECRET: &str = "f0e1d2c3b4a5968778695a4b3c2d1e0f";
const VECTOR_B_SIGN: &str = "6C1346D63291FC26939D8CC5757BE65D";
/// Vector B's captured signing string hashed as UTF-8 instead of GBK (PROTOCOL §3.3).
const VECTOR_B_UTF8_SIGN: &str = "61DE8C96F001EAE94FA326785527CE3D";

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the binary with `stdin`, and checks on every run that no secret shows on stdout or stderr.
fn conformance(args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_conformance"))
        .args(args)
        .env_remove("CONFORMANCE_NOTIFY_KEY")
        .env_remove("CONFORMANCE_APP_SECRET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the conformance binary starts");
    // The binary may exit before reading stdin (bad flags): a broken pipe then is expected, not a failure.
    match child.stdin.take().expect("piped stdin").write_all(stdin.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("cannot write stdin: {e}"),
        _ => {}
    }
    let output = child.wait_with_output().expect("the conformance binary finishes");
    let run = Run {
        code: output.status.code().expect("an exit code, not a signal"),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    };
    for secret in [NOTIFY_KEY, APP_SECRET] {
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret), "a secret leaked: {run:#?}");
    }
    run
}

/// Writes a params file under cargo's per-test temp dir.
fn params_file(name: &str, params: &Value) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("sign-{name}.json"));
    std::fs::write(&path, params.to_string()).expect("the temp dir is writable");
    path
}

fn vector(file: &str, name: &str) -> Map<String, Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/vectors").join(file);
    let cases: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).expect("vectors")).expect("JSON");
    let case = cases.into_iter().find(|c| c["name"] == name).expect("the named vector");
    case["params"].as_object().expect("params object").clone()
}

fn vector_b() -> Map<String, Value> {
    vector("notify_sign.json", "B-njiasu-send-2016")
}

fn with_sign(mut params: Map<String, Value>, sign: &str) -> Value {
    params.insert("sign".into(), Value::String(sign.into()));
    Value::Object(params)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

#[test]
fn sign_notify_prints_the_sign_of_vector_b_alone_on_the_first_line() {
    let file = params_file("vector-b", &Value::Object(vector_b()));
    let run = conformance(&["sign", "notify", "--key", NOTIFY_KEY, "--params", file.to_str().unwrap()], "");
    assert_eq!(run.code, i32::from(exit::SUCCESS), "{run:#?}");
    assert_eq!(first_line(&run.stdout), VECTOR_B_SIGN);
}

#[test]
fn params_dash_reads_the_params_from_stdin() {
    let run =
        conformance(&["sign", "notify", "--key", NOTIFY_KEY, "--params", "-"], &Value::Object(vector_b()).to_string());
    assert_eq!(run.code, i32::from(exit::SUCCESS), "{run:#?}");
    assert_eq!(first_line(&run.stdout), VECTOR_B_SIGN);
}

#[test]
fn sign_top_takes_the_scheme_from_sign_method_and_skips_empty_values() {
    let mut params = vector("top_sign.json", "official-md5-docId101617");
    params.insert("partner_id".into(), json!(""));
    let run = conformance(
        &["sign", "top", "--secret", "helloworld", "--params", "-"],
        &Value::Object(params.clone()).to_string(),
    );
    assert_eq!((run.code, first_line(&run.stdout)), (0, "66987CB115214E59E6EC978214934FB8"), "{run:#?}");

    params.insert("sign_method".into(), json!("hmac"));
    let run =
        conformance(&["sign", "top", "--secret", "helloworld", "--params", "-"], &Value::Object(params).to_string());
    assert_eq!((run.code, first_line(&run.stdout)), (0, "D56D7858309C31B6251083A874D48273"), "{run:#?}");
}

#[test]
fn sign_top_with_an_unknown_sign_method_is_a_usage_error() {
    let run =
        conformance(&["sign", "top", "--secret", APP_SECRET, "--params", "-"], r#"{"a":"1","sign_method":"sha1"}"#);
    assert_eq!(run.code, i32::from(exit::USAGE), "{run:#?}");
    assert!(run.stderr.contains("sign_method") && run.stdout.is_empty(), "{run:#?}");
}

#[test]
fn verify_notify_exits_0_on_a_match_and_shows_the_masked_signed_string() {
    let run = conformance(
        &["sign", "verify", "notify", "--key", NOTIFY_KEY, "--params", "-"],
        &with_sign(vector_b(), VECTOR_B_SIGN).to_string(),
    );
    assert_eq!(run.code, i32::from(exit::SUCCESS), "{run:#?}");
    assert!(first_line(&run.stdout).contains("match"), "{run:#?}");
    assert!(run.stdout.contains("[notify key 21…(32)]consume_type2item_title银子岩门票"), "{run:#?}");
}

#[test]
fn verify_notify_accepts_lower_case_hex_with_a_note() {
    let run = conformance(
        &["sign", "verify", "notify", "--key", NOTIFY_KEY, "--params", "-"],
        &with_sign(vector_b(), &VECTOR_B_SIGN.to_lowercase()).to_string(),
    );
    assert_eq!(run.code, i32::from(exit::SUCCESS), "{run:#?}");
    assert!(run.stdout.contains("lower-case"), "{run:#?}");
}

#[test]
fn verify_notify_exits_1_and_names_utf8_for_a_utf8_signed_notification() {
    let run = conformance(
        &["sign", "verify", "notify", "--key", NOTIFY_KEY, "--params", "-"],
        &with_sign(vector_b(), VECTOR_B_UTF8_SIGN).to_string(),
    );
    assert_eq!(run.code, i32::from(exit::FAILED), "{run:#?}");
    assert!(first_line(&run.stdout).contains("MISMATCH"), "{run:#?}");
    let diagnosis = run.stdout.lines().find(|l| l.starts_with("diagnosis:")).expect("a diagnosis line");
    assert!(diagnosis.contains("UTF-8 bytes instead of GBK"), "{diagnosis}");
}

#[test]
fn verify_notify_names_the_app_secret_used_in_place_of_the_notify_key() {
    let params = vector_b();
    let pairs: Vec<(&str, &str)> = params.iter().map(|(n, v)| (n.as_str(), v.as_str().unwrap())).collect();
    let wrong = protocol::notify_sign(&protocol::Secret::new(APP_SECRET), pairs);
    let run = conformance(
        &["sign", "verify", "notify", "--key", NOTIFY_KEY, "--other-secret", APP_SECRET, "--params", "-"],
        &with_sign(params, &wrong).to_string(),
    );
    assert_eq!(run.code, i32::from(exit::FAILED), "{run:#?}");
    assert!(run.stdout.contains("using the TOP app secret instead of the notify key"), "{run:#?}");
}

#[test]
fn verify_top_names_the_notify_key_used_in_place_of_the_app_secret() {
    let params = vector("top_sign.json", "eticket-send-md5");
    let pairs: Vec<(&str, &str)> = params.iter().map(|(n, v)| (n.as_str(), v.as_str().unwrap())).collect();
    let wrong = protocol::top_sign(&protocol::Secret::new(NOTIFY_KEY), protocol::SignMethod::Md5, pairs);
    let run = conformance(
        &["sign", "verify", "top", "--secret", APP_SECRET, "--other-secret", NOTIFY_KEY, "--params", "-"],
        &with_sign(params, &wrong).to_string(),
    );
    assert_eq!(run.code, i32::from(exit::FAILED), "{run:#?}");
    assert!(run.stdout.contains("using the notify key (通知密钥) instead of the TOP app secret"), "{run:#?}");
}

#[test]
fn verify_top_accepts_the_sign_with_empty_values_included() {
    let mut params = vector("top_sign.json", "official-md5-docId101617");
    params.insert("partner_id".into(), json!(""));
    let run = conformance(
        &["sign", "verify", "top", "--secret", "helloworld", "--params", "-"],
        &with_sign(params, "C37B5070487A1E27A1EB2B7347D72520").to_string(),
    );
    assert_eq!(run.code, i32::from(exit::SUCCESS), "{run:#?}");
    assert!(run.stdout.contains("empty-valued"), "{run:#?}");
}

#[test]
fn verify_usage_errors_exit_2_and_say_what_is_wrong() {
    let verify = ["sign", "verify", "notify", "--key", NOTIFY_KEY, "--params"];
    let cases = [
        ("-", "{not json", "not valid JSON"),
        ("-", r#"{"method":"send","order_id":"1"}"#, "no `sign`"),
        ("-", r#"["sign"]"#, "JSON object"),
        ("/nonexistent/params.json", "", "cannot read the params from /nonexistent/params.json"),
    ];
    for (path, stdin, message) in cases {
        let mut args = verify.to_vec();
        args.push(path);
        let run = conformance(&args, stdin);
        assert_eq!(run.code, i32::from(exit::USAGE), "{run:#?}");
        assert!(run.stderr.contains(message), "expected {message:?}: {run:#?}");
    }
}

#[test]
fn bad_flags_exit_with_the_usage_code() {
    let run = conformance(&["sign", "notify", "--params", "-"], "{}");
    assert_eq!(run.code, i32::from(exit::USAGE), "{run:#?}");
}

#[test]
fn sign_help_explains_the_two_secrets() {
    let run = conformance(&["sign", "--help"], "");
    assert_eq!(run.code, 0, "{run:#?}");
    // Help is wrapped to the terminal width: compare with whitespace collapsed.
    let text = run.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    for needle in
        ["notify key (通知密钥)", "signs the NOTIFICATIONS", "app secret", "signs the merchant's TOP CALLS", "FAQ 2.29"]
    {
        assert!(text.contains(needle), "{needle:?} missing from --help: {}", run.stdout);
    }
}
