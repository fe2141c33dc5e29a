//! The JSON report (schema `conformance-report/2`, documented in conformance/README.md).

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::event::{Event, Summary};
use crate::report::{Collected, write_file};
use crate::runner::Reporter;
use crate::scopes::Scopes;

/// The schema name written in every report; bump it when a field changes meaning. `/2`: `certified` is the
/// notification half certified and the redemption half not failed (it may not have run), with `scopes` saying
/// which; in `/1` it was "no check failed, errored or was skipped".
pub const SCHEMA: &str = "conformance-report/2";

/// Writes the whole report to a file when the run finishes.
#[derive(Debug)]
pub struct JsonReporter {
    path: PathBuf,
    collected: Collected,
}

impl JsonReporter {
    pub fn new(path: PathBuf) -> Self {
        Self { path, collected: Collected::default() }
    }
}

/// The report as a JSON value.
pub fn render(collected: &Collected, summary: &Summary) -> Value {
    let scopes = Scopes::of(&collected.reports);
    json!({
        "schema": SCHEMA,
        "merchant_url": collected.merchant_url,
        "certified": scopes.certified(),
        "scopes": scopes,
        "summary": summary,
        "checks": collected.reports,
    })
}

impl Reporter for JsonReporter {
    fn on_event(&mut self, event: &Event) -> std::io::Result<()> {
        if let Some(summary) = self.collected.push(event) {
            let text =
                serde_json::to_string_pretty(&render(&self.collected, &summary)).map_err(std::io::Error::other)?;
            write_file(&self.path, text.as_bytes())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lists_checks_in_plan_order_with_verdicts_and_timelines() {
        let mut collected = Collected::default();
        let mut summary = None;
        for e in crate::report::sample::events() {
            summary = collected.push(&e).or(summary);
        }
        let value = render(&collected, &summary.unwrap());
        insta::assert_json_snapshot!(value, {
            ".summary.duration" => "[duration]",
            ".checks[].duration" => "[duration]",
        });
    }
}
