//! The reference merchant passes the whole plan (the demo), and the demo writes its three reports.

use conformance::demo::run_demo;
use conformance::runner::Reporters;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_merchant_passes_the_whole_plan_and_the_demo_writes_three_reports() {
    let dir = std::env::temp_dir().join(format!("conformance-it-demo-{}", std::process::id()));
    let (summary, paths) = run_demo(&dir, Reporters::default()).await.expect("the demo sets up");
    assert!(summary.is_success(), "{summary:?}");
    assert_eq!(summary.total, conformance::plan::all_checks().len());
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(paths.json.unwrap()).unwrap()).unwrap();
    assert_eq!(json["schema"], "conformance-report/1");
    assert_eq!(json["certified"], true);
    let junit = std::fs::read_to_string(paths.junit.unwrap()).unwrap();
    assert!(junit.contains("failures=\"0\""), "{junit}");
    let html = std::fs::read_to_string(paths.html.unwrap()).unwrap();
    assert!(html.contains("taobao.vmarket.eticket.send") && !html.contains("<script"));
    let _ = std::fs::remove_dir_all(dir);
}
