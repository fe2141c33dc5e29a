//! Runs the suite in-process against a merchant and collects every check's report.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use conformance::config::{
    Config, DEFAULT_POS_DEADLINE, MerchantConfig, PlatformTarget, PosConfig, ReportPaths, Windows,
};
use conformance::event::{CheckReport, Event, Summary};
use conformance::outcome::Outcome;
use conformance::plan::all_checks;
use conformance::runner::{Reporter, Reporters};
use conformance::session::run_session;
use protocol::Secret;

use crate::faulty_merchant::{self, Credentials, Defect};

pub const APP_SECRET: &str = "app-secret-of-the-faulty-merchant";
pub const NOTIFY_KEY: &str = "notify-key-of-the-faulty-merchant";
pub const SESSION: &str = "session-of-the-faulty-merchant";

/// The credentials the test merchants are given, against the gateway at `gateway`.
pub fn credentials(gateway: String) -> Credentials {
    Credentials {
        gateway,
        app_key: "23456789".into(),
        app_secret: Secret::new(APP_SECRET),
        session: SESSION.into(),
        notify_key: Secret::new(NOTIFY_KEY),
    }
}

/// Starts a faulty merchant with `defect` and `creds`, and describes it as the suite is told about it.
pub async fn start_merchant(defect: Defect, creds: Credentials) -> MerchantConfig {
    let url = faulty_merchant::start(defect, creds.clone()).await;
    MerchantConfig {
        url,
        app_key: creds.app_key,
        app_secret: creds.app_secret,
        session: creds.session,
        notify_key: creds.notify_key,
        codemerchant_id: None,
    }
}

/// A mock platform running on its own, as `--platform-url` meets it: serving on `127.0.0.1:0` until stopped.
pub struct RunningPlatform {
    /// `http://127.0.0.1:PORT`, the admin API's and the gateway's base.
    pub base: String,
    /// The same platform through the library, to arrange what a shared platform already holds.
    pub platform: mock_platform::Platform,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningPlatform {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let platform = mock_platform::Platform::new(mock_platform::PlatformConfig {
            gateway_base_url: Some(base.clone()),
            ..Default::default()
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(mock_platform::run(listener, platform.clone(), async {
            stopped.await.ok();
        }));
        Self { base, platform, stop, server }
    }

    /// How the suite is pointed at it.
    pub fn target(&self) -> PlatformTarget {
        PlatformTarget::Remote { url: self.base.clone(), admin_token: None }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.server.await;
    }
}

/// Short windows: the test merchants answer in milliseconds, so a shorter quiet window proves the same.
pub fn quick_windows() -> Windows {
    Windows { quiet: Duration::from_millis(2500), callback: Duration::from_secs(8), ..Windows::default() }
}

/// A reporter that keeps every finished check's report, for tests to read after the run.
#[derive(Clone, Default)]
pub struct Collect(Arc<Mutex<Vec<CheckReport>>>);

impl Collect {
    pub fn reports(&self) -> Vec<CheckReport> {
        self.0.lock().unwrap().clone()
    }
}

impl Reporter for Collect {
    fn on_event(&mut self, event: &Event) -> std::io::Result<()> {
        if let Event::CheckFinished(report) = event {
            self.0.lock().unwrap().push((**report).clone());
        }
        Ok(())
    }
}

/// The reports of one run, looked up by check id.
#[derive(Debug)]
pub struct Run {
    pub reports: Vec<CheckReport>,
    pub summary: Summary,
}

impl Run {
    pub fn report(&self, id: &str) -> &CheckReport {
        self.reports.iter().find(|r| r.info.id == id).unwrap_or_else(|| panic!("no check {id}"))
    }

    /// The ids of the checks that failed.
    pub fn failed(&self) -> Vec<&'static str> {
        self.reports.iter().filter(|r| r.verdict.outcome == Outcome::Fail).map(|r| r.info.id).collect()
    }
}

/// Starts a platform listener and a faulty merchant with `defect`, and runs the checks matching `only`.
pub async fn run_against(defect: Defect, only: &[&str]) -> Run {
    run_with_windows(defect, only, quick_windows()).await
}

/// [`run_against`] with explicit windows.
pub async fn run_with_windows(defect: Defect, only: &[&str], windows: Windows) -> Run {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let merchant = start_merchant(defect, credentials(format!("http://{addr}/router/rest"))).await;
    let pos = PosConfig {
        url: merchant.url.replace("/notify", "/pos"),
        manual: false,
        posid: None,
        deadline: DEFAULT_POS_DEADLINE,
    };
    let config = Config {
        merchant,
        platform: PlatformTarget::InProcess(addr),
        reports: ReportPaths::default(),
        only: only.iter().map(|s| (*s).to_owned()).collect(),
        seed: 7,
        windows,
        pos: Some(pos),
    };
    let collect = Collect::default();
    let mut reporters = Reporters::default();
    reporters.push(Box::new(collect.clone()));
    let summary = run_session(&config, all_checks(), Some(listener), &mut reporters).await.expect("setup succeeds");
    Run { reports: collect.reports(), summary }
}
