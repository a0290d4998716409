//! Properties of every plan, over random dependency DAGs, requests, capacities
//! and lags: dependencies come at least `lag` slots earlier (and earlier in the
//! slot when lag is 0), no slot exceeds capacity, the plan is never shorter than
//! its lower bound, every broken requirement is released, and planning twice
//! gives the same plan.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use proptest::prelude::*;
use xtask::release_plan::bump::Level;
use xtask::release_plan::calendar::Calendar;
use xtask::release_plan::plan;
use xtask::release_plan::workspace::Workspace;

fn level(i: u8) -> Level {
    [Level::Patch, Level::Minor, Level::Major][i as usize % 3]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn plans_hold_their_invariants(
        n in 1usize..24,
        raw_edges in prop::collection::vec((0usize..24, 0usize..24), 0..60),
        raw_requests in prop::collection::vec((0usize..24, 0u8..3), 1..8),
        majors in prop::collection::vec(0u64..3, 24),
        capacity in 1usize..4,
        lag in 0usize..3,
    ) {
        let names: Vec<String> = (0..n).map(|i| format!("c{i:02}")).collect();
        let versions: Vec<String> = (0..n).map(|i| format!("{}.{}.0", majors[i], i % 5)).collect();
        let crates: Vec<(&str, &str)> = names.iter().zip(&versions).map(|(a, b)| (a.as_str(), b.as_str())).collect();
        // Edges only from higher to lower index: a DAG. Requirements are carets on the current version.
        let mut edges: Vec<(usize, usize)> = raw_edges.iter().map(|&(a, b)| (a % n, b % n)).filter(|(a, b)| a > b).collect();
        edges.sort();
        edges.dedup();
        let deps: Vec<(&str, &str, &str)> =
            edges.iter().map(|&(a, b)| (names[a].as_str(), names[b].as_str(), versions[b].as_str())).collect();
        let ws = Workspace::in_memory(&crates, &deps).unwrap();
        let mut cal = Calendar::new(NaiveDate::from_ymd_opt(2027, 1, 4).unwrap());
        cal.capacity = capacity;
        cal.lag = lag;
        for &(i, l) in &raw_requests {
            cal.requests.insert(names[i % n].clone(), level(l));
        }

        let p = plan(&ws, &cal).unwrap();
        prop_assert_eq!(&p, &plan(&ws, &cal).unwrap(), "planning is deterministic");

        // (slot, position in slot) and new version of every release.
        let mut at: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        let mut to = BTreeMap::new();
        for w in &p.weeks {
            prop_assert!(w.releases.len() <= capacity, "week {} over capacity", w.week);
            for (pos, r) in w.releases.iter().enumerate() {
                let name = ws.crates[r.krate].name.clone();
                prop_assert!(at.insert(name.clone(), (w.week, pos)).is_none(), "{} twice", name);
                to.insert(name, r.to.clone());
            }
        }
        prop_assert!(p.slots_used >= p.lower_bound);
        prop_assert_eq!(p.slots_used, p.weeks.last().map_or(0, |w| w.week));
        for name in cal.requests.keys() {
            prop_assert!(at.contains_key(name), "requested {} missing", name);
        }
        for d in &ws.deps {
            let (a, b) = (&ws.crates[d.dependent].name, &ws.crates[d.dependency].name);
            if let Some(new) = to.get(b).filter(|new| !d.req.matches(new)) {
                prop_assert!(at.contains_key(a), "{} requires {} {} but {} is not released", a, b, d.req, new);
            }
            if let (Some(&(wa, pa)), Some(&(wb, pb))) = (at.get(a), at.get(b)) {
                prop_assert!(wb + lag <= wa, "{} (week {}) too soon after {} (week {})", a, wa, b, wb);
                if wa == wb {
                    prop_assert!(pb < pa, "{} before its dependency {} in week {}", a, b, wa);
                }
            }
        }
    }
}

/// The fewest slots any valid schedule needs, by breadth-first search over the
/// sets of released crates (lag 1, no pins): exact, for small graphs only.
fn brute_force_optimum(n: usize, preds: &[u32], capacity: usize) -> usize {
    let full = (1u32 << n) - 1;
    let mut frontier = vec![0u32];
    let mut seen = std::collections::HashSet::from([0u32]);
    for slots in 1.. {
        let mut next = Vec::new();
        for &done in &frontier {
            let ready: Vec<usize> = (0..n)
                .filter(|&i| done & (1 << i) == 0 && preds[i] & !done == 0)
                .collect();
            // Every non-empty subset of the ready crates that fits in one slot.
            for mask in 1u32..(1 << ready.len()) {
                if mask.count_ones() as usize > capacity {
                    continue;
                }
                let picked = ready
                    .iter()
                    .enumerate()
                    .filter(|(b, _)| mask & (1 << b) != 0)
                    .fold(0, |m, (_, &i)| m | (1 << i));
                let state = done | picked;
                if state == full {
                    return slots;
                }
                if seen.insert(state) {
                    next.push(state);
                }
            }
        }
        frontier = next;
    }
    unreachable!()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]
    /// Coffman–Graham is optimal for two releases per slot with lag 1.
    #[test]
    fn capacity_two_plans_are_optimal(
        n in 1usize..13,
        raw_edges in prop::collection::vec((0usize..13, 0usize..13), 0..30),
    ) {
        let names: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
        let crates: Vec<(&str, &str)> = names.iter().map(|s| (s.as_str(), "1.0.0")).collect();
        let mut edges: Vec<(usize, usize)> = raw_edges.iter().map(|&(a, b)| (a % n, b % n)).filter(|(a, b)| a > b).collect();
        edges.sort();
        edges.dedup();
        let deps: Vec<(&str, &str, &str)> = edges.iter().map(|&(a, b)| (names[a].as_str(), names[b].as_str(), "1")).collect();
        let ws = Workspace::in_memory(&crates, &deps).unwrap();
        let mut cal = Calendar::new(NaiveDate::from_ymd_opt(2027, 1, 4).unwrap());
        cal.capacity = 2;
        cal.requests = names.iter().map(|s| (s.clone(), Level::Patch)).collect();
        let p = plan(&ws, &cal).unwrap();

        let mut preds = vec![0u32; n];
        for &(a, b) in &edges {
            preds[a] |= 1 << b;
        }
        prop_assert_eq!(p.slots_used, brute_force_optimum(n, &preds, 2));
    }
}
