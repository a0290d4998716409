//! `batuta.toml`: parsed with serde, then validated; every error names the file,
//! line and column.
//!
//! ```
//! let cfg = batuta::config::Config::parse("[serve]\nprimary = \"simd\"\n", "batuta.toml".as_ref()).unwrap();
//! assert_eq!(cfg.serve.primary, batuta::config::Primary::Fixed(trueno::Backend::Simd));
//!
//! let err = batuta::config::Config::parse("[serve.circuit_breaker]\ngpu_cost_limt = 1.0\n", "batuta.toml".as_ref())
//!     .unwrap_err();
//! assert!(err.to_string().starts_with("batuta.toml:2:1: unknown field `gpu_cost_limt`"));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use trueno::Backend;

use crate::breaker::BreakerConfig;

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The `[serve]` table.
    pub serve: ServeConfig,
}

/// `[serve]`: how `batuta serve` runs. Keys are named in brackets; their
/// defaults are in the README's table, which a test checks against
/// `Config::parse("")` and the `Default` impls here.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeConfig {
    /// Where to listen (`address`).
    pub address: SocketAddr,
    /// Directory of `*.safetensors` models (`model_dir`),
    /// resolved against the configuration file's directory.
    pub model_dir: PathBuf,
    /// Backend requests go to while it has room (`primary`; `auto` lets the
    /// backend selector pick per request).
    pub primary: Primary,
    /// Backend that takes requests when the primary is full (`spillover`).
    pub spillover: Backend,
    /// When to spill (`spill`).
    pub spill: Spill,
    /// Cost profile for `primary = "auto"` (`profile`; unset: the one
    /// `batuta calibrate` wrote, if any).
    pub profile: Option<PathBuf>,
    /// Worker pool of every backend in use (`[serve.backends.NAME]`), defaults filled in.
    pub backends: BTreeMap<Backend, BackendSettings>,
    /// `[serve.circuit_breaker]`.
    pub circuit_breaker: CircuitBreakerConfig,
    /// `[serve.http]`: connection limits and timeouts.
    pub http: HttpLimits,
}

/// `[serve.http]`: what one connection may hold, and for how long. Every
/// limit protects the other clients from one slow, idle or oversized one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HttpLimits {
    /// Largest request body (`max_body_bytes`); larger: 413.
    pub max_body_bytes: usize,
    /// Open connections at most (`max_connections`); one more is
    /// answered 503 and closed at once. Keep it below the process's file limit.
    pub max_connections: usize,
    /// Time to receive a request's headers once its first byte arrived
    /// (`header_read_timeout_secs`); then the connection closes.
    pub header_read_timeout: Duration,
    /// Time to receive a request's body (`body_read_timeout_secs`); then 408.
    pub body_read_timeout: Duration,
    /// How long an idle keep-alive connection stays open
    /// (`keep_alive_timeout_secs`).
    pub keep_alive_timeout: Duration,
    /// On SIGTERM, SIGHUP or Ctrl-C: how long admitted requests may take to
    /// finish before the connections left are closed (`drain_timeout_secs`).
    pub drain_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_body_bytes: 16 << 20,
            max_connections: 512,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(60),
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// Where requests go first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Primary {
    /// Always this backend.
    Fixed(Backend),
    /// The backend selector's choice for each request's forward pass.
    Auto,
}

/// When requests spill from the primary to the spillover backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Spill {
    /// Whenever the primary's queue is full (the seed's rule).
    Full,
    /// Whenever the spillover backend is expected to finish the request
    /// sooner than the primary would, queue wait included; a request that
    /// fits neither sooner nor at all is refused (503) rather than queued for
    /// longer. Keeps the latency of accepted requests level.
    Auto,
    /// Never: a full primary means 503.
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawPrimary {
    Scalar,
    Simd,
    Gpu,
    Auto,
}

