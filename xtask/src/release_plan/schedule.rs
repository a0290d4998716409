//! Leveling: assigning releases to calendar slots.
//!
//! Releases are unit jobs with precedence on `capacity` slots per week, the
//! problem P|prec,p=1|Cmax. The scheduler labels the transitive reduction of
//! the release graph Coffman–Graham style (a crate whose dependents carry
//! lexicographically smaller labels is labelled later, so it ranks higher),
//! then fills each slot with ready releases — dependencies released at least
//! `lag` slots earlier — by earliest deadline (from pins), then highest label.
//! With lag 1 this is optimal for capacity 2 and within 2 − 2/K of optimal
//! otherwise. The plan reports the lower bound
//! max(⌈n / capacity⌉, 1 + (longest chain − 1) · lag) and whether it meets it.
//! Finally the load is leveled within each release's slack.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;
use chrono::{Days, NaiveDate};

use super::bump::Release;
use super::calendar::Calendar;
use super::workspace::Workspace;

/// One calendar slot with its releases.
#[derive(Debug, Clone, PartialEq)]
pub struct Week {
    /// Slot number from 1, counting blackout slots.
    pub week: usize,
    /// The slot's date.
    pub date: NaiveDate,
    /// Releases in this slot, by name.
    pub releases: Vec<Release>,
}

/// The finished plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Slots that hold releases, in order.
    pub weeks: Vec<Week>,
    /// Slots skipped for blackout dates before the last release.
    pub blackouts: Vec<NaiveDate>,
    /// Fewest working slots any valid plan needs.
    pub lower_bound: usize,
    /// Working slots this plan uses (up to its last release).
    pub slots_used: usize,
    /// Every dependency edge, dependent → dependency, by name.
    pub edges: Vec<(String, String)>,
}

impl Plan {
    /// Whether the plan is as short as possible.
    pub fn optimal(&self) -> bool {
        self.slots_used == self.lower_bound
    }
}

