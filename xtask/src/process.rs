//! Running `cargo` and `git` as children: one place that captures their
//! output and turns a failure into an error that quotes what they said.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

use anyhow::{Context, bail};

/// The cargo that runs us (`$CARGO`), or the one on `PATH`.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// `git -C dir …`.
pub fn git(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("-C").arg(dir);
    c
}

/// Runs `cmd` to completion, capturing its output.
pub fn output(cmd: &mut Command) -> anyhow::Result<Output> {
    cmd.output()
        .with_context(|| format!("running {}", describe(cmd)))
}

/// Runs `cmd`; its stdout on success, an error quoting its stderr otherwise.
pub fn checked(cmd: &mut Command) -> anyhow::Result<Vec<u8>> {
    let out = output(cmd)?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            describe(cmd),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out.stdout)
}

/// `program arg…`, for messages (paths shown as given).
pub fn describe(cmd: &Command) -> String {
    let args: Vec<&OsStr> = cmd.get_args().collect();
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in args {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}
