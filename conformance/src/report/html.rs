//! The HTML report: one self-contained file (inline CSS, no script, no external asset) with every check's
//! verdict and exchange timeline. Every merchant-supplied byte is HTML-escaped.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::event::{CheckReport, EntryKind, Event, Summary, TimelineEntry};
use crate::outcome::Outcome;
use crate::report::{Collected, write_file};
use crate::runner::Reporter;
use crate::scopes::Scopes;

/// Writes `report.html` when the run finishes.
#[derive(Debug)]
pub struct HtmlReporter {
    path: PathBuf,
    collected: Collected,
}

impl HtmlReporter {
    pub fn new(path: PathBuf) -> Self {
        Self { path, collected: Collected::default() }
    }
}

impl Reporter for HtmlReporter {
    fn on_event(&mut self, event: &Event) -> std::io::Result<()> {
        if let Some(summary) = self.collected.push(event) {
            write_file(&self.path, render(&self.collected, &summary).as_bytes())?;
        }
        Ok(())
    }
}

/// Escapes text for element content and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = "
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1d1d1f;background:#fafafa}
h1{font-size:1.4em}table{border-collapse:collapse;width:100%;margin:.5em 0}
td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f0f0f0}.o{font-weight:bold;padding:.1em .4em;border-radius:3px;color:#fff}
.pass{background:#2e7d32}.fail,.error{background:#c62828}.warn{background:#ef6c00}.skip{background:#757575}
details{background:#fff;border:1px solid #ddd;border-radius:4px;margin:.5em 0;padding:.5em}
summary{cursor:pointer}pre{white-space:pre-wrap;word-break:break-all;margin:0;font:12px ui-monospace,monospace}
.k-notification{background:#e3f2fd}.k-gateway{background:#f3e5f5}.k-suite{background:#fffde7}.k-pos{background:#e8f5e9}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:bold}
";

fn badge(outcome: Outcome) -> String {
    format!("<span class=\"o {}\">{}</span>", outcome.as_str(), outcome.label())
}

/// The report as one HTML document.
pub fn render(collected: &Collected, summary: &Summary) -> String {
    let mut h = String::new();
    let scopes = Scopes::of(&collected.reports);
    let status = match (scopes.certified(), summary.is_success()) {
        (true, _) => "certified",
        (false, true) => "no check failed, but some were skipped: not a certification",
        (false, false) => "NOT certified: some checks failed",
    };
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Conformance report</title>\
         <style>{CSS}</style></head><body><h1>E-voucher conformance report</h1><p>Merchant <code>{}</code>: \
         <b>{status}</b> ({}). {} checks in {:.2} s: ",
        esc(&collected.merchant_url),
        esc(&scopes.line()),
        summary.total,
        summary.duration.as_secs_f64()
    );
    for o in Outcome::ALL {
        let _ = write!(h, "{} {} ", badge(o), summary.count(o));
    }
    h.push_str("</p><table><tr><th>outcome</th><th>check</th><th>rule</th><th>time</th><th>verdict</th></tr>");
    for r in &collected.reports {
        let _ = write!(
            h,
            "<tr><td>{}</td><td><a href=\"#{id}\">{id}</a></td><td>{}</td><td>{:.2} s</td><td>{}</td></tr>",
            badge(r.verdict.outcome),
            esc(r.info.rule),
            r.duration.as_secs_f64(),
            esc(&r.verdict.message),
            id = esc(r.info.id),
        );
    }
    h.push_str("</table>");
    for r in &collected.reports {
        check(&mut h, r);
    }
    h.push_str("</body></html>\n");
    h
}

fn check(h: &mut String, r: &CheckReport) {
    let open = if r.verdict.outcome.is_failure() { " open" } else { "" };
    let _ = write!(
        h,
        "<details id=\"{}\"{open}><summary>{} <b>{}</b> — {} <small>({})</small></summary><dl>",
        esc(r.info.id),
        badge(r.verdict.outcome),
        esc(r.info.id),
        esc(r.info.title),
        esc(r.info.rule)
    );
    let v = &r.verdict;
    for (label, value) in [
        ("verdict", Some(&v.message)),
        ("expected", v.expected.as_ref()),
        ("actual", v.actual.as_ref()),
        ("hint", v.hint.as_ref()),
    ] {
        if let Some(value) = value {
            let _ = write!(h, "<dt>{label}</dt><dd><pre>{}</pre></dd>", esc(value));
        }
    }
    let orders: Vec<String> = r.orders.iter().map(i64::to_string).collect();
    let _ = write!(h, "<dt>orders</dt><dd>{}</dd></dl>", esc(&orders.join(", ")));
    if !r.timeline.is_empty() {
        h.push_str(
            "<table><tr><th>at</th><th>who</th><th>what</th><th>params</th><th>reply</th><th>verdict</th><th>ms</th></tr>",
        );
        for e in &r.timeline {
            entry(h, e);
        }
        h.push_str("</table>");
    }
    h.push_str("</details>");
}

fn entry(h: &mut String, e: &TimelineEntry) {
    let who = match e.kind {
        EntryKind::Notification => "platform → merchant",
        EntryKind::Gateway => "merchant → gateway",
        EntryKind::Suite => "suite",
        EntryKind::Pos => "suite → POS hook",
    };
    let kind = match e.kind {
        EntryKind::Notification => "notification",
        EntryKind::Gateway => "gateway",
        EntryKind::Suite => "suite",
        EntryKind::Pos => "pos",
    };
    let params: Vec<String> = e.params.iter().map(|(n, v)| format!("{n}={v}")).collect();
    let mut verdict = e.verdict.clone().unwrap_or_default();
    for note in &e.notes {
        verdict.push('\n');
        verdict.push_str(note);
    }
    let _ = write!(
        h,
        "<tr class=\"k-{kind}\"><td>{}</td><td>{who}</td><td>{}</td><td><pre>{}</pre></td><td><pre>{}</pre></td>\
         <td><pre>{}</pre></td><td>{}</td></tr>",
        esc(e.at.as_deref().unwrap_or("")),
        esc(&e.title),
        esc(&params.join("\n")),
        esc(e.reply.as_deref().unwrap_or("")),
        esc(&verdict),
        e.duration_ms.map(|ms| ms.to_string()).unwrap_or_default()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_html() -> String {
        let mut collected = Collected::default();
        let mut summary = None;
        for e in crate::report::sample::events() {
            summary = collected.push(&e).or(summary);
        }
        render(&collected, &summary.unwrap())
    }

    #[test]
    fn merchant_bytes_are_escaped_and_nothing_is_loaded_from_outside() {
        let html = sample_html();
        assert!(!html.contains("<script>"), "merchant reply must be escaped");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("银子岩&lt;门票&gt;&amp;"));
        for external in ["src=", "href=\"http", "@import", "url("] {
            assert!(!html.contains(external), "{external}");
        }
    }

    #[test]
    fn the_report_shows_each_check_and_its_timeline() {
        let html = sample_html();
        assert!(html.contains("id=\"C2.tampered-value\" open"));
        assert!(html.contains("taobao.vmarket.eticket.send"));
        assert!(html.contains("causality: ok"));
        assert!(html.contains("NOT certified"));
        assert!(html.contains("notifications: failed, redemption: not run — pass --pos-url"), "both scopes");
    }

    #[test]
    fn escaping_covers_quotes_and_control_characters() {
        assert_eq!(esc("\"a'&\u{1b}"), "&quot;a&#39;&amp;\\u{1b}");
    }
}
