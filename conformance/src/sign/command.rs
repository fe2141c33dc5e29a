//! Runs `conformance sign …`: reads the params, computes or verifies, prints the result, returns the exit code.
//!
//! Output contract (INTERFACES.md §2): `sign notify|top` print the sign alone on the first line of stdout;
//! `sign verify …` print the verdict, the signed string with the secret masked and, on a mismatch, a diagnosis.
//! Errors go to stderr as `error: …` with exit 2. No secret is ever printed, only `Secret::masked`.

use std::io::{self, Read, Write};

use protocol::top_sign::{EmptyValues, top_canonical};
use protocol::{Secret, SignMethod, notify_sign, signs_equal, top_sign};

use super::args::{SignArgs, SignCommand, VerifyCommand, VerifyNotifyArgs, VerifyTopArgs};
use super::diagnose::{Diagnosis, diagnose_notify, diagnose_top, has_lower_case_hex};
use super::hash::{Construction, Encoding, describe};
use super::input::{InputError, read_params};
use crate::exit;

/// Why a sign command could not do its job: bad input (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(
        "the params in {0} have no `sign` (or an empty one): `sign verify` checks the sign that was received, so \
         put it in the file as \"sign\""
    )]
    MissingSign(String),
    #[error("unknown sign_method {0:?}: the gateway accepts md5, hmac and hmac-sha256 (PROTOCOL §4.4)")]
    UnknownSignMethod(String),
}

/// Runs one `sign` command; returns the process exit code.
pub fn run(args: &SignArgs, stdin: &mut dyn Read, stdout: &mut dyn Write, stderr: &mut dyn Write) -> u8 {
    let outcome = match &args.command {
        SignCommand::Notify(a) => sign_notify(&a.key, &a.params.params, stdin, stdout),
        SignCommand::Top(a) => sign_top(&a.secret, &a.params.params, stdin, stdout),
        SignCommand::Verify(VerifyCommand::Notify(a)) => verify_notify(a, stdin, stdout),
        SignCommand::Verify(VerifyCommand::Top(a)) => verify_top(a, stdin, stdout),
    };
    match outcome {
        Ok(Ok(code)) => code,
        Ok(Err(usage)) => {
            // Nothing useful is left to do if stderr is gone too.
            let _ = writeln!(stderr, "error: {usage}");
            exit::USAGE
        }
        Err(io) => {
            let _ = writeln!(stderr, "error: cannot write the output: {io}");
            exit::FAILED
        }
    }
}

/// The outer `io::Result` is about writing the answer; the inner one about the input.
type Outcome = io::Result<Result<u8, UsageError>>;

fn borrowed(params: &[(String, String)]) -> Vec<(&str, &str)> {
    params.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
}

fn sign_notify(key: &Secret, path: &str, stdin: &mut dyn Read, stdout: &mut dyn Write) -> Outcome {
    let params = match read_params(path, stdin) {
        Ok(params) => params,
        Err(e) => return Ok(Err(e.into())),
    };
    writeln!(stdout, "{}", notify_sign(key, borrowed(&params)))?;
    Ok(Ok(exit::SUCCESS))
}

fn sign_top(secret: &Secret, path: &str, stdin: &mut dyn Read, stdout: &mut dyn Write) -> Outcome {
    let params = match read_params(path, stdin) {
        Ok(params) => params,
        Err(e) => return Ok(Err(e.into())),
    };
    let params = borrowed(&params);
    let method = match sign_method(&params) {
        Ok(method) => method,
        Err(e) => return Ok(Err(e)),
    };
    writeln!(stdout, "{}", top_sign(secret, method, params))?;
    Ok(Ok(exit::SUCCESS))
}

fn sign_method(params: &[(&str, &str)]) -> Result<SignMethod, UsageError> {
    SignMethod::of_params(params.iter().copied()).map_err(|_| {
        let value = params.iter().find(|(n, _)| *n == "sign_method").map(|(_, v)| *v).unwrap_or_default();
        UsageError::UnknownSignMethod(value.chars().take(32).collect())
    })
}

/// Reads a params file for `verify` and splits off its received sign.
fn read_with_sign(path: &str, stdin: &mut dyn Read) -> Result<(Vec<(String, String)>, String), UsageError> {
    let params = read_params(path, stdin)?;
    let received = params.iter().find(|(n, _)| n == "sign").map(|(_, v)| v.clone()).unwrap_or_default();
    if received.is_empty() {
        let source = if path == "-" { "stdin" } else { path };
        return Err(UsageError::MissingSign(source.to_owned()));
    }
    Ok((params, received))
}

/// What `verify` found, ready to print.
struct Verdict {
    matched: bool,
    signed: String,
    expected: String,
    received: String,
    diagnosis: Option<Diagnosis>,
    notes: Vec<String>,
    /// What to say when no mistake explains a mismatch.
    no_diagnosis_hint: &'static str,
}