/// Schedules `releases` over `cal`'s slots.
pub fn schedule(
    ws: &Workspace,
    releases: &BTreeMap<usize, Release>,
    cal: &Calendar,
) -> anyhow::Result<Plan> {
    let set: BTreeSet<usize> = releases.keys().copied().collect();
    let name = |i: usize| ws.crates[i].name.as_str();
    // Predecessors (dependencies) and successors (dependents) inside the release set.
    let mut preds: BTreeMap<usize, BTreeSet<usize>> =
        set.iter().map(|&i| (i, BTreeSet::new())).collect();
    let mut succs = preds.clone();
    for d in &ws.deps {
        if set.contains(&d.dependent) && set.contains(&d.dependency) {
            preds.get_mut(&d.dependent).unwrap().insert(d.dependency);
            succs.get_mut(&d.dependency).unwrap().insert(d.dependent);
        }
    }
    for pinned in cal.pins.keys() {
        if ws.index(pinned).is_none_or(|i| !set.contains(&i)) {
            bail!("`{pinned}` is pinned but is not released in this plan");
        }
    }

    // Level: crates on the longest remaining chain first. Deadline: the latest
    // slot that still lets every pinned dependent keep its pin.
    let mut level = BTreeMap::new();
    let mut deadline = BTreeMap::new();
    for &i in set.iter().rev() {
        fill(i, &succs, cal, ws, &mut level, &mut deadline);
    }
    let chain = level.values().copied().max().unwrap_or(0);
    let label = coffman_graham(&set, &preds, &succs);
    let n = set.len();
    let lower_bound = if n == 0 {
        0
    } else {
        n.div_ceil(cal.capacity).max(1 + (chain - 1) * cal.lag)
    };

    let mut placed: BTreeMap<usize, usize> = BTreeMap::new(); // crate -> working slot
    let mut slots: Vec<(usize, NaiveDate)> = Vec::new(); // working slot - 1 -> (week, date)
    let mut blackouts = Vec::new();
    let mut week = 0usize;
    let max_weeks = (n + 1) * (cal.lag + 1)
        + cal.blackout.len()
        + cal.pins.values().max().copied().unwrap_or(0);
    while placed.len() < n {
        week += 1;
        if week > max_weeks {
            bail!("no feasible schedule: check pins against dependencies and lag");
        }
        let date = cal.start + Days::new(u64::from(cal.cadence_days) * (week as u64 - 1));
        if cal.blackout.contains(&date) {
            if let Some((pinned, _)) = cal.pins.iter().find(|(_, w)| **w == week) {
                bail!("`{pinned}` is pinned to week {week}, a blackout ({date})");
            }
            blackouts.push(date);
            continue;
        }
        slots.push((week, date));
        let working = slots.len();
        let ready = |i: usize, placed: &BTreeMap<usize, usize>| {
            preds[&i]
                .iter()
                .all(|p| placed.get(p).is_some_and(|&s| working >= s + cal.lag))
        };
        let mut used = 0;
        for (pinned, _) in cal.pins.iter().filter(|(_, w)| **w == week) {
            let i = ws.index(pinned).expect("checked above");
            if !ready(i, &placed) {
                bail!(
                    "`{pinned}` is pinned to week {week}, but its dependencies cannot be released {} slot(s) earlier",
                    cal.lag
                );
            }
            placed.insert(i, working);
            used += 1;
        }
        if used > cal.capacity {
            bail!(
                "{used} crates are pinned to week {week}, above the capacity of {}",
                cal.capacity
            );
        }
        while used < cal.capacity {
            let best = set
                .iter()
                .copied()
                .filter(|i| {
                    !placed.contains_key(i)
                        && !cal.pins.contains_key(name(*i))
                        && ready(*i, &placed)
                })
                .min_by_key(|&i| (deadline[&i], std::cmp::Reverse(label[&i])));
            let Some(i) = best else { break };
            placed.insert(i, working);
            used += 1;
        }
    }
    let slots_used = placed.values().copied().max().unwrap_or(0);
    level_load(&mut placed, &preds, &succs, cal, slots_used, |i| {
        cal.pins.contains_key(name(i))
    });

    let mut weeks: Vec<Week> = Vec::new();
    for (slot, &(week, date)) in slots.iter().enumerate().take(slots_used) {
        let mut here: Vec<usize> = placed
            .iter()
            .filter(|(_, s)| **s == slot + 1)
            .map(|(i, _)| *i)
            .collect();
        if here.is_empty() {
            continue;
        }
        // Dependencies before dependents inside a slot (this matters when lag = 0):
        // a dependency's label is always above its dependents'.
        here.sort_by_key(|&i| std::cmp::Reverse(label[&i]));
        weeks.push(Week {
            week,
            date,
            releases: here.iter().map(|i| releases[i].clone()).collect(),
        });
    }
    blackouts.retain(|d| weeks.last().is_some_and(|w| *d < w.date));
    Ok(Plan {
        weeks,
        blackouts,
        lower_bound,
        slots_used,
        edges: edges(ws),
    })
}

