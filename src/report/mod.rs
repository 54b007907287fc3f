//! Results -> human lines on stdout, or one JSON document with `--json`. The only place that
//! prints results; diagnostics go to stderr through `tracing`.
//!
//! Each command's result is a plain data type here, with `Serialize` (its JSON shape,
//! documented in docs/JSON.md) and `Display` (its text). Commands build them; this module
//! depends on nothing above it.

mod explain;
mod import;
mod lint;
mod migrate;
mod schema;
mod seed;
mod status;

use std::fmt;
use std::io::Write;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

pub(crate) use explain::{Explain, ExplainRun, Target, Took};
pub(crate) use import::{ImportOut, ImportedOut, MappingOut, PairOut};
pub(crate) use lint::LintOut;
pub(crate) use migrate::{
    BaselineOut, DoneOut, DryRun, DryStatement, DryStep, RepairItem, Repaired, Resolved, RunOut,
};
pub(crate) use schema::{DriftOut, SchemaOut};
pub(crate) use seed::{SeedRunLine, SeedRunOut, SeedStatusLine, SeedStatusOut};
pub(crate) use status::{HolderOut, LockOut, MigrationsOut, StatusOut, ValidateOut};

use crate::output::Terminal;

/// Where results go, and how.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    pub(crate) term: Terminal,
    pub(crate) json: bool,
    /// With `--json`, what a command did before it failed: it goes into the error's document,
    /// so stdout always holds exactly one.
    partial: std::rc::Rc<std::cell::RefCell<Option<serde_json::Value>>>,
    /// The library's mode ([`crate::Migrator`]): results are kept as their JSON documents
    /// instead of printed.
    capture: Option<Captured>,
}

/// Where a captured result goes.
pub(crate) type Captured = std::rc::Rc<std::cell::RefCell<Option<serde_json::Value>>>;

impl Report {
    pub(crate) fn new(term: Terminal, json: bool) -> Self {
        Report {
            term,
            json,
            partial: Default::default(),
            capture: None,
        }
    }

    /// A report that prints nothing and keeps each result's JSON document (for the library).
    pub(crate) fn captured(term: Terminal) -> (Self, Captured) {
        let slot = Captured::default();
        let report = Report {
            term,
            json: true,
            partial: Default::default(),
            capture: Some(slot.clone()),
        };
        (report, slot)
    }

    /// What a command did before it failed (the library's mode keeps it with the error).
    pub(crate) fn take_partial(&self) -> Option<serde_json::Value> {
        self.partial.borrow_mut().take()
    }

    /// Reports what a command did before it failed: as text now, or (with `--json`) inside
    /// the error's document.
    pub(crate) fn partial<T: Serialize + fmt::Display>(&self, result: &T) {
        if self.json {
            *self.partial.borrow_mut() = serde_json::to_value(result).ok();
        } else {
            self.text(&result.to_string());
        }
    }

    /// The error's document (`--json`), with the partial result when there is one.
    pub(crate) fn error_json(&self, message: String, exit_code: u8) {
        self.json(&ErrorOut {
            error: ErrorBody { message, exit_code },
            partial: self.partial.borrow_mut().take(),
        });
    }

    /// Prints a result: its JSON document with `--json`, else its text.
    pub(crate) fn print<T: Serialize + fmt::Display>(&self, result: &T) {
        if let Some(slot) = &self.capture {
            *slot.borrow_mut() = serde_json::to_value(result).ok();
            return;
        }
        if self.json {
            self.json(result);
        } else {
            self.text(&result.to_string());
        }
    }

    /// Prints one JSON document (keys in alphabetical order, as documented).
    pub(crate) fn json<T: Serialize + ?Sized>(&self, value: &T) {
        let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
        let mut out = std::io::stdout().lock();
        // A closed stdout (`| head`) is not an error worth a panic.
        let _ = serde_json::to_writer_pretty(&mut out, &value);
        let _ = writeln!(out);
    }

