//! The HTML load report: one self-contained file (inline CSS and SVG drawn here, no script, nothing fetched)
//! with each step's figures, a latency-over-time chart and a throughput chart.

use std::fmt::Write as _;

use super::judge::StepReport;
use super::report::{LoadReport, broken};
use crate::report::html::esc;

const CSS: &str = "
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1d1d1f;background:#fafafa}
h1{font-size:1.4em}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}th{background:#f0f0f0}
td:first-child,th:first-child{text-align:left}
.ok{color:#2e7d32;font-weight:bold}.bad{color:#c62828;font-weight:bold}
svg{background:#fff;border:1px solid #ddd;margin:.5em 0}.legend span{margin-right:1.2em}
";

/// One line of a chart: its name, colour and one value per second (`None`: no sample that second).
struct Series<'a> {
    name: &'a str,
    colour: &'a str,
    values: Vec<Option<f64>>,
}

const W: f64 = 720.0;
const H: f64 = 220.0;
const PAD_L: f64 = 56.0;
const PAD_B: f64 = 28.0;
const PAD_T: f64 = 10.0;
const PAD_R: f64 = 12.0;

/// A line chart over the seconds of a step, y from 0 to the highest value (rounded up).
fn chart(title: &str, unit: &str, series: &[Series<'_>]) -> String {
    let n = series.iter().map(|s| s.values.len()).max().unwrap_or(0).max(2);
    let top = series.iter().flat_map(|s| s.values.iter().flatten().copied()).fold(0.0_f64, f64::max);
    let top = nice_ceiling(top.max(1.0));
    let x = |i: usize| PAD_L + (W - PAD_L - PAD_R) * i as f64 / (n - 1) as f64;
    let y = |v: f64| PAD_T + (H - PAD_T - PAD_B) * (1.0 - v / top);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" aria-label="{}">"#,
        esc(title)
    );
    for k in 0..=4 {
        let v = top * k as f64 / 4.0;
        let _ = write!(
            svg,
            r##"<line x1="{PAD_L}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#eee"/><text x="{}" y="{:.1}" font-size="10" text-anchor="end">{} {unit}</text>"##,
            W - PAD_R,
            PAD_L - 4.0,
            y(v) + 3.0,
            trim(v),
            y = y(v)
        );
    }
    let step = (n / 10).max(1);
    for i in (0..n).step_by(step) {
        let _ = write!(svg, r#"<text x="{:.1}" y="{}" font-size="10" text-anchor="middle">{i}s</text>"#, x(i), H - 8.0);
    }
    for s in series {
        // A gap (no sample) ends the current polyline.
        let mut run = String::new();
        let flush = |run: &mut String, svg: &mut String| {
            if !run.is_empty() {
                let _ = write!(
                    svg,
                    r#"<polyline fill="none" stroke="{}" stroke-width="1.6" points="{}"/>"#,
                    s.colour,
                    run.trim_end()
                );
                run.clear();
            }
        };
        for (i, v) in s.values.iter().enumerate() {
            match v {
                Some(v) => {
                    let _ = write!(run, "{:.1},{:.1} ", x(i), y(*v));
                }
                None => flush(&mut run, &mut svg),
            }
        }
        flush(&mut run, &mut svg);
    }
    svg.push_str("</svg>");
    let legend: String =
        series.iter().map(|s| format!(r#"<span style="color:{}">&#9632; {}</span>"#, s.colour, esc(s.name))).collect();
    format!("<h3>{}</h3>{svg}<div class=\"legend\">{legend}</div>", esc(title))
}

fn nice_ceiling(v: f64) -> f64 {
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|c| *c >= v).unwrap_or(v)
}

fn trim(v: f64) -> String {
    if v.fract().abs() < 1e-9 { format!("{v:.0}") } else { format!("{v:.1}") }
}

fn step_html(out: &mut String, step: &StepReport) {
    let verdict = if step.held { r#"<span class="ok">held</span>"# } else { r#"<span class="bad">broke</span>"# };
    let _ = write!(
        out,
        "<h2>Step {} — {:.1}→{:.1} orders/s for {:.0} s: {verdict}</h2>",
        step.step, step.rate_from, step.rate_to, step.duration_s
    );
    let _ = write!(
        out,
        "<p>{} scheduled, {} bought ({:.1}/s achieved), {} issued; errors {:.3} %.{}</p>",
        step.scheduled,
        step.bought,
        step.achieved_rate,
        step.issued,
        step.errors.rate_pct,
        if step.schedule.behind {
            format!(
                " <span class=\"bad\">The tool fell behind its schedule (start lag p99 {:.0} ms, max {:.0} ms).</span>",
                step.schedule.p99_start_lag_ms, step.schedule.max_start_lag_ms
            )
        } else {
            String::new()
        }
    );
    out.push_str("<table><tr><th>latency (ms)</th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>");
    let cell = |v: Option<u64>| v.map_or("–".to_owned(), |v| v.to_string());
    for (name, p) in
        [("send ack", &step.ack_ms), ("callback lag", &step.callback_lag_ms), ("end to end", &step.end_to_end_ms)]
    {
        let _ = write!(
            out,
            "<tr><td>{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            p.count,
            cell(p.p50),
            cell(p.p90),
            cell(p.p99),
            cell(p.p999),
            cell(p.max)
        );
    }
    out.push_str("</table><table><tr><th>threshold</th><th>limit</th><th>value</th><th></th></tr>");
    for t in &step.thresholds {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            t.name,
            t.limit,
            t.value.map_or("–".to_owned(), |v| format!("{v:.2}")),
            if t.held { r#"<span class="ok">held</span>"# } else { r#"<span class="bad">broke</span>"# }
        );
    }
    out.push_str("</table>");
    let i = &step.integrity;
    let _ = write!(
        out,
        "<p>Integrity: {}. Not issued {}, codes on several orders {}, wrong code sums {}, sent twice {}, callbacks before their ack {}.</p>",
        if i.held { r#"<span class="ok">held</span>"# } else { r#"<span class="bad">violated</span>"# },
        i.not_issued.count,
        i.shared_codes.len(),
        i.wrong_code_sum.count,
        i.sent_twice.count,
        i.callback_before_ack.count
    );
    let f = &step.flow_control;
    if f.limited_calls > 0 {
        let _ = write!(
            out,
            "<p>Flow control: {} calls answered 7; calls/s before the first 7: {}, after: {}{}; {} orders left without codes.</p>",
            f.limited_calls,
            f.calls_per_s_before.map_or("–".into(), |v| v.to_string()),
            f.calls_per_s_after.map_or("–".into(), |v| v.to_string()),
            if f.hammering { r#" — <span class="bad">hammering</span>"# } else { "" },
            f.left_without_codes.count
        );
    }
    for (title, map) in [("Retries (why the attempt before failed)", &step.retries), ("Near misses", &step.near_misses)]
    {
        if !map.is_empty() {
            let items: String = map.iter().map(|(k, v)| format!("<li>{}: {v}</li>", esc(k))).collect();
            let _ = write!(out, "<p>{title}:</p><ul>{items}</ul>");
        }
    }
    let ts = &step.time_series;
    let v = |f: &dyn Fn(&super::judge::Second) -> Option<f64>| ts.iter().map(f).collect::<Vec<_>>();
    out.push_str(&chart(
        "Latency over time (by scheduled second)",
        "ms",
        &[
            Series { name: "ack p50", colour: "#1565c0", values: v(&|s| s.ack_p50_ms.map(|x| x as f64)) },
            Series { name: "ack p99", colour: "#c62828", values: v(&|s| s.ack_p99_ms.map(|x| x as f64)) },
            Series { name: "callback lag p99", colour: "#ef6c00", values: v(&|s| s.callback_p99_ms.map(|x| x as f64)) },
        ],
    ));
    out.push_str(&chart(
        "Throughput (orders per second)",
        "/s",
        &[
            Series { name: "scheduled (target)", colour: "#757575", values: v(&|s| Some(s.scheduled as f64)) },
            Series { name: "bought", colour: "#1565c0", values: v(&|s| Some(s.bought as f64)) },
            Series { name: "issued", colour: "#2e7d32", values: v(&|s| Some(s.issued as f64)) },
            Series { name: "gateway calls", colour: "#6a1b9a", values: v(&|s| Some(s.calls as f64)) },
            Series { name: "answered 7", colour: "#c62828", values: v(&|s| Some(s.limited as f64)) },
        ],
    ));
}

/// The whole page.
pub fn render(report: &LoadReport) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>conformance load</title><style>{CSS}</style></head><body>"
    );
    let _ = write!(
        out,
        "<h1>Flash-sale load (FAQ 2.24): {}</h1><p>Merchant {} on platform {}, started {}; {} unit(s) per order; drain window {:.0} s. Latencies are measured from each order's scheduled time (open model: no coordinated omission).</p>",
        if report.passed { r#"<span class="ok">passed</span>"# } else { r#"<span class="bad">failed</span>"# },
        esc(&report.merchant_url),
        esc(&report.platform),
        esc(&report.started_at),
        report.num,
        report.drain_window_s,
    );
    if let Some(fm) = &report.find_max {
        let _ = write!(
            out,
            "<p><b>find-max</b>: highest rate that held {}, first that did not {} ({}).</p>",
            fm.held_rate.map_or("none".to_owned(), |r| format!("{r:.1}/s")),
            fm.broke_rate.map_or("none".to_owned(), |r| format!("{r:.1}/s")),
            esc(&fm.broke.join(", "))
        );
    }
    for step in &report.steps {
        step_html(&mut out, step);
        let what = broken(step);
        if !what.is_empty() {
            let _ = write!(out, "<p class=\"bad\">Broke: {}</p>", esc(&what.join(", ")));
        }
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_inline_svg_scaled_to_their_data_and_gaps_split_lines() {
        let svg = chart(
            "t",
            "ms",
            &[Series { name: "a<b", colour: "#000", values: vec![Some(1.0), None, Some(30.0), Some(40.0)] }],
        );
        assert!(svg.contains("<svg") && !svg.contains("<script") && !svg.contains("https:"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("50 ms"), "the axis tops at a round value above 40");
        assert!(svg.contains("a&lt;b"));
    }
}
