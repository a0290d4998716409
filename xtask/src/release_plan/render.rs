//! Printing a plan: an aligned table for people, JSON as a stable contract for
//! tools, Markdown for release notes.

use std::fmt::Write;

use serde_json::{Value, json};

use super::schedule::Plan;
use super::workspace::Workspace;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns.
    #[default]
    Table,
    /// The JSON contract.
    Json,
    /// A Markdown table.
    Markdown,
    /// An iCalendar file (RFC 5545) with one all-day event per release.
    Ics,
}

struct Row {
    week: String,
    date: String,
    krate: String,
    from: String,
    to: String,
    reason: String,
}

fn rows(plan: &Plan, ws: &Workspace) -> Vec<Row> {
    plan.weeks
        .iter()
        .flat_map(|w| {
            w.releases.iter().map(move |r| Row {
                week: w.week.to_string(),
                date: w.date.to_string(),
                krate: ws.crates[r.krate].name.clone(),
                from: r.from.to_string(),
                to: r.to.to_string(),
                reason: r
                    .reasons
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            })
        })
        .collect()
}

/// The plan as JSON (`weeks`, `lower_bound`, `optimal`, `edges`, …).
pub fn json(plan: &Plan, ws: &Workspace) -> Value {
    let weeks: Vec<Value> = plan
        .weeks
        .iter()
        .map(|w| {
            let releases: Vec<Value> = w
                .releases
                .iter()
                .map(|r| {
                    let c = &ws.crates[r.krate];
                    let reasons: Vec<String> = r.reasons.iter().map(ToString::to_string).collect();
                    let status = if r.done { "released" } else { "planned" };
                    json!({"crate": c.name, "from": r.from.to_string(), "to": r.to.to_string(),
                           "reason": reasons.join("; "), "status": status})
                })
                .collect();
            json!({"week": w.week, "date": w.date.to_string(), "releases": releases})
        })
        .collect();
    let excluded: Vec<Value> = ws
        .excluded
        .iter()
        .map(|(n, why)| json!({"crate": n, "reason": why}))
        .collect();
    json!({
        "weeks": weeks,
        "lower_bound": plan.lower_bound,
        "slots_used": plan.slots_used,
        "optimal": plan.optimal(),
        "edges": ws.edge_names(),
        "blackouts": plan.blackouts.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "excluded": excluded,
    })
}

/// Renders the plan in `format`.
pub fn render(plan: &Plan, ws: &Workspace, format: Format) -> String {
    match format {
        Format::Json => format!("{:#}\n", json(plan, ws)),
        Format::Table => table(plan, ws),
        Format::Markdown => markdown(plan, ws),
        Format::Ics => ics(plan, ws),
    }
}

fn summary(plan: &Plan) -> String {
    let n: usize = plan.weeks.iter().map(|w| w.releases.len()).sum();
    let verdict = if plan.optimal() {
        "optimal".to_owned()
    } else {
        format!("{} over", plan.slots_used - plan.lower_bound)
    };
    format!(
        "{n} releases in {} slots (lower bound {}: {verdict})",
        plan.slots_used, plan.lower_bound
    )
}

fn table(plan: &Plan, ws: &Workspace) -> String {
    let header = Row {
        week: "week".into(),
        date: "date".into(),
        krate: "crate".into(),
        from: "from".into(),
        to: "to".into(),
        reason: "reason".into(),
    };
    let all: Vec<Row> = std::iter::once(header).chain(rows(plan, ws)).collect();
    let w = |f: fn(&Row) -> &String| all.iter().map(|r| f(r).chars().count()).max().unwrap_or(0);
    let widths = [
        w(|r| &r.week),
        w(|r| &r.date),
        w(|r| &r.krate),
        w(|r| &r.from),
        w(|r| &r.to),
    ];
    let mut out = String::new();
    for r in &all {
        let _ = writeln!(
            out,
            "{:>w0$}  {:w1$}  {:w2$}  {:w3$}  {:w4$}  {}",
            r.week,
            r.date,
            r.krate,
            r.from,
            r.to,
            r.reason,
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4]
        );
    }
    let _ = writeln!(out, "{}", summary(plan));
    for d in &plan.blackouts {
        let _ = writeln!(out, "blackout: {d}");
    }
    for (n, why) in &ws.excluded {
        let _ = writeln!(out, "not released: {n} ({why})");
    }
    out
}

fn markdown(plan: &Plan, ws: &Workspace) -> String {
    let mut out =
        String::from("| week | date | crate | from | to | reason |\n|---:|---|---|---|---|---|\n");
    for r in rows(plan, ws) {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            r.week, r.date, r.krate, r.from, r.to, r.reason
        );
    }
    let _ = writeln!(out, "\n{}", summary(plan));
    out
}

/// Escapes TEXT values (RFC 5545 §3.3.11).
fn ics_text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\n', "\\n")
}

/// Folds a content line at 75 octets (RFC 5545 §3.1), never inside a character.
fn ics_line(out: &mut String, line: &str) {
    let mut width = 0;
    for ch in line.chars() {
        if width + ch.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(ch);
        width += ch.len_utf8();
    }
    out.push_str("\r\n");
}

fn ics(plan: &Plan, ws: &Workspace) -> String {
    let mut out = String::new();
    for l in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//heijunka//cargo xtask release-plan//EN",
        "CALSCALE:GREGORIAN",
    ] {
        ics_line(&mut out, l);
    }
    // DTSTAMP must be present; the plan's first date keeps the file reproducible.
    let stamp = plan
        .weeks
        .first()
        .map(|w| w.date.format("%Y%m%dT000000Z").to_string())
        .unwrap_or_default();
    for w in &plan.weeks {
        for r in &w.releases {
            let c = &ws.crates[r.krate];
            let reasons = r
                .reasons
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            ics_line(&mut out, "BEGIN:VEVENT");
            ics_line(
                &mut out,
                &format!("UID:{}-{}@release-plan.heijunka", c.name, r.to),
            );
            ics_line(&mut out, &format!("DTSTAMP:{stamp}"));
            ics_line(
                &mut out,
                &format!("DTSTART;VALUE=DATE:{}", w.date.format("%Y%m%d")),
            );
            ics_line(
                &mut out,
                &format!(
                    "DTEND;VALUE=DATE:{}",
                    w.date
                        .succ_opt()
                        .expect("the scheduler only plans days whose next day exists")
                        .format("%Y%m%d")
                ),
            );
            ics_line(
                &mut out,
                &format!(
                    "SUMMARY:{}",
                    ics_text(&format!("Release {} {}", c.name, r.to))
                ),
            );
            ics_line(
                &mut out,
                &format!(
                    "DESCRIPTION:{}",
                    ics_text(&format!(
                        "week {}: {} -> {} ({reasons})",
                        w.week, r.from, r.to
                    ))
                ),
            );
            ics_line(&mut out, "END:VEVENT");
        }
    }
    ics_line(&mut out, "END:VCALENDAR");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ics_lines_are_escaped_and_folded() {
        assert_eq!(ics_text("a;b,c\\d\ne"), "a\\;b\\,c\\\\d\\ne");
        let mut out = String::new();
        ics_line(&mut out, &"x".repeat(80));
        let lines: Vec<&str> = out.split("\r\n").collect();
        assert_eq!(lines[0].len(), 75);
        assert_eq!(lines[1], format!(" {}", "x".repeat(5)));
        let mut wide = String::new();
        ics_line(&mut wide, &"é".repeat(40));
        assert!(wide.split("\r\n").all(|l| l.len() <= 75));
    }
}
