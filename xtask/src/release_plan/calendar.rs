//! `release-calendar.toml`: when releases may happen and what is requested.
//!
//! ```toml
//! [calendar]
//! start = "2026-12-07"      # the first release slot
//! cadence = "weekly"        # or "biweekly"
//! weekday = "monday"        # optional: slots fall on this day (start moves forward to it)
//! capacity = 1              # releases per slot
//! lag = 1                   # slots between a dependency's release and its dependent's
//! blackout = ["2026-12-28"] # slots on these dates are skipped
//!
//! [requests]                # crate = "patch" | "minor" | "major"
//! trueno = "patch"
//!
//! [public]                  # dependencies a crate exposes in its public API
//! realizar = ["aprender"]
//!
//! [pins]                    # crate = slot number
//! batuta = 4
//! ```
//!
//! Two tables are written by the tool: `[schedule]` (the plan as committed,
//! see [`super::schedule_file`]) and `[released]` (what `--apply` carried out:
//! those crates keep their slots and are not planned again; delete the table to
//! start the next cycle).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use super::bump::Level;

/// The parsed calendar.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    /// Date of slot 1.
    pub start: NaiveDate,
    /// Days between slots.
    pub cadence_days: u32,
    /// Releases per slot.
    pub capacity: usize,
    /// Slots between a dependency's release and its dependent's.
    pub lag: usize,
    /// Dates whose slot is skipped.
    pub blackout: Vec<NaiveDate>,
    /// Requested bumps by crate.
    pub requests: BTreeMap<String, Level>,
    /// Dependencies each crate exposes publicly.
    pub public: BTreeMap<String, Vec<String>>,
    /// Crates pinned to a slot.
    pub pins: BTreeMap<String, usize>,
    /// The committed schedule (`[schedule]`), if any: crate → (week, version).
    pub schedule: Option<BTreeMap<String, Scheduled>>,
    /// Releases already carried out (`[released]`), by crate.
    pub released: BTreeMap<String, Released>,
}

/// One `[released]` entry: a release `--apply` carried out.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Released {
    /// The slot it was planned in.
    pub week: usize,
    /// The slot's date.
    pub date: String,
    /// The version it moved to.
    pub version: String,
    /// The version it moved from.
    pub from: String,
}

/// One committed `[schedule]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scheduled {
    /// The slot number.
    pub week: usize,
    /// The slot's date.
    pub date: String,
    /// The version released.
    pub version: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    calendar: RawCalendar,
    #[serde(default)]
    requests: BTreeMap<String, Level>,
    #[serde(default)]
    public: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pins: BTreeMap<String, usize>,
    schedule: Option<BTreeMap<String, Scheduled>>,
    #[serde(default)]
    released: BTreeMap<String, Released>,
}

/// A date as written: TOML has a date type, but the calendar keeps dates as
/// strings (as `[schedule]` writes them), so an unquoted one gets a hint.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawDate {
    Text(String),
    Toml(toml::value::Datetime),
}