/// `[serve.backends.NAME]`: one backend's worker pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendSettings {
    /// Requests admitted (queued or running) at once (`capacity`).
    pub capacity: usize,
    /// Worker threads (`workers`).
    pub workers: usize,
    /// Most rows merged into one forward pass (`max_batch_size`).
    pub max_batch_size: usize,
    /// Longest a worker waits to fill a batch (`max_batch_delay_ms`).
    pub max_batch_delay: std::time::Duration,
}

impl BackendSettings {
    /// Requests admitted per worker unless `capacity` says otherwise. At
    /// overload a request then waits about this many service times: measured
    /// (docs/benchmarks.md, loadtest), that keeps the p99 under 2× load near
    /// twice the p99 at half load, while half load is almost never refused.
    pub const CAPACITY_PER_WORKER: usize = 8;
}

impl Default for BackendSettings {
    fn default() -> Self {
        BackendSettings {
            capacity: Self::CAPACITY_PER_WORKER,
            workers: 1,
            max_batch_size: 1,
            max_batch_delay: std::time::Duration::ZERO,
        }
    }
}

/// `[serve.circuit_breaker]`: the safety valves. Keys are named in
/// brackets; the defaults are [`CircuitBreakerConfig::default`]'s (and the
/// README's table, which a test checks against them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CircuitBreakerConfig {
    /// Most requests queued or running across all backends (`queue_depth_limit`).
    pub queue_depth_limit: usize,
    /// Where GPU requests go while its breaker is open (`fallback`).
    pub fallback: Fallback,
    /// Every backend's breaker (the GPU-time budget is the GPU's alone).
    pub breaker: BreakerConfig,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        CircuitBreakerConfig {
            queue_depth_limit: 64,
            fallback: Fallback::Cpu,
            breaker: BreakerConfig::default(),
        }
    }
}

/// Where requests go when the circuit breaker opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fallback {
    /// The fastest CPU backend (SIMD).
    Cpu,
    /// The SIMD backend.
    Simd,
    /// The scalar backend.
    Scalar,
    /// Refuse with 503.
    Reject,
}

impl Fallback {
    /// The backend this fallback sends requests to, if any.
    pub fn backend(self) -> Option<Backend> {
        match self {
            Fallback::Cpu | Fallback::Simd => Some(Backend::Simd),
            Fallback::Scalar => Some(Backend::Scalar),
            Fallback::Reject => None,
        }
    }
}

