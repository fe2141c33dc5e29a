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
    assert_eq!(json["schema"], "conformance-report/2");
    assert_eq!(json["certified"], true);
    assert_eq!(json["scopes"], serde_json::json!({"notifications": "certified", "redemption": "certified"}));
    let rule_of = |c: &serde_json::Value| c["rule"].as_str().unwrap().split(' ').next().unwrap().to_owned();
    let redemption: Vec<_> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| ["C11", "C12", "C13", "C14"].contains(&rule_of(c).as_str()))
        .collect();
    assert_eq!(redemption.len(), 11, "C11–C14 ran");
    assert!(redemption.iter().all(|c| c["outcome"] == "pass"), "{redemption:#?}");
    let junit = std::fs::read_to_string(paths.junit.unwrap()).unwrap();
    assert!(junit.contains("failures=\"0\""), "{junit}");
    let html = std::fs::read_to_string(paths.html.unwrap()).unwrap();
    assert!(html.contains("taobao.vmarket.eticket.send") && !html.contains("<script"));
    assert!(html.contains("redemption: certified") && html.contains("POS hook: POST"), "hook requests in the timeline");
    assert!(html.contains("taobao.vmarket.eticket.consume"));
    let _ = std::fs::remove_dir_all(dir);
}
