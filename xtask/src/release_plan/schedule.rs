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

use anyhow::{Context, bail};
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
}

impl Plan {
    /// Whether the plan is as short as possible.
    pub fn optimal(&self) -> bool {
        self.slots_used == self.lower_bound
    }
}

/// The longest plan the scheduler considers, in slots (a century of weekly
/// releases): a calendar that needs more is a mistake to report, and the
/// bound keeps every slot and date computation far from overflow.
pub const HORIZON: usize = 5200;

/// Schedules `releases` over `cal`'s slots. Releases already carried out
/// (`done`) keep their recorded slots; the rest go after the last of them, in
/// their committed `[schedule]` slots when those are still feasible, so a
/// calendar carried out week by week keeps its later weeks.
pub fn schedule(
    ws: &Workspace,
    releases: &BTreeMap<usize, Release>,
    cal: &Calendar,
) -> anyhow::Result<Plan> {
    if let Some(committed) = cal
        .schedule
        .as_ref()
        .filter(|_| releases.values().any(|r| r.done))
    {
        let sticky: BTreeMap<String, usize> = releases
            .values()
            .filter(|r| !r.done)
            .filter_map(|r| {
                let name = &ws.crates[r.krate].name;
                let c = committed.get(name)?;
                (c.version == r.to.to_string()).then(|| (name.clone(), c.week))
            })
            .collect();
        if !sticky.is_empty()
            && let Ok(plan) = schedule_with(ws, releases, cal, &sticky)
        {
            return Ok(plan);
        }
    }
    schedule_with(ws, releases, cal, &BTreeMap::new())
}

/// The date of calendar week `week` (from 1), or an error past chrono's range.
fn date_of(cal: &Calendar, week: usize) -> anyhow::Result<NaiveDate> {
    let days = u64::from(cal.cadence_days) * (week as u64 - 1);
    // The day after must exist too: a slot is a whole day (an ICS event ends on it).
    cal.start
        .checked_add_days(Days::new(days + 1))
        .and_then(|_| cal.start.checked_add_days(Days::new(days)))
        .with_context(|| format!("week {week} of a calendar starting {} is past the last date this tool can represent", cal.start))
}

