//! `conformance demo`: the reference merchant in-process with generated credentials, the whole plan (its POS
//! hook included, so both halves are certified), the summary, and where the reports are.

use std::path::{Path, PathBuf};

use protocol::Secret;
use rand::Rng;
use tokio::net::TcpListener;

use crate::config::{Config, DEFAULT_POS_DEADLINE, MerchantConfig, PlatformTarget, PosConfig, ReportPaths, Windows};
use crate::event::Summary;
use crate::plan::all_checks;
use crate::runner::Reporters;
use crate::session::{SetupError, file_reporters, run_session};

/// Where the demo writes its reports unless told otherwise.
pub const DEFAULT_REPORT_DIR: &str = "conformance-report";

fn random_hex(rng: &mut impl Rng, bytes: usize) -> String {
    (0..bytes).map(|_| format!("{:02x}", rng.random::<u8>())).collect()
}

/// The report files of a demo run in `dir`.
pub fn report_paths(dir: &Path) -> ReportPaths {
    ReportPaths {
        json: Some(dir.join("report.json")),
        junit: Some(dir.join("junit.xml")),
        html: Some(dir.join("report.html")),
    }
}

/// Runs the demo; `reporters` gets the file reporters added.
pub async fn run_demo(report_dir: &Path, mut reporters: Reporters) -> Result<(Summary, ReportPaths), SetupError> {
    let mut rng = rand::rng();
    let app_key = format!("{}", rng.random_range(10_000_000u32..99_999_999));
    let app_secret = Secret::new(random_hex(&mut rng, 16));
    let session = random_hex(&mut rng, 24);
    let notify_key = Secret::new(random_hex(&mut rng, 16));

    let bind = |what: &'static str| move |source| SetupError::Bind { addr: format!("127.0.0.1:0 ({what})"), source };
    // The platform listener first, so the merchant can be told the gateway URL.
    let platform_listener = TcpListener::bind("127.0.0.1:0").await.map_err(bind("platform"))?;
    let gateway = format!("http://{}/router/rest", platform_listener.local_addr().map_err(bind("platform"))?);
    let merchant_listener = TcpListener::bind("127.0.0.1:0").await.map_err(bind("merchant"))?;
    let merchant_base = format!("http://{}", merchant_listener.local_addr().map_err(bind("merchant"))?);
    let notify_url = format!("{merchant_base}/notify");

    let db: PathBuf = std::env::temp_dir().join(format!("conformance-demo-{}-{app_key}.sqlite", std::process::id()));
    let mut merchant = merchant_reference::Config::new(
        gateway.as_str(),
        app_key.as_str(),
        app_secret.clone(),
        Secret::new(session.clone()),
        notify_key.clone(),
    );
    merchant.db = db.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let merchant_task = tokio::spawn(merchant_reference::run(merchant_listener, merchant, async {
        stopped.await.ok();
    }));

    let config = Config {
        merchant: MerchantConfig { url: notify_url, app_key, app_secret, session, notify_key, codemerchant_id: None },
        platform: PlatformTarget::InProcess(platform_listener.local_addr().map_err(bind("platform"))?),
        reports: report_paths(report_dir),
        only: Vec::new(),
        seed: 1,
        windows: Windows::default(),
        // Its POS hook too: the demo certifies both halves (INTERFACES §4).
        pos: Some(PosConfig {
            url: format!("{merchant_base}/pos"),
            manual: false,
            posid: None,
            deadline: DEFAULT_POS_DEADLINE,
        }),
    };
    file_reporters(&config, &mut reporters);
    let result = run_session(&config, all_checks(), Some(platform_listener), &mut reporters).await;
    let _ = stop.send(());
    merchant_task.abort();
    let _ = merchant_task.await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    result.map(|summary| (summary, config.reports))
}