impl Verdict {
    fn print(&self, out: &mut dyn Write, what: &str) -> io::Result<u8> {
        if self.matched {
            writeln!(out, "verdict: match: the {what} sign is right")?;
        } else {
            writeln!(out, "verdict: MISMATCH: the {what} sign does not verify")?;
        }
        writeln!(out, "signed string: {}", self.signed)?;
        writeln!(out, "expected sign: {}", self.expected)?;
        writeln!(out, "received sign: {}", self.received)?;
        if !self.matched {
            match &self.diagnosis {
                Some(diagnosis) => writeln!(out, "diagnosis: {diagnosis}")?,
                None => writeln!(
                    out,
                    "diagnosis: no common mistake reproduces the received sign; {}",
                    self.no_diagnosis_hint
                )?,
            }
        }
        for note in &self.notes {
            writeln!(out, "note: {note}")?;
        }
        Ok(if self.matched { exit::SUCCESS } else { exit::FAILED })
    }
}

const LOWER_CASE_NOTE: &str = "the received sign uses lower-case hex; it is accepted (comparison ignores case) but \
                               the platform sends upper case (PROTOCOL §3.3 step 7)";

fn verify_notify(args: &VerifyNotifyArgs, stdin: &mut dyn Read, stdout: &mut dyn Write) -> Outcome {
    let (params, received) = match read_with_sign(&args.notify.params.params, stdin) {
        Ok(read) => read,
        Err(e) => return Ok(Err(e)),
    };
    let params = borrowed(&params);
    let key = &args.notify.key;
    let canonical = top_canonical(params.iter().copied(), EmptyValues::Skip);
    let expected = notify_sign(key, params.iter().copied());
    let matched = signs_equal(&expected, &received);
    let diagnosis = if matched { None } else { diagnose_notify(key, args.other_secret.as_ref(), &params, &received) };
    let mut notes = Vec::new();
    if has_lower_case_hex(&received) {
        notes.push(LOWER_CASE_NOTE.to_owned());
    }
    if received.len() != 32 {
        notes.push(format!(
            "the received sign has {} characters; a notification sign has 32 hex digits",
            received.len()
        ));
    }
    if !matched && args.other_secret.is_none() {
        notes.push("pass --other-secret APP_SECRET to also test for the app secret used as the notify key".into());
    }
    let verdict = Verdict {
        matched,
        signed: describe(key, "notify key", Construction::KeyPrefix, Encoding::Gbk, &canonical),
        expected: expected.into(),
        received,
        diagnosis,
        notes,
        no_diagnosis_hint: "check the notify key, and that every received param (known or not) is signed with its \
                            raw decoded value (FAQ 2.14, 2.25)",
    };
    Ok(Ok(verdict.print(stdout, "notification")?))
}

fn verify_top(args: &VerifyTopArgs, stdin: &mut dyn Read, stdout: &mut dyn Write) -> Outcome {
    let (params, received) = match read_with_sign(&args.top.params.params, stdin) {
        Ok(read) => read,
        Err(e) => return Ok(Err(e)),
    };
    let params = borrowed(&params);
    let method = match sign_method(&params) {
        Ok(method) => method,
        Err(e) => return Ok(Err(e)),
    };
    let secret = &args.top.secret;
    let skipped = top_canonical(params.iter().copied(), EmptyValues::Skip);
    let included = top_canonical(params.iter().copied(), EmptyValues::Include);
    let expected = protocol::top_sign::sign_canonical(secret, method, &skipped);
    let with_empties = protocol::top_sign::sign_canonical(secret, method, &included);
    let matched_skipped = signs_equal(&expected, &received);
    let matched_included = !matched_skipped && included != skipped && signs_equal(&with_empties, &received);
    let matched = matched_skipped || matched_included;
    let diagnosis =
        if matched { None } else { diagnose_top(secret, args.other_secret.as_ref(), method, &params, &received) };
    let mut notes = Vec::new();
    if matched_included {
        notes.push(
            "the sign includes the empty-valued params as name + \"\"; the gateway accepts this (Python/Node SDK \
             style), the Java SDK and the reference merchant leave them out (PROTOCOL §4.4)"
                .to_owned(),
        );
    }
    if has_lower_case_hex(&received) {
        notes.push(LOWER_CASE_NOTE.to_owned());
    }
    if !matched && args.other_secret.is_none() {
        notes.push("pass --other-secret NOTIFY_KEY to also test for the notify key used as the app secret".into());
    }
    let (shown_canonical, shown_expected) =
        if matched_included { (included, with_empties) } else { (skipped, expected) };
    let verdict = Verdict {
        matched,
        signed: describe(secret, "app secret", Construction::of(method), Encoding::Utf8, &shown_canonical),
        expected: format!("{shown_expected} (sign_method {method})"),
        received,
        diagnosis,
        notes,
        no_diagnosis_hint: "check the app secret, the sign_method, and that every non-file param sent (system and \
                            API params) is signed (PROTOCOL §4.4)",
    };
    Ok(Ok(verdict.print(stdout, "TOP call")?))
}
