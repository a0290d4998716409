//! The plan as an SVG Gantt chart: one row per release, one column per slot.
//!
//! Written by hand rather than with a plotting crate: the chart is a grid of
//! labelled rectangles, a few dozen lines of SVG, and no plotting crate is
//! otherwise needed by xtask.

use std::fmt::Write;

use super::schedule::Plan;
use super::workspace::Workspace;

const ROW: usize = 28;
const COL: usize = 96;
const LABEL: usize = 200;
const TOP: usize = 40;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders the plan as a standalone SVG document.
pub fn svg(plan: &Plan, ws: &Workspace) -> String {
    let first = plan.weeks.first().map_or(1, |w| w.week);
    let last = plan.weeks.last().map_or(1, |w| w.week);
    let cols = last - first + 1;
    let rows: Vec<_> = plan
        .weeks
        .iter()
        .flat_map(|w| w.releases.iter().map(move |r| (w, r)))
        .collect();
    let (width, height) = (LABEL + cols * COL + 20, TOP + rows.len() * ROW + 20);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for c in 0..cols {
        let x = LABEL + c * COL;
        let week = first + c;
        let _ = writeln!(
            s,
            r##"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="#ddd"/>"##,
            TOP - 10,
            height - 20
        );
        let date = plan
            .weeks
            .iter()
            .find(|w| w.week == week)
            .map(|w| w.date.to_string())
            .unwrap_or_default();
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}">week {week}</text>"#,
            x + 4,
            TOP - 24
        );
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" fill="#666" font-size="10">{date}</text>"##,
            x + 4,
            TOP - 12
        );
    }
    for (row, (w, r)) in rows.iter().enumerate() {
        let y = TOP + row * ROW;
        let c = &ws.crates[r.krate];
        let x = LABEL + (w.week - first) * COL;
        let _ = writeln!(
            s,
            r#"<text x="8" y="{}">{}</text>"#,
            y + 18,
            escape(&c.name)
        );
        let _ = writeln!(
            s,
            r##"<rect x="{}" y="{}" width="{}" height="{}" rx="4" fill="#4c78a8"><title>{}</title></rect>"##,
            x + 2,
            y + 4,
            COL - 4,
            ROW - 8,
            escape(&format!("{} {} -> {}", c.name, c.version, r.to))
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" fill="white">{}</text>"#,
            x + 8,
            y + 18,
            escape(&r.to.to_string())
        );
    }
    s.push_str("</svg>\n");
    s
}
