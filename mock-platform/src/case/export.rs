//! `mock-platform export`: fetches one order's case file from a running platform's admin API and writes it.

use std::path::PathBuf;

use serde_json::Value;

use super::SCHEMA;

/// `mock-platform export`: where the case comes from and where it goes.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The order to export.
    #[arg(long = "order", value_name = "ID")]
    pub order_id: i64,
    /// A SQLite store written by `serve --db` (not supported yet: this mock-platform keeps its store in memory).
    #[arg(long, value_name = "PATH", conflicts_with = "platform_url")]
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
    if args.db.is_some() {
        bail!("--db: not yet supported (this mock-platform has no SQLite store); use --platform-url URL");
    }
    let Some(base) = args.platform_url.as_deref() else {
        bail!("--platform-url URL is required (the running mock-platform to export from)");
    };
    let case = fetch_case(base, args.admin_token.as_deref(), args.order_id).await?;
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
