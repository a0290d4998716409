//! Starting `batuta serve` as a real process for integration tests.

#![allow(dead_code)] // each test binary uses a different part

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use aprender::Mlp;

/// A running server, killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh directory with `models/<name>.safetensors` of the given layer sizes.
pub fn workspace(test: &str, name: &str, sizes: &[usize]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("batuta-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("models")).unwrap();
    Mlp::random(sizes, 3)
        .unwrap()
        .save(dir.join("models").join(format!("{name}.safetensors")))
        .unwrap();
    dir
}

/// Starts `batuta serve` on `config` (written into `dir`) with extra environment.
pub fn start(dir: &Path, config: &str, env: &[(&str, &str)]) -> Server {
    let path = dir.join("batuta.toml");
    std::fs::write(&path, config).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_batuta"));
    cmd.args(["serve", "--config"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("batuta listening on ")
        .unwrap_or_else(|| panic!("got {line:?}"))
        .to_owned();
    Server {
        child,
        base,
        dir: dir.to_owned(),
    }
}

/// An HTTP agent that returns 4xx/5xx as responses, not errors.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// A KServe v2 body of `rows` rows of `features` values.
pub fn body(rows: usize, features: usize) -> String {
    let data: Vec<f32> = (0..rows * features)
        .map(|i| (i as f32 * 0.01).sin())
        .collect();
    serde_json::json!({"inputs": [{"name": "x", "shape": [rows, features], "datatype": "FP32", "data": data}]}).to_string()
}

/// (status, x-batuta-backend, retry-after) of one inference.
pub fn infer(agent: &ureq::Agent, url: &str, body: &str) -> (u16, Option<String>, Option<String>) {
    let resp = agent
        .post(url)
        .header("content-type", "application/json")
        .send(body)
        .expect("an HTTP answer");
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    (
        resp.status().as_u16(),
        header("x-batuta-backend"),
        header("retry-after"),
    )
}

/// The value of one sample line of `/metrics`, e.g.
/// `batuta_requests_total{backend="simd",outcome="ok"}` (label order as exported).
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

/// `GET /metrics`.
pub fn scrape(agent: &ureq::Agent, base: &str) -> String {
    agent
        .get(format!("{base}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap()
}
