//! Provisioning for tests that need a program from outside Cargo (Chromium for the console's browser test, and
//! whatever later tests need): when the program is missing and this machine can install it, install it.
//!
//! Why tests install things themselves: the README's test command (`cargo test --workspace --locked`) must pass on a
//! fresh machine with nothing done first, and a browser test that skips when the browser is missing would certify
//! nothing. On this product's machines (Debian, root, Debian's package registry reachable) the install works; where
//! it cannot (not root, no `apt-get`), the error says what to install by hand.
//!
//! Tests of several binaries run at once, so installs are serialised by an exclusive lock on a file in the temp
//! directory, and the program is looked for again once the lock is held.
//!
//! [`postgres`] goes one step further for the shared platform's store: a throwaway PostgreSQL server per test process
//! and a fresh database per test; [`balancer`] puts a shared platform's replicas behind one address;
//! [`refusing`] gives a loopback address that refuses connections for as long as a test holds it.

pub mod balancer;
pub mod postgres;
pub mod refusing;

pub use refusing::RefusingPort;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A program a test needs: where it is expected, and which Debian package provides it.
#[derive(Debug, Clone, Copy)]
pub struct Program<'a> {
    /// Environment variable that overrides the path (for machines that keep the program elsewhere).
    pub env_override: &'a str,
    /// Where the Debian package installs it.
    pub default_path: &'a str,
    /// The Debian package that provides it.
    pub debian_package: &'a str,
}

/// Debian's Chromium, for browser tests (`CHROMIUM` overrides the path).
pub const CHROMIUM: Program<'static> =
    Program { env_override: "CHROMIUM", default_path: "/usr/bin/chromium", debian_package: "chromium" };

/// Debian's Python 3, for the sign vectors' Python verifier (`PYTHON3` overrides the path).
pub const PYTHON3: Program<'static> =
    Program { env_override: "PYTHON3", default_path: "/usr/bin/python3", debian_package: "python3" };

/// Debian's Node.js, for the sign vectors' Node verifier (`NODE` overrides the path).
pub const NODE: Program<'static> =
    Program { env_override: "NODE", default_path: "/usr/bin/node", debian_package: "nodejs" };

/// Returns the program's path, installing its Debian package first when it is missing.
///
/// # Errors
/// A sentence for the test's panic message: why the program is missing and could not be installed, and how to
/// install it by hand.
pub fn ensure(program: Program<'_>) -> Result<PathBuf, String> {
    ensure_with_override(program, std::env::var_os(program.env_override))
}

fn ensure_with_override(program: Program<'_>, overridden: Option<std::ffi::OsString>) -> Result<PathBuf, String> {
    if let Some(path) = overridden {
        let path = PathBuf::from(path);
        return if path.exists() {
            Ok(path)
        } else {
            Err(format!("{}={} does not exist", program.env_override, path.display()))
        };
    }
    let path = PathBuf::from(program.default_path);
    if path.exists() {
        return Ok(path);
    }
    let _lock = InstallLock::acquire()?;
    // Another test process may have installed it while we waited for the lock.
    if path.exists() {
        return Ok(path);
    }
    install_debian_package(program.debian_package)?;
    if path.exists() {
        Ok(path)
    } else {
        Err(format!("installed the Debian package {} but {} is still missing", program.debian_package, path.display()))
    }
}

/// A Python command-line tool from PyPI that a test runs (schemathesis against the admin API's OpenAPI document).
#[derive(Debug, Clone, Copy)]
pub struct PythonTool<'a> {
    /// The command it installs (looked for in the directory of `python3 -m pip`'s scripts and on `PATH`).
    pub command: &'a str,
    /// The pinned requirement handed to pip, e.g. `schemathesis==4.1.0`.
    pub requirement: &'a str,
}

