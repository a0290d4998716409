//! The `[schedule]` table of `release-calendar.toml`: the plan as committed.
//!
//! `--write` stores the computed plan there with toml_edit, leaving every other
//! line, comment and blank of the file as it was; `--check` fails when the
//! committed table and the computed plan differ, so CI notices a manifest or
//! calendar change that moves a release.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use toml_edit::{DocumentMut, InlineTable, Item, Table, value};

use super::apply::Selected;
use super::calendar::{Calendar, Scheduled};
use super::schedule::Plan;
use super::workspace::Workspace;

/// The plan as `[schedule]` entries.
pub fn entries(plan: &Plan, ws: &Workspace) -> BTreeMap<String, Scheduled> {
    plan.weeks
        .iter()
        .flat_map(|w| {
            w.releases.iter().map(move |r| {
                let s = Scheduled {
                    week: w.week,
                    date: w.date.to_string(),
                    version: r.to.to_string(),
                };
                (ws.crates[r.krate].name.clone(), s)
            })
        })
        .collect()
}

/// Every difference between the committed `[schedule]` and the plan, one
/// line each; `None` when nothing is committed.
pub fn differences(cal: &Calendar, plan: &Plan, ws: &Workspace) -> Option<Vec<String>> {
    let committed = cal.schedule.as_ref()?;
    let computed = entries(plan, ws);
    let mut diffs = Vec::new();
    for name in committed
        .keys()
        .chain(computed.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        match (committed.get(name), computed.get(name)) {
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) => diffs.push(format!(
                "{name}: committed week {} ({}) {}, planned week {} ({}) {}",
                a.week, a.date, a.version, b.week, b.date, b.version
            )),
            (Some(a), None) => diffs.push(format!(
                "{name}: committed for week {} but no longer planned",
                a.week
            )),
            (None, Some(b)) => diffs.push(format!(
                "{name}: planned for week {} but not committed",
                b.week
            )),
            (None, None) => unreachable!("name comes from one of the maps"),
        }
    }
    Some(diffs)
}

/// Compares the committed schedule with the plan; an error lists every difference.
pub fn check(cal: &Calendar, plan: &Plan, ws: &Workspace, path: &Path) -> anyhow::Result<()> {
    match differences(cal, plan, ws) {
        None => bail!(
            "{} has no [schedule]; run `cargo xtask release-plan --write`",
            path.display()
        ),
        Some(diffs) if diffs.is_empty() => {
            super::out(format_args!(
                "{}: [schedule] matches the plan\n",
                path.display()
            ))?;
            Ok(())
        }
        Some(diffs) => bail!(
            "{}: [schedule] differs from the plan (run --write):\n  {}",
            path.display(),
            diffs.join("\n  ")
        ),
    }
}

/// The calendar text with `[schedule]` replaced by the plan.
pub fn updated(src: &str, plan: &Plan, ws: &Workspace) -> anyhow::Result<String> {
    let mut doc: DocumentMut = src.parse().context("parsing the calendar")?;
    let mut table = Table::new();
    let mut in_order: Vec<(String, Scheduled)> = entries(plan, ws).into_iter().collect();
    in_order.sort_by_key(|(name, s)| (s.week, name.clone()));
    for (name, s) in in_order {
        let mut t = InlineTable::new();
        t.insert("week", (s.week as i64).into());
        t.insert("date", s.date.into());
        t.insert("version", s.version.into());
        table.insert(&name, value(t));
    }
    // Keep the old table's comment (its decor) so a hand-written note survives.
    let decor = doc
        .get("schedule")
        .and_then(Item::as_table)
        .map(|t| t.decor().clone());
    match decor {
        Some(d) => *table.decor_mut() = d,
        None => table.decor_mut().set_prefix("\n# Written by `cargo xtask release-plan --write`; `--check` compares it with the plan.\n"),
    }
    doc.insert("schedule", Item::Table(table));
    Ok(doc.to_string())
}

/// The calendar text with `releases` added to `[released]`.
pub fn record(src: &str, ws: &Workspace, releases: &[Selected<'_>]) -> anyhow::Result<String> {
    let mut doc: DocumentMut = src.parse().context("parsing the calendar")?;
    if doc.get("released").is_none() {
        let mut t = Table::new();
        t.decor_mut().set_prefix("\n# Written by `cargo xtask release-plan --apply`: releases carried out. They keep\n# their slots and are not planned again; delete this table to start the next cycle.\n");
        doc.insert("released", Item::Table(t));
    }
    let table = doc["released"]
        .as_table_mut()
        .context("[released] in the calendar is not a table")?;
    for (week, date, r) in releases {
        let mut t = InlineTable::new();
        t.insert("week", (*week as i64).into());
        t.insert("date", date.to_string().into());
        t.insert("version", r.to.to_string().into());
        t.insert("from", r.from.to_string().into());
        table.insert(&ws.crates[r.krate].name, value(t));
    }
    Ok(doc.to_string())
}

/// Rewrites the calendar's `[schedule]` (atomically), or prints the diff.
/// A missing calendar is created from the settings in use.
pub fn write(
    path: &Path,
    cal: &Calendar,
    plan: &Plan,
    ws: &Workspace,
    dry_run: bool,
) -> anyhow::Result<()> {
    let src = match std::fs::read_to_string(path) {
        Ok(src) => src,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let requests: String = cal
                .requests
                .iter()
                .map(|(name, level)| format!("{name} = \"{level}\"\n"))
                .collect();
            format!(
                "# Release calendar read by `cargo xtask release-plan`.\n[calendar]\nstart = \"{}\"\ncadence = \"{}\"\ncapacity = {}\nlag = {}\n\n[requests]\n{requests}",
                cal.start,
                if cal.cadence_days == 14 {
                    "biweekly"
                } else {
                    "weekly"
                },
                cal.capacity,
                cal.lag
            )
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let new = updated(&src, plan, ws)?;
    if dry_run {
        super::out(super::apply::diff(path, &src, &new))?;
        return Ok(());
    }
    if new != src {
        super::apply::write_all(&[(path.to_owned(), new)])?;
    }
    super::out(format_args!("wrote [schedule] to {}\n", path.display()))?;
    Ok(())
}
