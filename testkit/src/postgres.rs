//! A throwaway PostgreSQL server per test process, and a fresh database per test ([`database`]).
//!
//! The server comes from Debian's `postgresql` package (installed when missing, like every program of this crate):
//! the highest version under `/usr/lib/postgresql/*/bin`, or the directory in `PG_BINDIR`. It is started lazily by
//! the first [`database`] call of a test process and shared by that process's tests. Each test process (each test
//! binary, and two `cargo test` runs at once) has its own server in its own temp directory: data directory, Unix
//! socket directory and log. The server listens on no TCP port (`listen_addresses=''`), so servers never collide, and
//! runs with `fsync`, `synchronous_commit` and `full_page_writes` off: a test database is never worth an fsync.
//!
//! `initdb` refuses to run as root, so as root the server runs as the `postgres` user (the temp directory is chowned
//! to it); otherwise (a developer's own machine) it runs as the current user.
//!
//! **Teardown.** A static is never dropped, so the server cannot be stopped by a `Drop`. Instead a small `sh`
//! watchdog owns the server's whole life: it runs `initdb` and `pg_ctl -w start`, says `ready` on its stdout, then
//! blocks reading its stdin, a pipe whose only writer is the test process. When the test process exits — normally,
//! by a panic, or killed with SIGKILL — the kernel closes that pipe, the watchdog's `read` sees end of file, and it
//! runs `pg_ctl stop -m immediate` and removes the temp directory. No polling of pids, nothing to forget. The
//! watchdog runs in its own process group, so a Ctrl-C aimed at `cargo test` reaches the test process (whose exit
//! triggers the teardown) but does not kill the watchdog before it has cleaned up. The teardown runs after the
//! process has gone, so for a second or so after `cargo test` returns, `ps` may still show the server stopping.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::{InstallLock, install_debian_package, is_root};

/// The Debian package that provides the server binaries.
const DEBIAN_PACKAGE: &str = "postgresql";

/// Where Debian installs each major version's server binaries (`/usr/lib/postgresql/15/bin`, …).
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// Settings appended to the server's `postgresql.conf`. `port` is pinned because it names the socket file
/// (`.s.PGSQL.5432`) and a developer's `PGPORT` must not move it away from the URL we hand out.
const SETTINGS: &str = "\
listen_addresses = ''
port = 5432
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
shared_buffers = 32MB
max_wal_size = 1GB
";

/// The watchdog (see the module docs). Arguments: the temp directory, the binaries' directory, then the command
/// prefix that runs a program as the server's user (`runuser -u postgres --`, or nothing).
const WATCHDOG: &str = r#"
# Ignore SIGPIPE: if the test process dies during the start, `echo ready` must fail quietly, not kill the watchdog
# before its cleanup. HUP and INT: a closing terminal or a Ctrl-C is the test process's business.
trap '' PIPE HUP INT
dir=$1; bin=$2; shift 2
cleanup() { "$@" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1; rm -rf "$dir"; }
fail() { echo failed; echo "$1"; shift; tail -n 30 "$dir/setup.log" "$dir/server.log" 2>/dev/null; cleanup "$@"; exit 1; }
"$@" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$dir/setup.log" 2>&1 \
  || fail "initdb failed" "$@"
cat "$dir/settings.conf" >>"$dir/data/postgresql.conf" || fail "appending the test settings failed" "$@"
"$@" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >>"$dir/setup.log" 2>&1 \
  || fail "pg_ctl start failed" "$@"
echo ready
read -r _ignored
cleanup "$@"
"#;

/// The server of this test process, started by the first [`database`] call.
#[derive(Debug)]
pub struct Server {
    bin_dir: PathBuf,
    socket_dir: PathBuf,
    started_in: Duration,
    /// Never written: held so that the watchdog's stdin stays open exactly as long as this process lives.
    _lifeline: ChildStdin,
}

impl Server {
    /// The directory of the server's binaries (`psql`, `pgbench`, …) of the version that runs.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The directory of the server's Unix socket: the `host` of every connection (`psql -h`, `pgbench -h`).
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// How long `initdb` and the server's start took (for reports; never asserted).
    pub fn started_in(&self) -> Duration {
        self.started_in
    }
}

/// A database created for one test, on this process's [`Server`].
///
/// Dropping it drops the database (`WITH (FORCE)`, closing connections still open), so a long test suite does not
/// fill the disk with copies of `template1`; whatever a failing drop leaves is removed with the server's directory
/// when the test process exits.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
}

impl TestDatabase {
    /// The connection URL, e.g. `postgres://postgres@/t_1?host=/tmp/eticket-pg-…/socket` (the form tokio-postgres and
    /// libpq accept for a Unix socket).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Never panic in a drop (it may run during a test's unwinding): the server's teardown removes it anyway.
        if let Err(error) = run_admin_statement(server(), &statement) {
            eprintln!("testkit: could not drop the test database {}: {error}", self.name);
        }
    }
}

