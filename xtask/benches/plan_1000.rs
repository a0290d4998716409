//! How long planning a 1000-crate workspace takes (target: under 1 s).
//!
//! `cargo bench -p xtask --bench plan_1000` prints the median of repeated runs
//! for (a) the plan alone, on an in-memory graph, and (b) the whole command
//! path — `cargo metadata` on a generated 1000-member workspace on disk, the raw
//! manifests, and the plan.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use xtask::release_plan::bump::Level;
use xtask::release_plan::calendar::Calendar;
use xtask::release_plan::{plan, workspace};

const N: usize = 1000;

/// A fixed pseudo-random sequence (64-bit LCG), so every run plans the same graph.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % bound as u64) as usize
    }
}

/// Crate i depends on up to 4 crates with lower indices; 1 in 20 crates is requested.
/// (name, version) crates, (dependent, dependency) edges, requested bumps.
type Graph = (
    Vec<(String, String)>,
    Vec<(usize, usize)>,
    Vec<(usize, Level)>,
);

fn graph() -> Graph {
    let mut rng = Lcg(42);
    let crates = (0..N)
        .map(|i| (format!("c{i:04}"), format!("0.{}.{}", 1 + i % 7, i % 3)))
        .collect();
    let mut edges = Vec::new();
    for i in 1..N {
        for _ in 0..rng.next(5) {
            edges.push((i, rng.next(i)));
        }
    }
    edges.sort();
    edges.dedup();
    let levels = [Level::Patch, Level::Patch, Level::Minor];
    let mut requests = Vec::new();
    for i in 0..N {
        if rng.next(20) == 0 {
            requests.push((i, levels[rng.next(3)]));
        }
    }
    (crates, edges, requests)
}

fn calendar(crates: &[(String, String)], requests: &[(usize, Level)]) -> Calendar {
    let mut cal = Calendar::new(NaiveDate::from_ymd_opt(2027, 1, 4).unwrap());
    cal.capacity = 8;
    cal.requests = requests
        .iter()
        .map(|&(i, l)| (crates[i].0.clone(), l))
        .collect();
    cal
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let (crates, edges, requests) = graph();
    let cal = calendar(&crates, &requests);

    let c: Vec<(&str, &str)> = crates
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let d: Vec<(&str, &str, &str)> = edges
        .iter()
        .map(|&(a, b)| {
            (
                crates[a].0.as_str(),
                crates[b].0.as_str(),
                crates[b].1.as_str(),
            )
        })
        .collect();
    let ws = workspace::Workspace::in_memory(&c, &d).unwrap();
    let mut times = Vec::new();
    let mut releases = 0;
    for _ in 0..15 {
        let t = Instant::now();
        let p = plan(&ws, &cal).unwrap();
        times.push(t.elapsed());
        releases = p.weeks.iter().map(|w| w.releases.len()).sum::<usize>();
    }
    let in_memory = median(times);

    // Worst case for the scheduler: every crate released (a minor bump breaks every 0.x requirement).
    let mut all = cal.clone();
    all.requests = crates
        .iter()
        .map(|(n, _)| (n.clone(), Level::Minor))
        .collect();
    let mut times = Vec::new();
    let mut weeks = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let p = plan(&ws, &all).unwrap();
        times.push(t.elapsed());
        weeks = p.slots_used;
    }
    let all_released = median(times);

    let dir = std::env::temp_dir().join(format!("xtask-bench-{}", std::process::id()));
    write_workspace(&dir, &crates, &edges);
    let manifest = dir.join("Cargo.toml");
    let on_disk = median(
        (0..5)
            .map(|_| {
                let t = Instant::now();
                let ws = workspace::load(&manifest).unwrap();
                plan(&ws, &cal).unwrap();
                t.elapsed()
            })
            .collect(),
    );
    std::fs::remove_dir_all(&dir).unwrap();

    println!(
        "crates={N} edges={} requested={} released={releases}",
        edges.len(),
        requests.len()
    );
    println!(
        "all released: {N} releases in {weeks} slots of capacity {}",
        all.capacity
    );
    println!(
        "release_plan_1000 plan_median_ms={:.2} all_released_median_ms={:.1} load_and_plan_median_ms={:.1} target_ms=1000",
        in_memory.as_secs_f64() * 1e3,
        all_released.as_secs_f64() * 1e3,
        on_disk.as_secs_f64() * 1e3
    );
}

fn write_workspace(dir: &std::path::Path, crates: &[(String, String)], edges: &[(usize, usize)]) {
    let members: Vec<String> = crates.iter().map(|(n, _)| format!("\"{n}\"")).collect();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[workspace]\nresolver = \"2\"\nmembers = [{}]\n",
            members.join(", ")
        ),
    )
    .unwrap();
    for (i, (name, version)) in crates.iter().enumerate() {
        let mut m = format!(
            "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\n[dependencies]\n"
        );
        for &(_, b) in edges.iter().filter(|(a, _)| *a == i) {
            let (dep, v) = &crates[b];
            m.push_str(&format!(
                "{dep} = {{ path = \"../{dep}\", version = \"{v}\" }}\n"
            ));
        }
        std::fs::create_dir_all(dir.join(name).join("src")).unwrap();
        std::fs::write(dir.join(name).join("Cargo.toml"), m).unwrap();
        std::fs::write(dir.join(name).join("src/lib.rs"), "").unwrap();
    }
}