    /// Prints one JSON value on one line (a fleet run's JSON lines).
    pub(crate) fn json_line(&self, value: &serde_json::Value) {
        let mut out = std::io::stdout().lock();
        let _ = serde_json::to_writer(&mut out, value);
        let _ = writeln!(out);
    }

    /// Prints a line of text on stdout.
    pub(crate) fn line(&self, text: &str) {
        self.text(text);
    }

    /// Prints human text (already laid out) on stdout.
    fn text(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        if !text.is_empty() && !text.ends_with('\n') {
            let _ = writeln!(out);
        }
    }

    /// A progress bar on stderr, drawn only on a terminal (never in CI, with -q or when piped).
    pub(crate) fn progress_bar(&self, len: u64, what: &str) -> ProgressBar {
        if !self.term.progress || len < 2 {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(len), crate::output::stderr_target());
        bar.set_style(
            ProgressStyle::with_template(&format!("{{wide_bar}} {{pos}}/{{len}} {what}"))
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    }

    /// A byte-progress bar for a long seed (terminal only, and only for files worth it).
    pub(crate) fn byte_bar(&self, len: u64, what: &str) -> ProgressBar {
        if !self.term.progress || len < 4 << 20 {
            return ProgressBar::hidden();
        }
        // The bar takes what the terminal's width leaves (a line never wraps, at 60 columns
        // too); the name is cut to 20 characters.
        let bar = ProgressBar::with_draw_target(Some(len), crate::output::stderr_target());
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:20!} {wide_bar} {binary_bytes:>9}/{binary_total_bytes:9} ETA {eta:>3}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(what.to_owned());
        bar
    }
}

/// Milliseconds, as reports show durations.
pub(crate) fn ms(d: std::time::Duration) -> u64 {
    d.as_millis() as u64
}

/// `n thing` / `n things`.
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Files written by init / migrate:make / seed:make.
#[derive(Debug, Serialize)]
pub(crate) struct Created {
    pub(crate) created: Vec<String>,
}

impl fmt::Display for Created {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.created {
            writeln!(f, "Created {p}")?;
        }
        Ok(())
    }
}

/// db:create / db:drop.
#[derive(Debug)]
pub(crate) struct DatabaseOut {
    pub(crate) name: String,
    pub(crate) created: bool,
    /// What was done: created (else dropped).
    pub(crate) create: bool,
}

impl Serialize for DatabaseOut {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = serde_json::Map::new();
        m.insert("database".into(), self.name.clone().into());
        let verb = if self.create { "created" } else { "dropped" };
        m.insert(verb.into(), self.created.into());
        m.serialize(s)
    }
}

impl fmt::Display for DatabaseOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.name;
        match (self.create, self.created) {
            (true, true) => write!(f, "Created database `{name}`."),
            (false, true) => write!(f, "Dropped database `{name}`."),
            (true, false) => write!(f, "Database `{name}` already exists."),
            (false, false) => write!(f, "Database `{name}` does not exist."),
        }
    }
}

/// migrate:currentVersion.
#[derive(Debug, Serialize)]
pub(crate) struct CurrentVersion {
    pub(crate) current_version: Option<String>,
}

impl fmt::Display for CurrentVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.current_version.as_deref().unwrap_or("none"))
    }
}

/// db:wait.
#[derive(Debug, Serialize)]
pub(crate) struct WaitOut {
    pub(crate) ready: bool,
    pub(crate) url: String,
    pub(crate) waited_ms: u64,
}

impl fmt::Display for WaitOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} answered after {:.1} s.",
            self.url,
            self.waited_ms as f64 / 1000.0
        )
    }
}

/// An error, as the one JSON document `--json` prints for it.
#[derive(Debug, Serialize)]
pub(crate) struct ErrorOut {
    pub(crate) error: ErrorBody,
    /// What the command did before it failed (a migrate or seed run's document).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) partial: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ErrorBody {
    pub(crate) message: String,
    pub(crate) exit_code: u8,
}
