//! `cargo xtask release` end to end against a real registry: cargo-http-registry
//! (from crates.io; `.ci/run` installs it) serving a git index and the publish
//! API on loopback. A five-crate workspace is released over two weeks; the
//! first run is killed between two publishes and resumed; then a crate outside
//! the workspace builds against the published versions.
//!
//! Without `cargo-http-registry` on PATH the test is skipped with a reason on a
//! developer machine and fails under `CI=true`.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{name} is not on PATH; .ci/run installs it with `cargo install cargo-http-registry`"
        );
        eprintln!("skipping: {name} is not on PATH (cargo install cargo-http-registry)");
    }
    found
}

/// The registry server; killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The environment every child runs in: a private cargo home, the registry token.
fn env<'a>(cmd: &'a mut Command, home: &Path) -> &'a mut Command {
    cmd.env("CARGO_HOME", home)
        .env("CARGO_REGISTRIES_LOCAL_TOKEN", "test-token")
        .env("CARGO_TERM_COLOR", "never")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

fn git(dir: &Path, args: &[&str]) -> String {
    run(Command::new("git").arg("-C").arg(dir).args(args))
}

const CRATES: [(&str, &[&str]); 5] = [
    ("alpha", &[]),
    ("bravo", &["alpha"]),
    ("charlie", &["bravo"]),
    ("delta", &["alpha"]),
    ("echo", &["charlie", "delta"]),
];

