//! `--platform-url`: the suite drives an already running platform through its admin API only.

use conformance::config::{Config, ReportPaths};
use conformance::outcome::Outcome;
use conformance::plan::all_checks;
use conformance::runner::Reporters;
use conformance::session::run_session;
use protocol::Secret;

use crate::faulty_merchant::{Credentials, Defect};
use crate::harness::{RunningPlatform, quick_windows, start_merchant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_platform_is_driven_through_its_admin_api_faults_included() {
    let platform = RunningPlatform::start().await;
    let creds = Credentials {
        gateway: format!("{}/router/rest", platform.base),
        app_key: "34567890".into(),
        app_secret: Secret::new("remote-app-secret"),
        session: "remote-session".into(),
        notify_key: Secret::new("remote-notify-key"),
    };
    let config = Config {
        merchant: start_merchant(Defect::None, creds).await,
        platform: platform.target(),
        reports: ReportPaths::default(),
        only: vec!["C1.send.ack".into(), "C8.transient.isp-timeout".into(), "C6.resend".into()],
        seed: 3,
        windows: quick_windows(),
        pos: None,
    };
    let summary = run_session(&config, all_checks(), None, &mut Reporters::default()).await.expect("setup");
    assert_eq!(summary.pass, 3, "{summary:?}");
    assert_eq!(summary.count(Outcome::Skip), all_checks().len() - 3);
    assert!(summary.is_success());
    platform.stop().await;
}