/// A configuration file that cannot be used, and where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line and column of the problem, when it has a place.
    pub position: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, col)) => {
                write!(f, "{}:{line}:{col}: {}", self.path.display(), self.message)
            }
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    serve: RawServe,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServe {
    address: Option<SocketAddr>,
    model_dir: Option<PathBuf>,
    primary: Option<Spanned<RawPrimary>>,
    spillover: Option<Spanned<Backend>>,
    spill: Option<Spill>,
    profile: Option<PathBuf>,
    #[serde(default)]
    backends: BTreeMap<Backend, RawBackend>,
    #[serde(default)]
    circuit_breaker: RawBreaker,
    #[serde(default)]
    http: RawHttp,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    max_body_bytes: Option<Spanned<usize>>,
    max_connections: Option<Spanned<usize>>,
    header_read_timeout_secs: Option<Spanned<f64>>,
    body_read_timeout_secs: Option<Spanned<f64>>,
    keep_alive_timeout_secs: Option<Spanned<f64>>,
    drain_timeout_secs: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackend {
    capacity: Option<Spanned<usize>>,
    workers: Option<Spanned<usize>>,
    max_batch_size: Option<Spanned<usize>>,
    max_batch_delay_ms: Option<Spanned<f64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawBreaker {
    gpu_cost_limit: Option<Spanned<f64>>,
    queue_depth_limit: Option<Spanned<usize>>,
    fallback: Option<Fallback>,
    cooldown_secs: Option<Spanned<f64>>,
    half_open_probes: Option<Spanned<usize>>,
    error_rate_threshold: Option<Spanned<f64>>,
    min_requests: Option<Spanned<usize>>,
}

/// The 1-based line and column (in characters, as editors count) of a byte
/// offset into TOML text, as the parser's spans give it.
pub(crate) fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(src.len());
    while !src.is_char_boundary(end) {
        end -= 1;
    }
    let before = &src[..end];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let src = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_owned(),
            position: None,
            message: format!("cannot read: {e}"),
        })?;
        Config::parse(&src, path)
    }

    /// Parses and validates configuration text; `path` names it in errors and
    /// anchors the relative `model_dir`.
    pub fn parse(src: &str, path: &Path) -> Result<Config, ConfigError> {
        let at = |span: Option<Range<usize>>, message: String| ConfigError {
            path: path.to_owned(),
            position: span.map(|s| line_col(src, s.start)),
            message,
        };
        let raw: RawFile =
            toml::from_str(src).map_err(|e| at(e.span(), e.message().trim().to_owned()))?;
        let s = raw.serve;

        let primary_span = s.primary.as_ref().map(Spanned::span);
        let primary = match s.primary.as_ref().map(|p| *p.get_ref()) {
            None | Some(RawPrimary::Simd) => Primary::Fixed(Backend::Simd),
            Some(RawPrimary::Scalar) => Primary::Fixed(Backend::Scalar),
            Some(RawPrimary::Gpu) => Primary::Fixed(Backend::Gpu),
            Some(RawPrimary::Auto) => Primary::Auto,
        };
        let spillover = s
            .spillover
            .as_ref()
            .map_or(Backend::Scalar, |p| *p.get_ref());
        if primary == Primary::Fixed(spillover) {
            let span = s.spillover.as_ref().map(Spanned::span).or(primary_span);
            return Err(at(
                span,
                format!("`spillover` must differ from `primary` (both are `{spillover}`)"),
            ));
        }

        let positive = |v: &Option<Spanned<usize>>, key: &str, default: usize| match v {
            None => Ok(default),
            Some(v) if *v.get_ref() >= 1 => Ok(*v.get_ref()),
            Some(v) => Err(at(Some(v.span()), format!("`{key}` must be at least 1"))),
        };
        let defaults = BackendSettings::default();
        let mut backends = BTreeMap::new();
        for (backend, raw) in &s.backends {
            let delay_ms = match &raw.max_batch_delay_ms {
                None => 0.0,
                Some(v) if v.get_ref().is_finite() && (0.0..=60_000.0).contains(v.get_ref()) => {
                    *v.get_ref()
                }
                Some(v) => {
                    return Err(at(
                        Some(v.span()),
                        "`max_batch_delay_ms` must be a number of milliseconds from 0 to 60000"
                            .into(),
                    ));
                }
            };
            let workers = positive(&raw.workers, "workers", defaults.workers)?;
            let settings = BackendSettings {
                capacity: positive(
                    &raw.capacity,
                    "capacity",
                    BackendSettings::CAPACITY_PER_WORKER * workers,
                )?,
                workers,
                max_batch_size: positive(
                    &raw.max_batch_size,
                    "max_batch_size",
                    defaults.max_batch_size,
                )?,
                max_batch_delay: std::time::Duration::from_secs_f64(delay_ms / 1e3),
            };
            backends.insert(*backend, settings);
        }
        let cb = s.circuit_breaker;
        let cbd = CircuitBreakerConfig::default();
        let fallback = cb.fallback.unwrap_or(cbd.fallback);
        // Auto chooses among the CPU backends (the GPU joins at start-up if one opens).
        let auto = (primary == Primary::Auto).then_some([Backend::Scalar, Backend::Simd]);
        let fixed = match primary {
            Primary::Fixed(b) => Some(b),
            Primary::Auto => None,
        };
        let used = [fixed, Some(spillover), fallback.backend()]
            .into_iter()
            .flatten()
            .chain(auto.into_iter().flatten());
        for b in used {
            backends.entry(b).or_insert(defaults);
        }
        let ratio =
            |v: &Option<Spanned<f64>>, key: &str, default: f64, ok: fn(f64) -> bool, what: &str| {
                match v {
                    None => Ok(default),
                    Some(v) if ok(*v.get_ref()) => Ok(*v.get_ref()),
                    Some(v) => Err(at(Some(v.span()), format!("`{key}` must be {what}"))),
                }
            };
        let cooldown = ratio(
            &cb.cooldown_secs,
            "cooldown_secs",
            cbd.breaker.cooldown.as_secs_f64(),
            |v| v.is_finite() && v > 0.0,
            "a positive number of seconds",
        )?;
        let error_rate_threshold = ratio(
            &cb.error_rate_threshold,
            "error_rate_threshold",
            cbd.breaker.error_rate_threshold,
            |v| v > 0.0 && v <= 1.0,
            "a fraction in (0, 1]",
        )?;
        let half_open_probes = positive(
            &cb.half_open_probes,
            "half_open_probes",
            cbd.breaker.half_open_probes as usize,
        )?;
        let half_open_probes = u32::try_from(half_open_probes).map_err(|_| {
            at(
                cb.half_open_probes.as_ref().map(Spanned::span),
                "`half_open_probes` is too large".into(),
            )
        })?;
        let min_requests = positive(&cb.min_requests, "min_requests", cbd.breaker.min_requests)?;

        let gpu_cost_limit = match cb.gpu_cost_limit {
            None => cbd.breaker.gpu_cost_limit,
            Some(v) if v.get_ref().is_finite() && *v.get_ref() >= 0.0 => *v.get_ref(),
            Some(v) => {
                return Err(at(
                    Some(v.span()),
                    "`gpu_cost_limit` must be a finite number ≥ 0 (GPU-seconds per minute)".into(),
                ));
            }
        };
        let queue_depth_limit = positive(
            &cb.queue_depth_limit,
            "queue_depth_limit",
            cbd.queue_depth_limit,
        )?;

        let d = HttpLimits::default();
        let h = &s.http;
        let seconds = |v: &Option<Spanned<f64>>, key: &str, default: Duration| match v {
            None => Ok(default),
            Some(v) if v.get_ref().is_finite() && (0.001..=86_400.0).contains(v.get_ref()) => {
                Ok(Duration::from_secs_f64(*v.get_ref()))
            }
            Some(v) => Err(at(
                Some(v.span()),
                format!("`{key}` must be a number of seconds from 0.001 to 86400"),
            )),
        };
        let http = HttpLimits {
            max_body_bytes: positive(&h.max_body_bytes, "max_body_bytes", d.max_body_bytes)?,
            max_connections: positive(&h.max_connections, "max_connections", d.max_connections)?,
            header_read_timeout: seconds(
                &h.header_read_timeout_secs,
                "header_read_timeout_secs",
                d.header_read_timeout,
            )?,
            body_read_timeout: seconds(
                &h.body_read_timeout_secs,
                "body_read_timeout_secs",
                d.body_read_timeout,
            )?,
            keep_alive_timeout: seconds(
                &h.keep_alive_timeout_secs,
                "keep_alive_timeout_secs",
                d.keep_alive_timeout,
            )?,
            drain_timeout: seconds(&h.drain_timeout_secs, "drain_timeout_secs", d.drain_timeout)?,
        };

        let model_dir = s.model_dir.unwrap_or_else(|| PathBuf::from("models"));
        let model_dir = match path.parent() {
            Some(dir) if model_dir.is_relative() => dir.join(model_dir),
            _ => model_dir,
        };
        Ok(Config {
            serve: ServeConfig {
                address: s
                    .address
                    .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
                model_dir,
                primary,
                spillover,
                spill: s.spill.unwrap_or(Spill::Auto),
                profile: s.profile.map(|p| match path.parent() {
                    Some(dir) if p.is_relative() => dir.join(p),
                    _ => p,
                }),
                backends,
                circuit_breaker: CircuitBreakerConfig {
                    queue_depth_limit,
                    fallback,
                    breaker: BreakerConfig {
                        gpu_cost_limit,
                        cooldown: std::time::Duration::from_secs_f64(cooldown),
                        half_open_probes,
                        error_rate_threshold,
                        min_requests,
                        ..cbd.breaker
                    },
                },
                http,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key's default as the README's table writes it, from the code.
    fn defaults_as_documented() -> BTreeMap<String, String> {
        let s = Config::parse("", Path::new("batuta.toml")).unwrap().serve;
        let b = BackendSettings::default();
        let cb = CircuitBreakerConfig::default();
        let h = HttpLimits::default();
        let code = |v: &dyn fmt::Display| format!("`{v}`");
        let secs = |d: Duration| d.as_secs_f64().to_string();
        let lower = |v: &dyn fmt::Debug| format!("`{}`", format!("{v:?}").to_lowercase());
        let primary = match s.primary {
            Primary::Fixed(b) => code(&b.name()),
            Primary::Auto => code(&"auto"),
        };
        [
            ("[serve] address", code(&s.address)),
            ("[serve] model_dir", code(&s.model_dir.display())),
            ("[serve] primary", primary),
            ("[serve] spillover", code(&s.spillover.name())),
            ("[serve] spill", lower(&s.spill)),
            ("[serve] profile", "(calibrate's)".into()),
            (
                "[serve.backends.NAME] capacity",
                format!("{} per worker", BackendSettings::CAPACITY_PER_WORKER),
            ),
            ("[serve.backends.NAME] workers", b.workers.to_string()),
            (
                "[serve.backends.NAME] max_batch_size",
                b.max_batch_size.to_string(),
            ),
            (
                "[serve.backends.NAME] max_batch_delay_ms",
                (b.max_batch_delay.as_secs_f64() * 1e3).to_string(),
            ),
            (
                "[serve.circuit_breaker] gpu_cost_limit",
                format!("{:.1}", cb.breaker.gpu_cost_limit),
            ),
            (
                "[serve.circuit_breaker] queue_depth_limit",
                cb.queue_depth_limit.to_string(),
            ),
            ("[serve.circuit_breaker] fallback", lower(&cb.fallback)),
            (
                "[serve.circuit_breaker] cooldown_secs",
                secs(cb.breaker.cooldown),
            ),
            (
                "[serve.circuit_breaker] half_open_probes",
                cb.breaker.half_open_probes.to_string(),
            ),
            (
                "[serve.circuit_breaker] error_rate_threshold",
                cb.breaker.error_rate_threshold.to_string(),
            ),
            (
                "[serve.circuit_breaker] min_requests",
                cb.breaker.min_requests.to_string(),
            ),
            ("[serve.http] max_body_bytes", h.max_body_bytes.to_string()),
            (
                "[serve.http] max_connections",
                h.max_connections.to_string(),
            ),
            (
                "[serve.http] header_read_timeout_secs",
                secs(h.header_read_timeout),
            ),
            (
                "[serve.http] body_read_timeout_secs",
                secs(h.body_read_timeout),
            ),
            (
                "[serve.http] keep_alive_timeout_secs",
                secs(h.keep_alive_timeout),
            ),
            ("[serve.http] drain_timeout_secs", secs(h.drain_timeout)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    #[test]
    fn positions_count_lines_and_characters() {
        let src = "a = 1\n# é→\nbad";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, src.find("bad").unwrap()), (3, 1));
        // After "# é→" (2 + 2 + 3 bytes, 4 characters): column 5.
        assert_eq!(line_col(src, src.find("\nbad").unwrap()), (2, 5));
        assert_eq!(line_col(src, 9), (2, 3), "inside a character: its start");
        assert_eq!(line_col(src, 1000), (3, 4));
    }

    #[test]
    fn the_readme_table_states_the_defaults_in_the_code() {
        let readme = include_str!("../../../README.md");
        let documented: BTreeMap<String, String> = readme
            .lines()
            .filter_map(|l| l.strip_prefix("| `[serve"))
            .map(|l| {
                let cells: Vec<&str> = l.split(" | ").collect();
                let key = format!("[serve{}", cells[0].trim_end_matches('`'));
                (key, cells[1].trim().to_owned())
            })
            .collect();
        assert_eq!(documented, defaults_as_documented());
    }

    fn err(src: &str) -> String {
        Config::parse(src, Path::new("b.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn the_sample_file_parses() {
        let src = include_str!("../../../batuta.toml");
        let cfg = Config::parse(src, Path::new("conf/batuta.toml")).unwrap();
        assert_eq!(cfg.serve.model_dir, PathBuf::from("conf/models"));
        assert_eq!(cfg.serve.circuit_breaker.breaker.gpu_cost_limit, 100.0);
        assert_eq!(cfg.serve.circuit_breaker.queue_depth_limit, 64);
        assert_eq!(cfg.serve.circuit_breaker.fallback, Fallback::Cpu);
    }

    #[test]
    fn defaults_fill_every_backend_in_use() {
        let cfg = Config::parse("", Path::new("b.toml")).unwrap();
        assert_eq!(
            (cfg.serve.primary, cfg.serve.spillover),
            (Primary::Fixed(Backend::Simd), Backend::Scalar)
        );
        assert_eq!(cfg.serve.backends.len(), 2);
        assert_eq!(cfg.serve.address.port(), 8080);
    }

    #[test]
    fn errors_name_line_and_column() {
        assert_eq!(
            err("[serve]\nprimary = \"tpu\"\n"),
            "b.toml:2:11: unknown variant `tpu`, expected one of `scalar`, `simd`, `gpu`, `auto`"
        );
        assert!(err("[serve]\nadress = \"x\"\n").starts_with("b.toml:2:1: unknown field `adress`"));
        assert!(err("[serve]\naddress = \"localhost\"\n").starts_with("b.toml:2:11: "));
        assert_eq!(
            err("[serve]\nprimary = \"scalar\"\nspillover = \"scalar\"\n"),
            "b.toml:3:13: `spillover` must differ from `primary` (both are `scalar`)"
        );
        assert_eq!(
            err("[serve.backends.simd]\ncapacity = 0\n"),
            "b.toml:2:12: `capacity` must be at least 1"
        );
        assert!(err("[serve.backends.simd]\ncapacity = -3\n").starts_with("b.toml:2:12: "));
        assert!(
            err("[serve.circuit_breaker]\ngpu_cost_limit = -1.0\n")
                .starts_with("b.toml:2:18: `gpu_cost_limit` must be")
        );
        assert!(
            err("[serve.circuit_breaker]\ngpu_cost_limit = nan\n").starts_with("b.toml:2:18: ")
        );
        assert!(
            err("[serve.circuit_breaker]\nfallback = \"gpu\"\n")
                .starts_with("b.toml:2:12: unknown variant `gpu`")
        );
        assert!(err("[serve\n").starts_with("b.toml:1:"));
    }

    #[test]
    fn routing_and_breaker_keys() {
        let cfg = Config::parse(
            "[serve]\nprimary = \"auto\"\nspill = \"auto\"\nprofile = \"p.toml\"\n[serve.circuit_breaker]\ncooldown_secs = 2.5\nhalf_open_probes = 1\nerror_rate_threshold = 0.2\nmin_requests = 5\nfallback = \"reject\"\n",
            Path::new("conf/b.toml"),
        )
        .unwrap();
        let s = cfg.serve;
        assert_eq!((s.primary, s.spill), (Primary::Auto, Spill::Auto));
        assert_eq!(s.profile, Some(PathBuf::from("conf/p.toml")));
        assert!(
            s.backends.contains_key(&Backend::Simd) && s.backends.contains_key(&Backend::Scalar)
        );
        let cb = s.circuit_breaker;
        assert_eq!(cb.breaker.cooldown, std::time::Duration::from_millis(2500));
        assert_eq!(
            (
                cb.breaker.half_open_probes,
                cb.breaker.min_requests,
                cb.fallback
            ),
            (1, 5, Fallback::Reject)
        );
        assert!(
            err("[serve]\nspill = \"sometimes\"\n")
                .starts_with("b.toml:2:9: unknown variant `sometimes`")
        );
        assert_eq!(
            err("[serve.circuit_breaker]\nerror_rate_threshold = 1.5\n"),
            "b.toml:2:24: `error_rate_threshold` must be a fraction in (0, 1]"
        );
        assert_eq!(
            err("[serve.circuit_breaker]\ncooldown_secs = 0\n"),
            "b.toml:2:17: `cooldown_secs` must be a positive number of seconds"
        );
        assert!(
            err("[serve.circuit_breaker]\nhalf_open_probes = 0\n")
                .ends_with("`half_open_probes` must be at least 1")
        );
    }

    #[test]
    fn batching_keys() {
        let cfg = Config::parse(
            "[serve.backends.simd]\nmax_batch_size = 64\nmax_batch_delay_ms = 2.5\n",
            Path::new("b.toml"),
        );
        let b = cfg.unwrap().serve.backends[&Backend::Simd];
        assert_eq!(
            (b.max_batch_size, b.max_batch_delay),
            (64, std::time::Duration::from_micros(2500))
        );
        assert_eq!(
            err("[serve.backends.simd]\nmax_batch_delay_ms = -1\n"),
            "b.toml:2:22: `max_batch_delay_ms` must be a number of milliseconds from 0 to 60000"
        );
        assert_eq!(
            err("[serve.backends.simd]\nmax_batch_size = 0\n"),
            "b.toml:2:18: `max_batch_size` must be at least 1"
        );
    }

    #[test]
    fn http_keys() {
        let cfg = Config::parse(
            "[serve.http]\nmax_body_bytes = 1024\nmax_connections = 8\nheader_read_timeout_secs = 0.5\nbody_read_timeout_secs = 2\nkeep_alive_timeout_secs = 3\ndrain_timeout_secs = 4\n",
            Path::new("b.toml"),
        );
        let h = cfg.unwrap().serve.http;
        assert_eq!((h.max_body_bytes, h.max_connections), (1024, 8));
        assert_eq!(h.header_read_timeout, Duration::from_millis(500));
        assert_eq!(
            (h.body_read_timeout, h.keep_alive_timeout, h.drain_timeout),
            (
                Duration::from_secs(2),
                Duration::from_secs(3),
                Duration::from_secs(4)
            )
        );
        assert_eq!(
            Config::parse("", Path::new("b.toml")).unwrap().serve.http,
            HttpLimits::default()
        );
        assert_eq!(
            err("[serve.http]\nmax_body_bytes = 0\n"),
            "b.toml:2:18: `max_body_bytes` must be at least 1"
        );
        assert_eq!(
            err("[serve.http]\ndrain_timeout_secs = -1\n"),
            "b.toml:2:22: `drain_timeout_secs` must be a number of seconds from 0.001 to 86400"
        );
        assert!(err("[serve.http]\nidle = 1\n").starts_with("b.toml:2:1: unknown field `idle`"));
    }

    #[test]
    fn a_missing_file_is_named() {
        let e = Config::load(Path::new("/no/such/batuta.toml")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/no/such/batuta.toml: cannot read: ")
        );
    }
}
