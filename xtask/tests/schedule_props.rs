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
