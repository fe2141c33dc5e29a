//! `mock-platform export`: one order's case file, from a running platform's admin API or from the SQLite file of
//! `serve --db` (read through a private snapshot, so a platform serving that file is never written to).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::SCHEMA;
use crate::{Platform, PlatformConfig};

/// `mock-platform export`: where the case comes from and where it goes.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The order to export.
    #[arg(long = "order", value_name = "ID")]
    pub order_id: i64,
    /// The SQLite file of `serve --db PATH` (the platform may be running on it), or a shared platform's PostgreSQL
    /// URL; wins over --platform-url.
    #[arg(long, value_name = "PATH|URL", env = "MOCK_PLATFORM_DB", hide_env_values = true)]
    pub db: Option<PathBuf>,
    /// A running mock-platform, e.g. http://127.0.0.1:8080: the case is fetched from its admin API.
    #[arg(long, value_name = "URL", env = "MOCK_PLATFORM_URL")]
    pub platform_url: Option<String>,
    /// The platform's admin token, sent as `Authorization: Bearer TOKEN`.
    #[arg(long, env = "MOCK_PLATFORM_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Write the case here instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Runs `mock-platform export`; errors are for the user (exit 2).
pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    use anyhow::{Context, bail};
    let case = match (&args.db, args.platform_url.as_deref()) {
        (Some(db), _) if crate::db_url::is_postgres(&db.to_string_lossy()) => {
            case_from_postgres(&db.to_string_lossy(), args.order_id).await?
        }
        (Some(path), _) => case_from_db(path, args.order_id).await?,
        (None, Some(base)) => fetch_case(base, args.admin_token.as_deref(), args.order_id).await?,
        (None, None) => bail!("--platform-url URL or --db PATH is required (where to export the case from)"),
    };
    let mut text = serde_json::to_string_pretty(&case).context("encoding the case")?;
    text.push('\n');
    match &args.out {
        Some(path) => std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(())
}

/// Fetches `GET {base}/admin/orders/{id}/case` from a running platform.
pub async fn fetch_case(base: &str, admin_token: Option<&str>, order_id: i64) -> anyhow::Result<Value> {
    use anyhow::{Context, bail};
    let url = format!("{}/admin/orders/{order_id}/case", base.trim_end_matches('/'));
    let client = reqwest::Client::builder().no_proxy().build().context("building the HTTP client")?;
    let mut request = client.get(&url);
    if let Some(token) = admin_token.filter(|t| !t.is_empty()) {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.with_context(|| format!("GET {url}"))?;
    let status = response.status();
    let body = response.text().await.with_context(|| format!("reading the answer of GET {url}"))?;
    if !status.is_success() {
        let why = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or(body);
        bail!("GET {url}: {status}: {why}");
    }
    let case: Value = serde_json::from_str(&body).with_context(|| format!("GET {url}: the answer is not JSON"))?;
    if case["schema"] != SCHEMA {
        bail!("GET {url}: not an {SCHEMA} case file (schema {})", case["schema"]);
    }
    Ok(case)
}

/// The case of `order_id` as stored in the SQLite file at `path`.
pub async fn case_from_db(path: &Path, order_id: i64) -> anyhow::Result<Value> {
    use anyhow::{Context, anyhow, bail};
    if !path.is_file() {
        bail!("--db {}: no such file", path.display());
    }
    let snapshot = Snapshot::take(path)?;
    let platform = Platform::open(PlatformConfig::default(), &snapshot.path)
        .with_context(|| format!("reading the store {}", path.display()))?;
    let case = platform.export_case(order_id).await.map_err(|e| anyhow!("{}: {e}", path.display()))?;
    drop(platform);
    Ok(case)
}

/// The case of `order_id` from a shared platform's PostgreSQL database (read-only: this process serves nothing).
pub async fn case_from_postgres(url: &str, order_id: i64) -> anyhow::Result<Value> {
    use anyhow::{Context, anyhow};
    let shown = crate::db_url::redacted(url);
    let platform =
        Platform::connect(PlatformConfig::default(), url).await.with_context(|| format!("connecting to {shown}"))?;
    platform.export_case(order_id).await.map_err(|e| anyhow!("{shown}: {e}"))
}

/// A consistent private copy of a live SQLite store (`VACUUM INTO` reads it in one read transaction, WAL
/// included), removed on drop. Opening the copy may write to it; the original is only read.
#[derive(Debug)]
struct Snapshot {
    path: PathBuf,
}

impl Snapshot {
    fn take(source: &Path) -> anyhow::Result<Self> {
        use anyhow::Context;
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let path = std::env::temp_dir().join(format!("mock-platform-export-{}-{nanos}.db", std::process::id()));
        let snapshot = Self { path };
        let conn = rusqlite::Connection::open_with_flags(source, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("opening {} read-only", source.display()))?;
        conn.execute("VACUUM INTO ?1", [snapshot.path.to_string_lossy()])
            .with_context(|| format!("reading {}", source.display()))?;
        Ok(snapshot)
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = self.path.clone().into_os_string();
            name.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(name));
        }
    }
}
