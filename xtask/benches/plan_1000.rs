//! How long planning a 1000-crate workspace takes.
//!
//! `cargo bench -p xtask --bench plan_1000` prints the median of repeated runs
//! for (a) the plan alone, on an in-memory graph, (b) the whole library path —
//! `cargo metadata` on a generated 1000-member workspace on disk, the raw
//! manifests, and the plan — and (c) a dense shape (1000 crates, ~60,000
//! edges) through the `cargo xtask` binary as `cargo xtask` builds it (the dev
//! profile), alternating with `cargo metadata` alone. For (c) the planner's
//! own time is what `--timings` reports (everything but the `cargo metadata`
//! child); targets: ≤ 0.5 s, and the whole command ≤ 1.2× `cargo metadata`.

use std::path::Path;
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
    dense_through_the_command();
}

/// (c): the dense shape through the dev-profile binary, against `cargo metadata`.
fn dense_through_the_command() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let built = std::process::Command::new(&cargo)
        .args(["build", "--quiet", "--package", "xtask", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .status()
        .unwrap();
    assert!(built.success(), "building xtask in the dev profile");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or(root.join("target"), Into::into);
    let xtask = target.join("debug/xtask");

    // Crate i depends on each older crate with probability 0.12: ~60,000 edges.
    let mut rng = Lcg(7);
    let crates: Vec<(String, String)> = (0..N)
        .map(|i| (format!("c{i:04}"), format!("0.{}.{}", 1 + i % 7, i % 3)))
        .collect();
    let edges: Vec<(usize, usize)> = (1..N)
        .flat_map(|i| (0..i).map(move |j| (i, j)))
        .filter(|_| rng.next(100) < 12)
        .collect();
    let dir = std::env::temp_dir().join(format!("xtask-bench-dense-{}", std::process::id()));
    write_workspace(&dir, &crates, &edges);
    let manifest = dir.join("Cargo.toml");
    let manifest = manifest.to_str().unwrap();

    let (mut metadata, mut command, mut planner, mut ratios) = (vec![], vec![], vec![], vec![]);
    for _ in 0..5 {
        let t = Instant::now();
        // The same child the command runs.
        workspace::metadata_output(Path::new(manifest)).unwrap();
        let m = t.elapsed();
        let t = Instant::now();
        let out = std::process::Command::new(&xtask)
            .args([
                "release-plan",
                "--manifest-path",
                manifest,
                "--start",
                "2027-01-04",
            ])
            .args([
                "--bump",
                "c0000=minor",
                "--bump",
                "c0500=patch",
                "--timings",
            ])
            .output()
            .unwrap();
        let c = t.elapsed();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        let own: f64 = err
            .split("planner ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no planner time in {err}"));
        metadata.push(m.as_secs_f64());
        command.push(c.as_secs_f64());
        planner.push(own);
        ratios.push(c.as_secs_f64() / m.as_secs_f64());
    }
    std::fs::remove_dir_all(&dir).unwrap();
    let stats = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[0], v[v.len() - 1])
    };
    let (m, ..) = stats(metadata);
    let (c, ..) = stats(command);
    let (p, p_lo, p_hi) = stats(planner);
    let (r, r_lo, r_hi) = stats(ratios);
    println!("dense: crates={N} edges={}", edges.len());
    println!(
        "release_plan_dense cargo_metadata_median_s={m:.3} command_median_s={c:.3} planner_median_s={p:.3} (range {p_lo:.3}-{p_hi:.3}, target 0.5) command_over_metadata={r:.3} (range {r_lo:.3}-{r_hi:.3}, target 1.2)"
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