fn schedule_with(
    ws: &Workspace,
    releases: &BTreeMap<usize, Release>,
    cal: &Calendar,
    sticky: &BTreeMap<String, usize>,
) -> anyhow::Result<Plan> {
    if cal.lag > HORIZON {
        bail!(
            "a lag of {} slots is beyond the planning horizon of {HORIZON} slots",
            cal.lag
        );
    }
    let name = |i: usize| ws.crates[i].name.as_str();
    // Crates sharing the workspace version are one unit, named by the first.
    let group_rep = ws
        .version_group()
        .find(|i| releases.get(i).is_some_and(|r| !r.done));
    let unit = |i: usize| match group_rep {
        Some(g) if ws.crates[i].inherits_version => g,
        _ => i,
    };
    let pending: Vec<usize> = releases
        .values()
        .filter(|r| !r.done)
        .map(|r| r.krate)
        .collect();
    let set: BTreeSet<usize> = pending.iter().map(|&i| unit(i)).collect();
    let mut members: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &i in &pending {
        members.entry(unit(i)).or_default().push(i);
    }
    // Recorded releases: crate -> calendar week.
    let done: BTreeMap<usize, usize> = releases
        .values()
        .filter(|r| r.done)
        .map(|r| (r.krate, cal.released[name(r.krate)].week))
        .collect();
    let floor_week = done.values().copied().max().unwrap_or(0);
    if floor_week > HORIZON {
        bail!("[released] names week {floor_week}, beyond the planning horizon of {HORIZON} slots");
    }

    // Predecessors (dependencies) and successors (dependents) among the units.
    let mut preds: BTreeMap<usize, BTreeSet<usize>> =
        set.iter().map(|&u| (u, BTreeSet::new())).collect();
    let mut succs = preds.clone();
    let mut after_done: BTreeMap<usize, usize> = BTreeMap::new(); // unit -> latest week of a recorded dependency
    for d in &ws.deps {
        let (a, b) = (unit(d.dependent), unit(d.dependency));
        if !set.contains(&a) || a == b {
            continue;
        }
        if set.contains(&b) {
            preds.get_mut(&a).unwrap().insert(b);
            succs.get_mut(&b).unwrap().insert(a);
        } else if let Some(&w) = done.get(&d.dependency) {
            let e = after_done.entry(a).or_insert(0);
            *e = (*e).max(w);
        }
    }
    if let Some(g) = group_rep {
        check_group_acyclic(ws, g, &members[&g], &preds, &succs)?;
    }
    // Pins, per unit: the calendar's first, then the committed slots kept.
    let mut pins: BTreeMap<usize, usize> = BTreeMap::new();
    for (pinned, &week) in cal
        .pins
        .iter()
        .chain(sticky.iter().filter(|(n, _)| !cal.pins.contains_key(*n)))
    {
        let Some(i) = ws.index(pinned).filter(|i| releases.contains_key(i)) else {
            bail!("`{pinned}` is pinned but is not released in this plan");
        };
        if done.contains_key(&i) {
            continue; // carried out already, in its recorded slot
        }
        if week > HORIZON {
            bail!(
                "`{pinned}` is pinned to week {week}, beyond the planning horizon of {HORIZON} slots"
            );
        }
        if week <= floor_week {
            bail!(
                "`{pinned}` is pinned to week {week}, but weeks up to {floor_week} are carried out already"
            );
        }
        let u = unit(i);
        if let Some(&other) = pins.get(&u).filter(|&&w| w != week) {
            bail!(
                "`{pinned}` shares the workspace version with `{}`, pinned to week {other}; they release together",
                name(u)
            );
        }
        pins.insert(u, week);
    }

    // Level: units on the longest remaining chain first. Deadline: the latest
    // slot that still lets every pinned dependent keep its pin.
    let mut level = BTreeMap::new();
    let mut deadline = BTreeMap::new();
    for &u in set.iter().rev() {
        fill(u, &succs, cal, &pins, &mut level, &mut deadline);
    }
    let chain = level.values().copied().max().unwrap_or(0);
    let label = coffman_graham(&set, &preds, &succs);
    let n = set.len();

    let mut placed: BTreeMap<usize, usize> = BTreeMap::new(); // unit -> working slot
    let mut slots: Vec<(usize, NaiveDate)> = Vec::new(); // working slot - 1 -> (week, date)
    let mut working_of_week: BTreeMap<usize, usize> = BTreeMap::new();
    let mut blackouts = Vec::new();
    // Units whose dependencies are all placed, by the first slot they may take.
    let mut unplaced_preds: BTreeMap<usize, usize> =
        preds.iter().map(|(&u, p)| (u, p.len())).collect();
    let mut earliest: BTreeMap<usize, usize> = BTreeMap::new();
    let mut waiting: BTreeSet<(usize, usize)> = BTreeSet::new(); // (earliest slot, unit)
    let mut ready: BTreeSet<(usize, std::cmp::Reverse<usize>, usize)> = BTreeSet::new();
    let key = |u: usize| (deadline[&u], std::cmp::Reverse(label[&u]), u);
    let mut floor_working = 0;
    let mut seeded = false;
    let mut week = 0usize;
    let last_week = HORIZON + cal.blackout.len();
    while placed.len() < n || week < floor_week {
        week += 1;
        if week > last_week {
            bail!(
                "no feasible schedule within {HORIZON} slots: check pins against dependencies and lag"
            );
        }
        let date = date_of(cal, week)?;
        if cal.blackout.contains(&date) {
            if let Some((&u, _)) = pins.iter().find(|(_, w)| **w == week) {
                bail!(
                    "`{}` is pinned to week {week}, a blackout ({date})",
                    name(u)
                );
            }
            blackouts.push(date);
            continue;
        }
        slots.push((week, date));
        let working = slots.len();
        working_of_week.insert(week, working);
        if week <= floor_week {
            floor_working = working;
            continue; // carried out already
        }
        if !seeded {
            seeded = true;
            // Units with no pending dependency become ready once the carried-out
            // weeks (and the lag after their recorded dependencies) are past.
            for &u in &set {
                if unplaced_preds[&u] == 0 {
                    let after = after_done.get(&u).map_or(0, |w| {
                        working_of_week.get(w).copied().unwrap_or(0) + cal.lag
                    });
                    earliest.insert(u, after.max(working));
                    waiting.insert((after.max(working), u));
                }
            }
        }
        let place = |u: usize,
                     placed: &mut BTreeMap<usize, usize>,
                     waiting: &mut BTreeSet<(usize, usize)>,
                     unplaced_preds: &mut BTreeMap<usize, usize>,
                     earliest: &mut BTreeMap<usize, usize>| {
            placed.insert(u, working);
            for &s in &succs[&u] {
                let e = earliest.entry(s).or_insert(0);
                *e = (*e).max(working + cal.lag);
                let left = unplaced_preds.get_mut(&s).unwrap();
                *left -= 1;
                if *left == 0 {
                    let after = after_done.get(&s).map_or(0, |w| {
                        working_of_week.get(w).copied().unwrap_or(0) + cal.lag
                    });
                    let e = (*e).max(after).max(floor_working + 1);
                    earliest.insert(s, e);
                    waiting.insert((e, s));
                }
            }
        };
        let is_ready = |u: usize,
                        unplaced_preds: &BTreeMap<usize, usize>,
                        earliest: &BTreeMap<usize, usize>| {
            unplaced_preds[&u] == 0 && earliest.get(&u).is_some_and(|&e| e <= working)
        };
        let mut used = 0;
        let pinned_here: Vec<usize> = pins
            .iter()
            .filter(|(_, w)| **w == week)
            .map(|(&u, _)| u)
            .collect();
        for u in pinned_here {
            if !is_ready(u, &unplaced_preds, &earliest) {
                bail!(
                    "`{}` is pinned to week {week}, but its dependencies cannot be released {} slot(s) earlier",
                    name(u),
                    cal.lag
                );
            }
            waiting.remove(&(earliest[&u], u));
            place(
                u,
                &mut placed,
                &mut waiting,
                &mut unplaced_preds,
                &mut earliest,
            );
            used += 1;
        }
        if used > cal.capacity {
            bail!(
                "{used} crates are pinned to week {week}, above the capacity of {}",
                cal.capacity
            );
        }
        while used < cal.capacity {
            // With lag 0 a placement can make a dependent ready in this very slot.
            while let Some(&(e, u)) = waiting.first().filter(|(e, _)| *e <= working) {
                waiting.remove(&(e, u));
                if !pins.contains_key(&u) {
                    ready.insert(key(u));
                }
            }
            let Some(best) = ready.pop_first() else { break };
            place(
                best.2,
                &mut placed,
                &mut waiting,
                &mut unplaced_preds,
                &mut earliest,
            );
            used += 1;
        }
    }
    let lower_bound = if n == 0 {
        floor_working
    } else {
        let chain_slots = (chain - 1)
            .checked_mul(cal.lag)
            .map_or(usize::MAX, |c| c + 1);
        floor_working + n.div_ceil(cal.capacity).max(chain_slots)
    };
    let slots_used = placed.values().copied().max().unwrap_or(floor_working);
    let min_slot: BTreeMap<usize, usize> = set
        .iter()
        .map(|&u| {
            let after = after_done.get(&u).map_or(0, |w| {
                working_of_week.get(w).copied().unwrap_or(0) + cal.lag
            });
            (u, after.max(floor_working + 1))
        })
        .collect();
    level_load(
        &mut placed,
        &preds,
        &succs,
        cal,
        slots_used,
        &min_slot,
        |u| pins.contains_key(&u),
    );

    // Within a slot: recorded releases, then dependencies before dependents
    // (this matters when lag = 0; a dependency's label is always above its
    // dependents'), a unit's crates in dependency order.
    let topo = topo_positions(ws);
    let mut by_slot: BTreeMap<usize, Vec<(usize, std::cmp::Reverse<usize>, usize)>> =
        BTreeMap::new();
    for (&i, &w) in &done {
        if let Some(&s) = working_of_week.get(&w) {
            by_slot
                .entry(s)
                .or_default()
                .push((0, std::cmp::Reverse(usize::MAX), i));
        }
    }
    for (&u, &s) in &placed {
        for &i in &members[&u] {
            by_slot
                .entry(s)
                .or_default()
                .push((1, std::cmp::Reverse(label[&u]), i));
        }
    }
    let mut weeks: Vec<Week> = Vec::new();
    for (slot, mut here) in by_slot {
        here.sort_by_key(|&(d, l, i)| (d, l, topo[i]));
        let (week, date) = slots[slot - 1];
        weeks.push(Week {
            week,
            date,
            releases: here.iter().map(|&(_, _, i)| releases[&i].clone()).collect(),
        });
    }
    blackouts.retain(|d| weeks.last().is_some_and(|w| *d < w.date));
    Ok(Plan {
        weeks,
        blackouts,
        lower_bound,
        slots_used,
    })
}