#[test]
fn two_weeks_are_published_in_order_and_a_killed_run_resumes() {
    let Some(server_bin) = tool("cargo-http-registry") else {
        return;
    };
    let base = std::env::temp_dir().join(format!("xtask-release-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let (reg, ws, home) = (
        base.join("registry"),
        base.join("ws"),
        base.join("cargo-home"),
    );
    std::fs::create_dir_all(&home).unwrap();
    let _server = Server(
        Command::new(server_bin)
            .arg(&reg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let t = Instant::now();
    while !reg.join("config.json").exists() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the registry did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let config = format!("[registries.local]\nindex = \"file://{}\"\n", reg.display());

    // A five-crate workspace, each crate published to `local` only.
    write(&ws.join(".cargo/config.toml"), &config);
    let members: Vec<String> = CRATES.iter().map(|(n, _)| format!("\"{n}\"")).collect();
    write(
        &ws.join("Cargo.toml"),
        &format!(
            "[workspace]\nresolver = \"2\"\nmembers = [{}]\n",
            members.join(", ")
        ),
    );
    for (name, deps) in CRATES {
        let mut m = format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"MIT\"\ndescription = \"{name}\"\npublish = [\"local\"]\n\n[dependencies]\n"
        );
        for d in deps {
            m.push_str(&format!(
                "{d} = {{ path = \"../{d}\", version = \"0.1\", registry = \"local\" }}\n"
            ));
        }
        write(&ws.join(name).join("Cargo.toml"), &m);
        let body: String = deps.iter().map(|d| format!("pub use {d};\n")).collect();
        write(
            &ws.join(name).join("src/lib.rs"),
            &format!("{body}pub fn {name}() {{}}\n"),
        );
    }
    let requests: String = CRATES
        .iter()
        .map(|(n, _)| format!("{n} = \"patch\"\n"))
        .collect();
    write(
        &ws.join("release-calendar.toml"),
        &format!(
            "[calendar]\nstart = \"2027-01-04\"\ncapacity = 3\nlag = 0\n\n[requests]\n{requests}"
        ),
    );
    write(&ws.join(".gitignore"), "/target\n");
    git(&ws, &["init", "--quiet"]);
    git(&ws, &["config", "user.email", "release@test"]);
    git(&ws, &["config", "user.name", "release test"]);

    let xtask = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
        env(&mut c, &home)
            .args(args)
            .arg("--manifest-path")
            .arg(ws.join("Cargo.toml"));
        c
    };
    run(&mut xtask(&["release-plan", "--write"]));
    // Committed, as cargo recommends; --apply keeps it current.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(env(&mut Command::new(&cargo), &home)
        .current_dir(&ws)
        .args(["generate-lockfile", "--offline"]));
    git(&ws, &["add", "."]);
    git(&ws, &["commit", "--quiet", "-m", "initial"]);
    let plan: serde_json::Value =
        serde_json::from_str(&run(&mut xtask(&["release-plan", "--format", "json"]))).unwrap();
    let week = |n: usize| -> Vec<String> {
        plan["weeks"][n]["releases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["crate"].as_str().unwrap().to_owned())
            .collect()
    };
    let (first, second) = (week(0), week(1));
    assert_eq!((first.len(), second.len()), (3, 2), "{plan}");

    // A dry run says what it would do and changes nothing.
    let dry = run(&mut xtask(&[
        "release",
        "--week",
        "1",
        "--registry",
        "local",
    ]));
    assert!(
        dry.contains("would publish alpha@0.1.1 to local (new crate)"),
        "{dry}"
    );
    assert!(git(&ws, &["status", "--porcelain"]).is_empty());

    // Week 1, killed (with its whole process group, as Ctrl-C would) right
    // after its first publish.
    let mut child = xtask(&["release", "--week", "1", "--registry", "local", "--execute"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let mut seen = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("published ") {
            break;
        }
    }
    run(Command::new("kill").args(["-9", "--", &format!("-{}", child.id())]));
    let _ = child.wait();
    eprintln!("killed run:\n{seen}");
    assert!(
        seen.contains(&format!("published {}@0.1.1 to local", first[0])),
        "{seen}"
    );

    // The rerun skips what the registry has and finishes the week.
    let resumed = run(&mut xtask(&[
        "release",
        "--week",
        "1",
        "--registry",
        "local",
        "--execute",
    ]));
    eprintln!("resumed run:\n{resumed}");
    assert!(
        resumed.contains(&format!("{}@0.1.1 is in local already: skipped", first[0])),
        "{resumed}"
    );
    for name in &first[1..] {
        assert!(
            resumed.contains(&format!("published {name}@0.1.1 to local")),
            "{resumed}"
        );
    }
    let tags = git(&ws, &["tag", "--list"]);
    for name in &first {
        assert!(tags.contains(&format!("{name}-v0.1.1")), "{tags}");
    }
    let cal = std::fs::read_to_string(ws.join("release-calendar.toml")).unwrap();
    assert!(cal.contains("[released]"), "{cal}");
    run(&mut xtask(&["release-plan", "--check"]));

    // Week 2.
    let done = run(&mut xtask(&[
        "release",
        "--week",
        "2",
        "--registry",
        "local",
        "--execute",
    ]));
    eprintln!("week 2:\n{done}");
    for name in &second {
        assert!(
            done.contains(&format!("published {name}@0.1.1 to local")),
            "{done}"
        );
    }
    assert!(git(&ws, &["status", "--porcelain"]).is_empty());
    run(&mut xtask(&["release-plan", "--check"]));

    // A crate outside the workspace builds against the published versions.
    let user = base.join("user");
    write(&user.join(".cargo/config.toml"), &config);
    write(
        &user.join("Cargo.toml"),
        "[package]\nname = \"user\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\necho = { version = \"=0.1.1\", registry = \"local\" }\n",
    );
    write(
        &user.join("src/main.rs"),
        "fn main() { echo::echo(); echo::charlie::charlie(); echo::delta::alpha::alpha(); }\n",
    );
    run(env(&mut Command::new(&cargo), &home)
        .current_dir(&user)
        .args(["build", "--quiet"]));
    let lock = std::fs::read_to_string(user.join("Cargo.lock")).unwrap();
    for (name, _) in CRATES {
        assert!(
            lock.contains(&format!("name = \"{name}\"\nversion = \"0.1.1\"")),
            "{lock}"
        );
    }
    drop(_server);
    let _ = std::fs::remove_dir_all(&base);
}