/// Creates a fresh, empty database with a name unique in this process, starting the process's server first when
/// this is the first call.
///
/// # Panics
/// With a sentence saying what failed (installing PostgreSQL, `initdb`, starting the server, creating the database),
/// and the tail of the server's log where there is one.
pub fn database() -> TestDatabase {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let server = server();
    let name = format!("t_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let created = run_admin_statement(server, &format!("CREATE DATABASE {name}"));
    if let Err(error) = created {
        panic!("creating the test database {name} failed: {error}; server log:\n{}", log_tail(server));
    }
    let url = database_url(&name, &server.socket_dir);
    TestDatabase { name, url }
}

/// This process's server, started on first use.
///
/// # Panics
/// When it cannot be started; the first failure is kept, so every later test panics at once with the same sentence.
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
    match SERVER.get_or_init(|| ensure_bin_dir(std::env::var_os("PG_BINDIR")).and_then(start)) {
        Ok(server) => server,
        Err(error) => panic!("the test PostgreSQL server could not be started: {error}"),
    }
}

/// Runs `initdb` and starts a server with the binaries in `bin_dir`, under its watchdog.
fn start(bin_dir: PathBuf) -> Result<Server, String> {
    let started = Instant::now();
    let as_root = is_root();
    let dir = fresh_temp_dir(SERVER_DIR_PREFIX)?;
    let socket_dir = dir.join("socket");
    std::fs::create_dir(&socket_dir).map_err(|e| format!("creating {}: {e}", socket_dir.display()))?;
    std::fs::write(
        dir.join("settings.conf"),
        format!("{SETTINGS}unix_socket_directories = '{}'\n", socket_dir.display()),
    )
    .map_err(|e| format!("writing the server's settings in {}: {e}", dir.display()))?;
    if as_root {
        let status = Command::new("chown")
            .args(["-R", "postgres:"])
            .arg(&dir)
            .status()
            .map_err(|e| format!("running chown: {e}"))?;
        if !status.success() {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(format!(
                "could not give {} to the `postgres` user ({status}); the postgresql package creates that user",
                dir.display()
            ));
        }
    }
    let mut watchdog = Command::new("sh");
    watchdog.arg("-c").arg(WATCHDOG).arg("eticket-pg-watchdog").arg(&dir).arg(&bin_dir);
    if as_root {
        watchdog.args(["runuser", "-u", "postgres", "--"]);
    }
    // The server's user may not be allowed into the test's working directory; and PG* variables of a developer's
    // shell must not redirect initdb or pg_ctl.
    watchdog.current_dir(&dir).env_remove("PGDATA").env_remove("PGPORT").env_remove("PGHOST");
    let mut child = std::os::unix::process::CommandExt::process_group(&mut watchdog, 0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("running sh for the server's watchdog: {e}"))?;
    let lifeline = child.stdin.take().expect("stdin is piped");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    match lines.next() {
        Some(Ok(line)) if line == "ready" => {}
        Some(Ok(line)) if line == "failed" => {
            let report: Vec<String> = lines.map_while(Result::ok).collect();
            // The watchdog has removed the directory by now: it closes stdout only by exiting, after its cleanup.
            let (step, output) = report.split_first().map_or(("the start failed", &[][..]), |(s, o)| (s.as_str(), o));
            return Err(format!("{step} (binaries in {}); the logs end:\n{}", bin_dir.display(), output.join("\n")));
        }
        other => return Err(format!("the server's watchdog stopped before the server was ready ({other:?})")),
    }
    Ok(Server { bin_dir, socket_dir, started_in: started.elapsed(), _lifeline: lifeline })
}

/// The server binaries' directory: `PG_BINDIR`, else the highest version installed by Debian's package, installing
/// the package first when none is.
fn ensure_bin_dir(overridden: Option<std::ffi::OsString>) -> Result<PathBuf, String> {
    if let Some(dir) = overridden {
        let dir = PathBuf::from(dir);
        return if dir.join("initdb").is_file() {
            Ok(dir)
        } else {
            Err(format!("PG_BINDIR={} holds no initdb", dir.display()))
        };
    }
    if let Some(dir) = highest_version_bin_dir(Path::new(DEBIAN_ROOT)) {
        return Ok(dir);
    }
    let _lock = InstallLock::acquire()?;
    // Another test process may have installed it while we waited for the lock.
    if let Some(dir) = highest_version_bin_dir(Path::new(DEBIAN_ROOT)) {
        return Ok(dir);
    }
    install_debian_package(DEBIAN_PACKAGE)?;
    highest_version_bin_dir(Path::new(DEBIAN_ROOT)).ok_or_else(|| {
        format!("installed the Debian package {DEBIAN_PACKAGE} but {DEBIAN_ROOT}/*/bin/initdb is still missing")
    })
}

/// The `bin` directory of the highest major version under `root` that has the programs we run, by version number
/// (so 15 beats 9.6).
fn highest_version_bin_dir(root: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(root).ok()?;
    entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = version_key(entry.file_name().to_str()?)?;
            let bin = entry.path().join("bin");
            ["initdb", "pg_ctl", "postgres"].iter().all(|p| bin.join(p).is_file()).then_some((version, bin))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, bin)| bin)
}

/// `"15"` → `[15]`, `"9.6"` → `[9, 6]`; anything else is not a version directory.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