/// Position of every crate in a dependencies-first order.
fn topo_positions(ws: &Workspace) -> Vec<usize> {
    let g = ws.graph();
    let order = petgraph::algo::toposort(&g, None).unwrap_or_default();
    let mut pos = vec![0; ws.crates.len()];
    for (k, n) in order.into_iter().rev().enumerate() {
        pos[g[n]] = k;
    }
    pos
}

/// The workspace-version group releases in one slot, so no other release may
/// sit between two of its crates.
fn check_group_acyclic(
    ws: &Workspace,
    g: usize,
    group: &[usize],
    preds: &BTreeMap<usize, BTreeSet<usize>>,
    succs: &BTreeMap<usize, BTreeSet<usize>>,
) -> anyhow::Result<()> {
    // A unit both above and below the group closes a cycle through it.
    let reach = |start: &BTreeSet<usize>, next: &BTreeMap<usize, BTreeSet<usize>>| {
        let mut seen: BTreeSet<usize> = BTreeSet::new();
        let mut stack: Vec<usize> = start.iter().copied().collect();
        while let Some(u) = stack.pop() {
            if u != g && seen.insert(u) {
                stack.extend(next[&u].iter().copied());
            }
        }
        seen
    };
    let below = reach(&preds[&g], preds);
    let above = reach(&succs[&g], succs);
    if let Some(&between) = below.intersection(&above).next() {
        let names: Vec<&str> = group.iter().map(|&i| ws.crates[i].name.as_str()).collect();
        bail!(
            "{} share the workspace version and release together, but {} depends on one of them and is depended on by another; give it its own version or move it into the group",
            names.join(", "),
            ws.crates[between].name
        );
    }
    Ok(())
}

