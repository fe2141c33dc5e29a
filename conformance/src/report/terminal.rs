//! The terminal reporter: live progress (a bar on a TTY, plain lines otherwise), then a summary table and
//! every failure with expected, actual and a hint. Colour only on a TTY.

use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};

use crate::event::{CheckReport, Event, Summary};
use crate::outcome::Outcome;
use crate::report::Collected;
use crate::runner::Reporter;
use crate::scopes::Scopes;

/// Live progress and the final summary.
pub struct TerminalReporter {
    out: Box<dyn Write + Send>,
    /// A terminal: colour and a progress bar.
    color: bool,
    bar: Option<ProgressBar>,
    collected: Collected,
}

impl std::fmt::Debug for TerminalReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminalReporter").field("color", &self.color).finish_non_exhaustive()
    }
}

impl TerminalReporter {
    /// Standard output; a progress bar and colour when it is a terminal.
    pub fn stdout() -> Self {
        let tty = std::io::stdout().is_terminal();
        Self { out: Box::new(std::io::stdout()), color: tty, bar: None, collected: Collected::default() }
    }

    /// Plain lines to any writer (tests, pipes).
    pub fn plain(out: Box<dyn Write + Send>) -> Self {
        Self { out, color: false, bar: None, collected: Collected::default() }
    }

    fn paint(&self, outcome: Outcome) -> String {
        let label = format!("{:<5}", outcome.label());
        if !self.color {
            return label;
        }
        let code = match outcome {
            Outcome::Pass => "32",
            Outcome::Fail | Outcome::Error => "31",
            Outcome::Warn => "33",
            Outcome::Skip => "90",
        };
        format!("\x1b[1;{code}m{label}\x1b[0m")
    }

    fn line(&mut self, text: String) -> std::io::Result<()> {
        match &self.bar {
            Some(bar) => {
                bar.println(text);
                Ok(())
            }
            None => writeln!(self.out, "{text}"),
        }
    }

    fn finished(&mut self, report: &CheckReport) -> std::io::Result<()> {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        let line = format!(
            "  {} {:<34} {:>6.2} s  {}",
            self.paint(report.verdict.outcome),
            report.info.id,
            report.duration.as_secs_f64(),
            one_line(&report.verdict.message)
        );
        self.line(line)
    }

    fn summary(&mut self, summary: &Summary) -> std::io::Result<()> {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let reports = self.collected.reports.clone();
        writeln!(self.out)?;
        writeln!(self.out, "  {:<5} {:<34} {:<36} {:>8}", "", "check", "rule", "time")?;
        for r in &reports {
            writeln!(
                self.out,
                "  {} {:<34} {:<36} {:>6.2} s",
                self.paint(r.verdict.outcome),
                r.info.id,
                r.info.rule,
                r.duration.as_secs_f64()
            )?;
        }
        let problems: Vec<&CheckReport> = reports
            .iter()
            .filter(|r| matches!(r.verdict.outcome, Outcome::Fail | Outcome::Error | Outcome::Warn))
            .collect();
        if !problems.is_empty() {
            writeln!(self.out)?;
        }
        for r in problems {
            writeln!(self.out, "{} {} ({})", self.paint(r.verdict.outcome), r.info.id, r.info.rule)?;
            writeln!(self.out, "    {}", one_line(&r.verdict.message))?;
            if let Some(e) = &r.verdict.expected {
                writeln!(self.out, "    expected: {}", one_line(e))?;
            }
            if let Some(a) = &r.verdict.actual {
                writeln!(self.out, "    actual:   {}", one_line(a))?;
            }
            if let Some(h) = &r.verdict.hint {
                writeln!(self.out, "    hint:     {}", one_line(h))?;
            }
        }
        writeln!(self.out)?;
        let counts: Vec<String> = Outcome::ALL
            .into_iter()
            .filter(|o| summary.count(*o) > 0)
            .map(|o| format!("{} {}", summary.count(o), o.as_str()))
            .collect();
        let scopes = Scopes::of(&reports);
        let verdict = match (scopes.certified(), summary.is_success()) {
            (true, _) => "certified",
            (false, true) => "no check failed, but some were skipped: not a certification",
            (false, false) => "NOT certified: some checks failed",
        };
        writeln!(
            self.out,
            "{} checks: {} in {:.2} s, {verdict}",
            summary.total,
            counts.join(", "),
            summary.duration.as_secs_f64()
        )?;
        writeln!(self.out, "{}", scopes.line())?;
        self.out.flush()
    }
}

/// Merchant-supplied text on one terminal line: control characters (escape sequences included) escaped.
fn one_line(text: &str) -> String {
    text.chars().flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] }).collect()
}

impl Reporter for TerminalReporter {
    fn on_event(&mut self, event: &Event) -> std::io::Result<()> {
        let summary = self.collected.push(event);
        match event {
            Event::PlanStarted { merchant_url, checks } => {
                if self.color {
                    let style =
                        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
                            .expect("a valid template");
                    let bar = ProgressBar::new(checks.len() as u64).with_style(style);
                    bar.enable_steady_tick(std::time::Duration::from_millis(120));
                    self.bar = Some(bar);
                }
                let line = format!("Certifying {} with {} checks", one_line(merchant_url), checks.len());
                self.line(line)
            }
            Event::CheckStarted { info } => {
                if let Some(bar) = &self.bar {
                    bar.set_message(info.id);
                }
                Ok(())
            }
            Event::CheckFinished(report) => self.finished(report),
            Event::RunFinished(s) => self.summary(summary.as_ref().unwrap_or(s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn plain_output_has_progress_lines_a_table_failure_details_and_both_scopes_without_colour() {
        let shared = Shared::default();
        let mut r = TerminalReporter::plain(Box::new(shared.clone()));
        for e in crate::report::sample::events() {
            r.on_event(&e).unwrap();
        }
        let text = String::from_utf8(shared.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("FAIL  C2.tampered-value"), "{text}");
        assert!(text.contains("expected: no acknowledgement"), "{text}");
        assert!(text.contains("hint:     recompute the sign (FAQ 2.25)"), "{text}");
        assert!(text.contains("3 checks: 1 pass, 1 fail, 1 warn in 5.32 s, NOT certified"), "{text}");
        assert!(text.contains("notifications: failed, redemption: not run — pass --pos-url"), "{text}");
        assert!(!text.contains('\x1b'), "{text}");
    }

    #[test]
    fn control_characters_from_the_merchant_are_escaped() {
        assert_eq!(one_line("a\nb\x1b[31m"), "a\\nb\\u{1b}[31m");
    }
}