/// How a server's temp directory is named: then this process's id.
const SERVER_DIR_PREFIX: &str = "eticket-pg-";

/// A new directory in the temp directory, unique across processes (`create_dir` fails on a name taken).
fn fresh_temp_dir(prefix: &str) -> Result<PathBuf, String> {
    let base = std::env::temp_dir();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    for attempt in 0..100u32 {
        let dir = base.join(format!("{prefix}{}-{nanos:x}-{attempt}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("creating {}: {e}", dir.display())),
        }
    }
    Err(format!("no free directory name for the server in {}", base.display()))
}

/// The URL of database `name` through the socket in `socket_dir`.
fn database_url(name: &str, socket_dir: &Path) -> String {
    format!("postgres://postgres@/{name}?host={}", socket_dir.display())
}

/// Runs one statement on the `postgres` maintenance database. On a thread of its own with a runtime of its own, so
/// that it can be called from a sync test and from inside a tokio test alike (a runtime cannot be nested).
fn run_admin_statement(server: &Server, statement: &str) -> Result<(), String> {
    let url = database_url("postgres", &server.socket_dir);
    let statement = statement.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("building a tokio runtime: {e}"))?;
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .map_err(|e| format!("connecting to {url}: {e}"))?;
            let connection = tokio::spawn(connection);
            let outcome = client.batch_execute(&statement).await.map_err(|e| format!("`{statement}`: {e}"));
            drop(client);
            let _ = connection.await;
            outcome
        })
    })
    .join()
    .unwrap_or_else(|_| Err("the thread running the statement panicked".to_owned()))
}

/// The last lines of the server's log, for a panic message.
fn log_tail(server: &Server) -> String {
    let log = server.socket_dir.with_file_name("server.log");
    let text = std::fs::read_to_string(&log).unwrap_or_else(|e| format!("(reading {}: {e})", log.display()));
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_numbers_so_15_beats_9_6() {
        assert!(version_key("15") > version_key("9.6"));
        assert_eq!(version_key("9.6"), Some(vec![9, 6]));
        assert_eq!(version_key("common"), None);
    }

    #[test]
    fn the_highest_version_with_the_server_programs_is_chosen() {
        let root = fresh_temp_dir("eticket-pgbins-").unwrap();
        for (version, programs) in [
            ("9.6", &["initdb", "pg_ctl", "postgres"][..]),
            ("15", &["initdb", "pg_ctl", "postgres"]),
            ("17", &["psql"]),
        ] {
            let bin = root.join(version).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            for program in programs {
                std::fs::write(bin.join(program), "").unwrap();
            }
        }
        std::fs::create_dir_all(root.join("common")).unwrap();
        let chosen = highest_version_bin_dir(&root);
        std::fs::remove_dir_all(&root).unwrap();
        // 17 has only the client: a machine with `postgresql-client-17` but server 15 runs 15.
        assert_eq!(chosen, Some(root.join("15").join("bin")));
    }

    #[test]
    fn no_version_directory_means_none() {
        assert_eq!(highest_version_bin_dir(Path::new("/nonexistent/postgresql")), None);
    }

    #[test]
    fn the_url_names_the_socket_directory_as_host() {
        let url = database_url("t_7", Path::new("/tmp/eticket-pg-1/socket"));
        assert_eq!(url, "postgres://postgres@/t_7?host=/tmp/eticket-pg-1/socket");
        let config: tokio_postgres::Config = url.parse().unwrap();
        assert_eq!(config.get_dbname(), Some("t_7"));
        assert_eq!(config.get_user(), Some("postgres"));
        assert_eq!(config.get_hosts(), [tokio_postgres::config::Host::Unix("/tmp/eticket-pg-1/socket".into())]);
    }

    #[test]
    fn a_bin_dir_override_without_initdb_is_an_error_naming_the_variable() {
        let error = ensure_bin_dir(Some("/nonexistent/pg/bin".into())).unwrap_err();
        assert_eq!(error, "PG_BINDIR=/nonexistent/pg/bin holds no initdb");
    }

    #[test]
    fn a_failing_initdb_is_reported_with_its_output_and_leaves_no_directory() {
        use std::os::unix::fs::PermissionsExt;
        let bin = fresh_temp_dir("eticket-pgbins-").unwrap();
        let initdb = bin.join("initdb");
        std::fs::write(&initdb, "#!/bin/sh\necho 'initdb: the disk is on fire' >&2\nexit 1\n").unwrap();
        std::fs::set_permissions(&initdb, std::fs::Permissions::from_mode(0o755)).unwrap();
        // As root the script runs as `postgres`, who must be able to reach it.
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let error = start(bin.clone()).unwrap_err();
        std::fs::remove_dir_all(&bin).unwrap();
        assert!(error.starts_with("initdb failed"), "{error}");
        assert!(error.contains("initdb: the disk is on fire"), "the output of initdb is missing: {error}");
        let prefix = format!("{SERVER_DIR_PREFIX}{}-", std::process::id());
        let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|name| name.starts_with(&prefix))
            .collect();
        assert!(left.is_empty(), "the watchdog left {left:?}");
    }
}