/// Coffman–Graham labels over the transitive reduction: 1 for the unit that
/// should come last, `n` for the one that should come first. Among units whose
/// dependents are all labelled, the next label goes to the one whose dependents'
/// labels, sorted in decreasing order, are lexicographically smallest; ties go
/// to the larger index, so names earlier in the alphabet rank higher.
fn coffman_graham(
    set: &BTreeSet<usize>,
    preds: &BTreeMap<usize, BTreeSet<usize>>,
    succs: &BTreeMap<usize, BTreeSet<usize>>,
) -> BTreeMap<usize, usize> {
    // Dense positions; `below[k]`: bitset of every transitive dependency of k.
    let units: Vec<usize> = set.iter().copied().collect();
    let pos: BTreeMap<usize, usize> = units.iter().enumerate().map(|(k, &u)| (u, k)).collect();
    let dense = |m: &BTreeMap<usize, BTreeSet<usize>>| -> Vec<Vec<usize>> {
        units
            .iter()
            .map(|u| m[u].iter().map(|v| pos[v]).collect())
            .collect()
    };
    let (preds, succs) = (dense(preds), dense(succs));
    let n = units.len();
    let words = n.div_ceil(64);
    let mut below = vec![0u64; n * words];
    let mut order: Vec<usize> = Vec::with_capacity(n); // dependencies first
    let mut left: Vec<usize> = preds.iter().map(Vec::len).collect();
    let mut stack: Vec<usize> = (0..n).filter(|&k| left[k] == 0).collect();
    while let Some(k) = stack.pop() {
        order.push(k);
        for &d in &succs[k] {
            left[d] -= 1;
            if left[d] == 0 {
                stack.push(d);
            }
        }
    }
    for &k in &order {
        for &p in &preds[k] {
            below[k * words + p / 64] |= 1 << (p % 64);
            for w in 0..words {
                below[k * words + w] |= below[p * words + w];
            }
        }
    }
    // Reduced dependents: drop d -> i when i is also reachable through another
    // dependency of d. As no unit is below itself, that is: i is below some
    // dependency of d.
    let mut reduced: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut union = vec![0u64; words];
    for (d, ps) in preds.iter().enumerate() {
        union.fill(0);
        for &q in ps {
            for (u, b) in union.iter_mut().zip(&below[q * words..(q + 1) * words]) {
                *u |= b;
            }
        }
        for &i in ps {
            if union[i / 64] >> (i % 64) & 1 == 0 {
                reduced[i].push(d);
            }
        }
    }
    let mut reduced_preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, ds) in reduced.iter().enumerate() {
        for &d in ds {
            reduced_preds[d].push(i);
        }
    }
    // A unit's key is fixed once its dependents are labelled: a priority queue.
    let mut label = vec![0usize; n];
    let mut unlabelled: Vec<usize> = reduced.iter().map(Vec::len).collect();
    let key = |k: usize, label: &[usize]| {
        let mut ls: Vec<usize> = reduced[k].iter().map(|&d| label[d]).collect();
        ls.sort_unstable_by(|a, b| b.cmp(a));
        (ls, std::cmp::Reverse(units[k]))
    };
    let mut queue: BTreeSet<(Vec<usize>, std::cmp::Reverse<usize>)> = (0..n)
        .filter(|&k| unlabelled[k] == 0)
        .map(|k| key(k, &label))
        .collect();
    let mut next = 1;
    while let Some((_, std::cmp::Reverse(unit))) = queue.pop_first() {
        let k = pos[&unit];
        label[k] = next;
        next += 1;
        for &p in &reduced_preds[k] {
            unlabelled[p] -= 1;
            if unlabelled[p] == 0 {
                queue.insert(key(p, &label));
            }
        }
    }
    units.iter().zip(label).map(|(&u, l)| (u, l)).collect()
}