/// Coffman–Graham labels over the transitive reduction: 1 for the crate that
/// should come last, `n` for the one that should come first. Among crates whose
/// dependents are all labelled, the next label goes to the one whose dependents'
/// labels, sorted in decreasing order, are lexicographically smallest; ties go
/// to the larger index, so names earlier in the alphabet rank higher.
fn coffman_graham(
    set: &BTreeSet<usize>,
    preds: &BTreeMap<usize, BTreeSet<usize>>,
    succs: &BTreeMap<usize, BTreeSet<usize>>,
) -> BTreeMap<usize, usize> {
    // Every transitive dependency of each crate, dependencies first.
    let mut below: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    fn reach(
        i: usize,
        preds: &BTreeMap<usize, BTreeSet<usize>>,
        below: &mut BTreeMap<usize, BTreeSet<usize>>,
    ) {
        if below.contains_key(&i) {
            return;
        }
        let mut all = BTreeSet::new();
        for &p in &preds[&i] {
            reach(p, preds, below);
            all.insert(p);
            all.extend(below[&p].iter().copied());
        }
        below.insert(i, all);
    }
    for &i in set {
        reach(i, preds, &mut below);
    }
    // Reduced dependents: drop d -> i when i is also reachable through another dependency of d.
    let reduced: BTreeMap<usize, Vec<usize>> = set
        .iter()
        .map(|&i| {
            let direct = succs[&i]
                .iter()
                .copied()
                .filter(|d| !preds[d].iter().any(|&q| q != i && below[&q].contains(&i)));
            (i, direct.collect())
        })
        .collect();
    let mut label: BTreeMap<usize, usize> = BTreeMap::new();
    for next in 1..=set.len() {
        let key = |i: usize| {
            let mut ls: Vec<usize> = reduced[&i].iter().map(|d| label[d]).collect();
            ls.sort_unstable_by(|a, b| b.cmp(a));
            ls
        };
        let pick = set
            .iter()
            .copied()
            .filter(|i| !label.contains_key(i) && reduced[i].iter().all(|d| label.contains_key(d)))
            .min_by_key(|&i| (key(i), std::cmp::Reverse(i)))
            .expect("a DAG always has a crate whose dependents are labelled");
        label.insert(pick, next);
    }
    label
}

