//! The registry as `cargo` sees it: whether a version is in its index, and
//! publishing. Publishing runs in the workspace root, so the workspace's
//! `.cargo/config.toml` (registries, tokens) applies as it does for the user.
//! Index queries (`cargo info`) run in an empty directory with those same
//! configuration files passed as `--config`: inside the workspace, `cargo
//! info` would write a `Cargo.lock`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::process;

/// Where to publish: a registry name from cargo's configuration, or crates.io.
#[derive(Debug, Clone)]
pub struct Registry {
    /// `--registry NAME`; `None` is crates.io.
    pub name: Option<String>,
    /// Where index queries run.
    probe: PathBuf,
    /// `--config FILE` for every cargo configuration file above the workspace.
    config: Vec<String>,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.probe);
    }
}

impl Registry {
    /// The registry `name` (crates.io when `None`) as the workspace at `root` configures it.
    pub fn new(name: Option<String>, root: &Path) -> anyhow::Result<Registry> {
        let probe =
            std::env::temp_dir().join(format!("xtask-registry-probe-{}", std::process::id()));
        std::fs::create_dir_all(&probe).with_context(|| format!("creating {}", probe.display()))?;
        let mut files: Vec<PathBuf> = root
            .ancestors()
            .flat_map(|d| [d.join(".cargo/config.toml"), d.join(".cargo/config")])
            .filter(|f| f.is_file())
            .collect();
        files.reverse(); // the nearest last, so it wins
        let mut config = Vec::new();
        for f in files {
            config.push("--config".to_owned());
            config.push(
                f.to_str()
                    .context("a cargo configuration path is not UTF-8")?
                    .to_owned(),
            );
        }
        Ok(Registry {
            name,
            probe,
            config,
        })
    }

    /// The name cargo's `publish = [...]` lists use for it.
    pub fn key(&self) -> &str {
        self.name.as_deref().unwrap_or("crates-io")
    }

    /// Whether this is crates.io (whose rate limits then apply).
    pub fn is_crates_io(&self) -> bool {
        self.key() == "crates-io"
    }

    fn args(&self) -> Vec<String> {
        match &self.name {
            Some(n) => vec!["--registry".into(), n.clone()],
            None => Vec::new(),
        }
    }

    /// Whether the index lists `spec` (`name` or `name@version`).
    pub fn has(&self, spec: &str) -> anyhow::Result<bool> {
        let out = process::output(
            process::cargo()
                .current_dir(&self.probe)
                .args(&self.config)
                .args(["info", "--quiet", spec])
                .args(self.args()),
        )?;
        if out.status.success() {
            return Ok(true);
        }
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("could not find") {
            return Ok(false);
        }
        bail!(
            "cannot tell whether {} has {spec}: {}",
            self.key(),
            err.trim()
        )
    }

    /// `cargo publish -p name` from the workspace at `root`.
    pub fn publish(&self, root: &Path, name: &str) -> anyhow::Result<()> {
        process::checked(
            process::cargo()
                .current_dir(root)
                .args(["publish", "--quiet", "--package", name])
                .args(self.args()),
        )?;
        Ok(())
    }

    /// Polls until the index lists `spec`, for at most `timeout`.
    pub fn wait_for(&self, spec: &str, timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        while !self.has(spec)? {
            if start.elapsed() > timeout {
                bail!(
                    "{spec} was published but {} does not list it after {} s",
                    self.key(),
                    timeout.as_secs()
                );
            }
            std::thread::sleep(Duration::from_secs(2));
        }
        Ok(())
    }
}