impl RawDate {
    fn parse(&self, what: &str) -> anyhow::Result<NaiveDate> {
        match self {
            RawDate::Text(s) => date(s, what),
            RawDate::Toml(d) => {
                bail!("{what} {d} is a bare TOML date; write it in quotes: \"{d}\"")
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    start: RawDate,
    #[serde(default = "weekly")]
    cadence: String,
    weekday: Option<String>,
    #[serde(default = "one")]
    capacity: usize,
    #[serde(default = "one")]
    lag: usize,
    #[serde(default)]
    blackout: Vec<RawDate>,
}

fn weekly() -> String {
    "weekly".into()
}
fn one() -> usize {
    1
}

fn date(s: &str, what: &str) -> anyhow::Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .with_context(|| format!("{what} `{s}` is not a YYYY-MM-DD date"))
}

impl Calendar {
    /// Reads and validates a calendar file.
    pub fn load(path: &Path) -> anyhow::Result<Calendar> {
        let src =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Calendar::parse(&src).with_context(|| format!("in {}", path.display()))
    }

    /// Parses and validates calendar text.
    pub fn parse(src: &str) -> anyhow::Result<Calendar> {
        let raw: RawFile = toml::from_str(src)?;
        let c = raw.calendar;
        let cadence_days = match c.cadence.as_str() {
            "weekly" => 7,
            "biweekly" => 14,
            other => bail!("cadence `{other}` is not supported (weekly or biweekly)"),
        };
        let mut start = c.start.parse("start")?;
        if let Some(day) = &c.weekday {
            let day: chrono::Weekday = day
                .parse()
                .map_err(|_| anyhow::anyhow!("weekday `{day}` is not a day of the week"))?;
            while start.weekday() != day {
                start = start.succ_opt().context("start date out of range")?;
            }
        }
        if c.capacity == 0 {
            bail!("capacity must be at least 1");
        }
        if let Some((name, _)) = raw.pins.iter().find(|(_, w)| **w == 0) {
            bail!("pin of `{name}`: slots are numbered from 1");
        }
        Ok(Calendar {
            start,
            cadence_days,
            capacity: c.capacity,
            lag: c.lag,
            blackout: c
                .blackout
                .iter()
                .map(|d| d.parse("blackout date"))
                .collect::<anyhow::Result<_>>()?,
            requests: raw.requests,
            public: raw.public,
            pins: raw.pins,
            schedule: raw.schedule,
            released: raw.released,
        })
    }

    /// A calendar with default settings starting on `start` and no requests.
    pub fn new(start: NaiveDate) -> Calendar {
        Calendar {
            start,
            cadence_days: 7,
            capacity: 1,
            lag: 1,
            blackout: Vec::new(),
            requests: BTreeMap::new(),
            public: BTreeMap::new(),
            pins: BTreeMap::new(),
            schedule: None,
            released: BTreeMap::new(),
        }
    }

    /// Whether `dependent` exposes `dependency` in its public API.
    pub fn is_public(&self, dependent: &str, dependency: &str) -> bool {
        self.public
            .get(dependent)
            .is_some_and(|deps| deps.iter().any(|d| d == dependency))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_defaults() {
        let c = Calendar::parse("[calendar]\nstart = \"2026-12-07\"\n[requests]\na = \"minor\"\n")
            .unwrap();
        assert_eq!((c.cadence_days, c.capacity, c.lag), (7, 1, 1));
        assert_eq!(c.requests["a"], Level::Minor);
    }

    #[test]
    fn rejects_bad_input_clearly() {
        let err = |s: &str| format!("{:#}", Calendar::parse(s).unwrap_err());
        assert!(
            err("[calendar]\nstart = \"07/12/2026\"\n")
                .contains("start `07/12/2026` is not a YYYY-MM-DD date")
        );
        assert!(
            err("[calendar]\nstart = \"2026-12-07\"\ncadence = \"daily\"\n")
                .contains("cadence `daily`")
        );
        assert!(
            err("[calendar]\nstart = \"2026-12-07\"\n[requests]\na = \"huge\"\n")
                .contains("unknown variant `huge`")
        );
        assert!(
            err("[calendar]\nstart = \"2026-12-07\"\ncapacity = 0\n")
                .contains("capacity must be at least 1")
        );
        assert!(
            err("[calendar]\nstart = \"2026-12-07\"\nstrat = 1\n")
                .contains("unknown field `strat`")
        );
    }

    #[test]
    fn a_bare_toml_date_gets_a_hint_to_quote_it() {
        let err = |s: &str| format!("{:#}", Calendar::parse(s).unwrap_err());
        assert_eq!(
            err("[calendar]\nstart = 2026-12-07\n"),
            "start 2026-12-07 is a bare TOML date; write it in quotes: \"2026-12-07\""
        );
        assert!(
            err("[calendar]\nstart = \"2026-12-07\"\nblackout = [2026-12-28]\n")
                .contains("blackout date 2026-12-28 is a bare TOML date; write it in quotes")
        );
    }

    #[test]
    fn weekday_moves_the_start_forward() {
        // 2026-12-07 is a Monday; the first Thursday on or after it is 2026-12-10.
        let c = Calendar::parse("[calendar]\nstart = \"2026-12-07\"\nweekday = \"thursday\"\n")
            .unwrap();
        assert_eq!(c.start.to_string(), "2026-12-10");
        let same =
            Calendar::parse("[calendar]\nstart = \"2026-12-07\"\nweekday = \"Mon\"\n").unwrap();
        assert_eq!(same.start.to_string(), "2026-12-07");
        let bad = Calendar::parse("[calendar]\nstart = \"2026-12-07\"\nweekday = \"funday\"\n")
            .unwrap_err();
        assert!(
            bad.to_string()
                .contains("weekday `funday` is not a day of the week")
        );
    }
}