/// Evens out the load per slot without lengthening the plan: a release moves
/// to a less loaded slot within its slack (after its dependencies plus lag,
/// before its dependents minus lag) whenever that lowers the busier of the two
/// slots. Each move strictly lowers the sum of squared loads, so this ends;
/// candidates are visited in index order, so it is deterministic.
fn level_load(
    placed: &mut BTreeMap<usize, usize>,
    preds: &BTreeMap<usize, BTreeSet<usize>>,
    succs: &BTreeMap<usize, BTreeSet<usize>>,
    cal: &Calendar,
    slots_used: usize,
    pinned: impl Fn(usize) -> bool,
) {
    let mut load = vec![0usize; slots_used + 1];
    for &s in placed.values() {
        load[s] += 1;
    }
    let crates: Vec<usize> = placed.keys().copied().collect();
    loop {
        let mut moved = false;
        for &i in &crates {
            if pinned(i) {
                continue;
            }
            let cur = placed[&i];
            let lo = preds[&i]
                .iter()
                .map(|p| placed[p] + cal.lag)
                .max()
                .unwrap_or(1)
                .max(1);
            let hi = succs[&i]
                .iter()
                .map(|s| placed[s].saturating_sub(cal.lag))
                .min()
                .unwrap_or(slots_used)
                .min(slots_used);
            let best = (lo..=hi)
                .filter(|&s| s != cur)
                .min_by_key(|&s| (load[s], s));
            if let Some(to) = best.filter(|&to| load[to] + 1 < load[cur]) {
                load[cur] -= 1;
                load[to] += 1;
                placed.insert(i, to);
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
}

fn fill(
    i: usize,
    succs: &BTreeMap<usize, BTreeSet<usize>>,
    cal: &Calendar,
    ws: &Workspace,
    level: &mut BTreeMap<usize, usize>,
    deadline: &mut BTreeMap<usize, usize>,
) {
    if level.contains_key(&i) {
        return;
    }
    let mut lv = 1;
    let mut dl = cal
        .pins
        .get(&ws.crates[i].name)
        .copied()
        .unwrap_or(usize::MAX);
    for &s in &succs[&i] {
        fill(s, succs, cal, ws, level, deadline);
        lv = lv.max(1 + level[&s]);
        dl = dl.min(deadline[&s].saturating_sub(cal.lag));
    }
    level.insert(i, lv);
    deadline.insert(i, dl);
}

fn edges(ws: &Workspace) -> Vec<(String, String)> {
    let set: BTreeSet<(String, String)> = ws
        .deps
        .iter()
        .map(|d| {
            (
                ws.crates[d.dependent].name.clone(),
                ws.crates[d.dependency].name.clone(),
            )
        })
        .collect();
    set.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::super::{bump::propagate, workspace::tests::synthetic};
    use super::*;

    fn plan(ws: &Workspace, cal_src: &str) -> anyhow::Result<Plan> {
        let cal = Calendar::parse(cal_src).unwrap();
        schedule(ws, &propagate(ws, &cal)?, &cal)
    }

    fn layout(p: &Plan) -> Vec<(usize, Vec<String>)> {
        p.weeks
            .iter()
            .map(|w| {
                (
                    w.week,
                    w.releases.iter().map(|r| r.krate.to_string()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn capacity_two_packs_independent_crates() {
        let ws = synthetic(
            &[
                ("a", "1.0.0"),
                ("b", "1.0.0"),
                ("c", "1.0.0"),
                ("d", "1.0.0"),
            ],
            &[("c", "a", "=1.0.0"), ("d", "b", "1")],
        );
        let p = plan(&ws, "[calendar]\nstart = \"2026-12-07\"\ncapacity = 2\n[requests]\na = \"patch\"\nb = \"patch\"\nd = \"patch\"\n").unwrap();
        // c must follow a (its `=1.0.0` breaks); a and b go first together.
        assert_eq!(
            layout(&p),
            vec![
                (1, vec!["0".into(), "1".into()]),
                (2, vec!["2".into(), "3".into()])
            ]
        );
        assert_eq!(p.lower_bound, 2);
        assert!(p.optimal());
    }

    #[test]
    fn blackouts_are_skipped_and_pins_respected() {
        let ws = synthetic(&[("a", "1.0.0"), ("b", "1.0.0")], &[("b", "a", "=1.0.0")]);
        let src = "[calendar]\nstart = \"2026-12-07\"\nblackout = [\"2026-12-14\"]\n[requests]\na = \"patch\"\n[pins]\nb = 4\n";
        let p = plan(&ws, src).unwrap();
        assert_eq!(
            p.weeks.iter().map(|w| w.week).collect::<Vec<_>>(),
            vec![1, 4]
        );
        assert_eq!(p.weeks[1].date.to_string(), "2026-12-28");
        assert_eq!(p.blackouts.len(), 1);
        assert_eq!(p.slots_used, 3);
        assert!(!p.optimal());

        let bad = "[calendar]\nstart = \"2026-12-07\"\n[requests]\na = \"patch\"\n[pins]\nb = 1\n";
        let err = plan(&ws, bad).unwrap_err().to_string();
        assert!(err.contains("`b` is pinned to week 1"), "{err}");
    }

    #[test]
    fn load_is_leveled_within_slack() {
        // A chain x1 <- x2 <- x3 fixes three slots; y1 and y2 are free. List
        // scheduling alone puts x1, y1, y2 in slot 1; leveling spreads them.
        let ws = synthetic(
            &[
                ("x1", "1.0.0"),
                ("x2", "1.0.0"),
                ("x3", "1.0.0"),
                ("y1", "1.0.0"),
                ("y2", "1.0.0"),
            ],
            &[("x2", "x1", "=1.0.0"), ("x3", "x2", "=1.0.0")],
        );
        let src = "[calendar]\nstart = \"2026-12-07\"\ncapacity = 3\n[requests]\nx1 = \"patch\"\ny1 = \"patch\"\ny2 = \"patch\"\n";
        let p = plan(&ws, src).unwrap();
        assert_eq!(p.slots_used, 3);
        assert!(p.optimal());
        let loads: Vec<usize> = p.weeks.iter().map(|w| w.releases.len()).collect();
        assert_eq!(loads, vec![2, 2, 1]);
    }
}
