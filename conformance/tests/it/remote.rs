//! `--platform-url`: the suite drives an already running platform through its admin API only.

use conformance::config::{Config, PlatformTarget, ReportPaths};
use conformance::outcome::Outcome;
use conformance::plan::all_checks;
use conformance::runner::Reporters;
use conformance::session::run_session;
use protocol::Secret;

use crate::faulty_merchant::{Credentials, Defect};
use crate::harness::{quick_windows, start_merchant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_platform_is_driven_through_its_admin_api_faults_included() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let platform = mock_platform::Platform::new(mock_platform::PlatformConfig {
        gateway_base_url: Some(base.clone()),
        ..Default::default()
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(mock_platform::run(listener, platform, async {
        stopped.await.ok();
    }));
    let creds = Credentials {
        gateway: format!("{base}/router/rest"),
        app_key: "34567890".into(),
        app_secret: Secret::new("remote-app-secret"),
        session: "remote-session".into(),
        notify_key: Secret::new("remote-notify-key"),
    };
    let config = Config {
        merchant: start_merchant(Defect::None, creds).await,
        platform: PlatformTarget::Remote { url: base, admin_token: None },
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
    let _ = stop.send(());
    let _ = server.await;
}
