//! The JUnit XML report (quick-junit, the nextest serializer): one test case per check, named by its id.

use std::path::PathBuf;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::event::{CheckReport, Event, Summary};
use crate::outcome::Outcome;
use crate::report::{Collected, write_file};
use crate::runner::Reporter;

/// Writes `junit.xml` when the run finishes.
#[derive(Debug)]
pub struct JunitReporter {
    path: PathBuf,
    collected: Collected,
}

impl JunitReporter {
    pub fn new(path: PathBuf) -> Self {
        Self { path, collected: Collected::default() }
    }
}

fn details(report: &CheckReport) -> String {
    let v = &report.verdict;
    let mut text = v.message.clone();
    for (label, value) in [("expected", &v.expected), ("actual", &v.actual), ("hint", &v.hint)] {
        if let Some(value) = value {
            text.push_str(&format!("\n{label}: {value}"));
        }
    }
    text
}

fn case(report: &CheckReport) -> TestCase {
    let mut status = match report.verdict.outcome {
        Outcome::Pass | Outcome::Warn => TestCaseStatus::success(),
        Outcome::Skip => TestCaseStatus::skipped(),
        Outcome::Fail => TestCaseStatus::non_success(NonSuccessKind::Failure),
        Outcome::Error => TestCaseStatus::non_success(NonSuccessKind::Error),
    };
    if matches!(report.verdict.outcome, Outcome::Fail | Outcome::Error | Outcome::Skip) {
        status.set_message(report.verdict.message.as_str());
        status.set_description(details(report));
    }
    let mut case = TestCase::new(report.info.id, status);
    case.set_classname(report.info.rule);
    case.set_time(report.duration);
    case.add_property(Property::new("outcome", report.verdict.outcome.as_str()));
    if report.verdict.outcome == Outcome::Warn {
        case.set_system_out(format!("WARN: {}", details(report)));
    }
    case
}

/// The report as XML text.
pub fn render(collected: &Collected, summary: &Summary) -> String {
    let mut suite = TestSuite::new("conformance");
    suite.add_property(Property::new("merchant_url", collected.merchant_url.as_str()));
    suite.set_time(summary.duration);
    suite.add_test_cases(collected.reports.iter().map(case));
    let mut report = Report::new("conformance");
    report.set_time(summary.duration);
    report.add_test_suite(suite);
    report.to_string().unwrap_or_else(|e| format!("<!-- junit serialisation failed: {e} -->"))
}

impl Reporter for JunitReporter {
    fn on_event(&mut self, event: &Event) -> std::io::Result<()> {
        if let Some(summary) = self.collected.push(event) {
            write_file(&self.path, render(&self.collected, &summary).as_bytes())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_is_a_test_case_and_failures_carry_expected_actual_and_hint() {
        let mut collected = Collected::default();
        let mut summary = None;
        for e in crate::report::sample::events() {
            summary = collected.push(&e).or(summary);
        }
        let xml = render(&collected, &summary.unwrap());
        let redacted: String = xml
            .lines()
            .map(|l| match l.find(" time=\"") {
                Some(at) => {
                    let end = l[at + 7..].find('"').map(|e| at + 7 + e + 1).unwrap_or(l.len());
                    format!("{} time=\"[duration]\"{}", &l[..at], &l[end..])
                }
                None => l.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        insta::assert_snapshot!(redacted);
    }
}