/// Returns the path of a Python tool, installing its pinned requirement with `python3 -m pip` when it is missing.
///
/// # Errors
/// A sentence for the test's panic message: why it is missing and could not be installed.
pub fn ensure_python_tool(tool: PythonTool<'_>) -> Result<PathBuf, String> {
    if let Some(path) = find_python_tool(tool.command) {
        return Ok(path);
    }
    let _lock = InstallLock::acquire()?;
    if let Some(path) = find_python_tool(tool.command) {
        return Ok(path);
    }
    eprintln!("testkit: {} is missing; installing {} with pip (once per machine)", tool.command, tool.requirement);
    let output = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", tool.requirement])
        .output()
        .map_err(|e| format!("running python3 -m pip: {e}; install {} by hand", tool.requirement))?;
    if !output.status.success() {
        return Err(format!(
            "pip install {} failed ({}): {}",
            tool.requirement,
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    find_python_tool(tool.command)
        .ok_or_else(|| format!("installed {} but `{}` is not to be found", tool.requirement, tool.command))
}

/// Where a Python tool's command is: the scripts directory of the `python3` that pip installs into, then `PATH`.
fn find_python_tool(command: &str) -> Option<PathBuf> {
    let scripts = Command::new("python3")
        .args(["-c", "import sysconfig; print(sysconfig.get_path('scripts'))"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let path = std::env::var_os("PATH").unwrap_or_default();
    scripts.into_iter().chain(std::env::split_paths(&path)).map(|dir| dir.join(command)).find(|p| p.is_file())
}

/// Runs `apt-get install` for one package, refreshing the package lists first (a fresh machine has none).
fn install_debian_package(package: &str) -> Result<(), String> {
    let by_hand = format!("install it by hand (Debian/Ubuntu: `apt-get install -y {package}`)");
    if !is_root() {
        return Err(format!("{package} is missing and this test is not running as root: {by_hand}"));
    }
    if !Path::new("/usr/bin/apt-get").exists() {
        return Err(format!("{package} is missing and this machine has no apt-get: {by_hand}"));
    }
    eprintln!("testkit: {package} is missing; installing it with apt-get (once per machine)");
    run_apt(&["update", "-qq"], &by_hand)?;
    run_apt(&["install", "-y", "-qq", package], &by_hand)
}

fn run_apt(args: &[&str], by_hand: &str) -> Result<(), String> {
    let output = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .map_err(|e| format!("running apt-get {}: {e}; {by_hand}", args.join(" ")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "apt-get {} failed ({}): {}; {by_hand}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Whether this process runs as root, read from `/proc/self/status` (no libc dependency for one number).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:").map(|ids| ids.split_whitespace().next() == Some("0")))
        })
        .unwrap_or(false)
}

/// An exclusive lock on a file in the temp directory, held while installing; released when dropped.
#[derive(Debug)]
struct InstallLock {
    /// Held only for its lock: closing the file releases it.
    _file: File,
}

impl InstallLock {
    fn acquire() -> Result<Self, String> {
        let path = std::env::temp_dir().join("eticket-testkit-install.lock");
        let file = File::create(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
        file.lock().map_err(|e| format!("locking {}: {e}", path.display()))?;
        Ok(Self { _file: file })
    }
}

/// Replays every file of the committed fuzz corpus `fuzz/corpus/TARGET/` through `body`, the same function the
/// fuzz target runs, so every input a fuzzer kept (and every past finding) is checked by an ordinary `cargo test`
/// on stable. Panics, naming the file, where `body` panics; and when the corpus is missing or empty.
pub fn replay_fuzz_corpus(target: &str, body: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    let mut replayed = 0;
    for entry in entries {
        let path = entry.expect("a corpus entry").path();
        let input = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| body(&input));
        assert!(
            outcome.is_ok(),
            "{} fails: run it again with `cargo +nightly fuzz run {target} {}` in fuzz/",
            path.display(),
            path.display()
        );
        replayed += 1;
    }
    assert!(replayed > 0, "{} holds no corpus: run the fuzz target to build one", dir.display());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_that_does_not_exist_is_an_error_naming_the_variable() {
        let program = Program { env_override: "TESTKIT_PATH", default_path: "/bin/sh", debian_package: "none" };
        let error = ensure_with_override(program, Some("/nonexistent/program".into())).unwrap_err();
        assert!(error.contains("TESTKIT_PATH=/nonexistent/program does not exist"), "{error}");
    }

    #[test]
    fn a_program_already_present_is_returned_without_installing() {
        let program = Program { env_override: "TESTKIT_TEST_UNSET", default_path: "/bin/sh", debian_package: "none" };
        assert_eq!(ensure(program).unwrap(), PathBuf::from("/bin/sh"));
    }

    #[test]
    fn a_python_tool_is_found_on_the_path() {
        // python3 itself is on PATH wherever these tests run (the sign-vector examples need it too).
        assert!(find_python_tool("python3").is_some());
        assert!(find_python_tool("no-such-tool-eticket").is_none());
    }

    #[test]
    fn reads_the_real_uid_from_proc() {
        let uid = std::fs::read_to_string("/proc/self/status").unwrap();
        let expected = uid.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
        assert_eq!(is_root(), expected);
    }
}