/// Evens out the load per slot without lengthening the plan: a unit moves
/// to a less loaded slot within its slack (after its dependencies plus lag,
/// and no earlier than `min_slot`; before its dependents minus lag) whenever
/// that lowers the busier of the two slots. Each move strictly lowers the sum
/// of squared loads, so this ends; candidates are visited in index order, so
/// it is deterministic.
fn level_load(
    placed: &mut BTreeMap<usize, usize>,
    preds: &BTreeMap<usize, BTreeSet<usize>>,
    succs: &BTreeMap<usize, BTreeSet<usize>>,
    cal: &Calendar,
    slots_used: usize,
    min_slot: &BTreeMap<usize, usize>,
    pinned: impl Fn(usize) -> bool,
) {
    let mut load = vec![0usize; slots_used + 1];
    for &s in placed.values() {
        load[s] += 1;
    }
    let units: Vec<usize> = placed.keys().copied().collect();
    loop {
        let mut moved = false;
        for &i in &units {
            if pinned(i) {
                continue;
            }
            let cur = placed[&i];
            let lo = preds[&i]
                .iter()
                .map(|p| placed[p] + cal.lag)
                .max()
                .unwrap_or(1)
                .max(min_slot[&i]);
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
    u: usize,
    succs: &BTreeMap<usize, BTreeSet<usize>>,
    cal: &Calendar,
    pins: &BTreeMap<usize, usize>,
    level: &mut BTreeMap<usize, usize>,
    deadline: &mut BTreeMap<usize, usize>,
) {
    if level.contains_key(&u) {
        return;
    }
    let mut lv = 1;
    let mut dl = pins.get(&u).copied().unwrap_or(usize::MAX);
    for &s in &succs[&u] {
        fill(s, succs, cal, pins, level, deadline);
        lv = lv.max(1 + level[&s]);
        dl = dl.min(deadline[&s].saturating_sub(cal.lag));
    }
    level.insert(u, lv);
    deadline.insert(u, dl);
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
