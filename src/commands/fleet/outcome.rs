//! What one target's run did, read from its child's JSON document: the fleet's line per
//! target, its final matrix, and `migrate:status`'s version histogram.

use std::time::Duration;

use serde_json::{Map, Value};

use super::Job;
use crate::files::Version;

/// How a target's child process ended.
#[derive(Debug)]
pub(crate) struct Finished {
    /// Its exit code (128 + the signal when a signal ended it).
    pub(crate) code: u8,
    /// Its stdout, one JSON document (None: it printed none).
    pub(crate) doc: Option<Value>,
    /// Its stderr (warnings, and the error's message).
    pub(crate) stderr: String,
    pub(crate) elapsed: Duration,
}

/// One row of the matrix.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) target: String,
    pub(crate) result: &'static str,
    pub(crate) code: Option<u8>,
    /// The newest applied migration before and after (status: the current one, twice).
    pub(crate) before: Option<String>,
    pub(crate) after: Option<String>,
    /// Migrations applied or rolled back, seeds run, drift changes, or pending migrations.
    pub(crate) count: Option<usize>,
    /// Status only: migrations stopped part-way.
    pub(crate) failed: Option<usize>,
    pub(crate) ms: Option<u64>,
    pub(crate) error: Option<String>,
}

impl Row {
    /// A target the run never started (it stopped first).
    pub(crate) fn not_run(target: &str) -> Row {
        Row {
            target: target.to_owned(),
            result: "not run",
            code: None,
            before: None,
            after: None,
            count: None,
            failed: None,
            ms: None,
            error: None,
        }
    }

    /// The row of a target whose child finished.
    pub(crate) fn of(job: Job, target: &str, f: &Finished) -> Row {
        let doc = f.doc.as_ref();
        let error = doc
            .and_then(|d| d.pointer("/error/message"))
            .and_then(Value::as_str);
        // What it did before it failed counts too.
        let body = match doc {
            Some(d) if d.get("error").is_some() => d.get("partial"),
            d => d,
        };
        let mut row = Row::not_run(target);
        row.code = Some(f.code);
        row.ms = Some(f.elapsed.as_millis() as u64);
        row.result = result(job, f.code);
        row.error = match (error, f.code) {
            (Some(m), _) => Some(m.to_owned()),
            (None, 0) => None,
            (None, code) => Some(last_line(&f.stderr, code)),
        };
        if let Some(b) = body.and_then(Value::as_object) {
            fill(job, &mut row, b);
        }
        row
    }

    /// Whether the target counts as failed (a finding such as drift or pending migrations
    /// with `--exit-code` included: the fleet's exit code is not 0).
    pub(crate) fn failed(&self) -> bool {
        self.code != Some(0)
    }

    /// Status: behind, stopped part-way, or not read.
    pub(crate) fn needs_a_look(&self) -> bool {
        self.failed()
            || self.error.is_some()
            || self.count.unwrap_or(0) > 0
            || self.failed.unwrap_or(0) > 0
    }

    /// The line printed as the target finishes.
    pub(crate) fn line(&self, job: Job, width: usize) -> String {
        let mut parts = vec![format!("{:<11}  {:width$}", self.result, self.target)];
        if let Some(v) = self.versions(job) {
            parts.push(v);
        }
        if let Some(n) = self.count {
            parts.push(format!("{n} {}", job.counted()));
        }
        if let Some(n) = self.failed.filter(|n| *n > 0) {
            parts.push(format!("{n} failed"));
        }
        if let Some(ms) = self.ms {
            parts.push(format!("{:.2} s", ms as f64 / 1000.0));
        }
        if let Some(e) = &self.error {
            parts.push(e.lines().next().unwrap_or_default().to_owned());
        }
        parts.join("  ")
    }

    pub(crate) fn versions(&self, job: Job) -> Option<String> {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        match job {
            Job::Latest | Job::Rollback if self.code.is_some() => {
                Some(format!("{} → {}", show(&self.before), show(&self.after)))
            }
            Job::Status if self.code.is_some() => Some(show(&self.after)),
            _ => None,
        }
    }

    /// The row as a JSON object (one line per target while the run goes on).
    pub(crate) fn json(&self, job: Job) -> Value {
        let mut m = Map::new();
        m.insert("target".into(), self.target.clone().into());
        m.insert("result".into(), self.result.into());
        m.insert("exit_code".into(), self.code.into());
        m.insert("duration_ms".into(), self.ms.into());
        m.insert("error".into(), self.error.clone().into());
        match job {
            Job::Latest | Job::Rollback => {
                m.insert("from_version".into(), self.before.clone().into());
                m.insert("to_version".into(), self.after.clone().into());
            }
            Job::Status => {
                m.insert("current_version".into(), self.after.clone().into());
                m.insert("failed".into(), self.failed.into());
            }
            Job::Seed | Job::Drift => {}
        }
        m.insert(job.counted().replace(' ', "_"), self.count.into());
        Value::Object(m)
    }
}

fn result(job: Job, code: u8) -> &'static str {
    match (job, code) {
        (_, 0) => "ok",
        (_, 130 | 143) => "interrupted",
        (Job::Drift, 3) => "drift",
        (Job::Status, 5) => "behind",
        _ => "failed",
    }
}

/// The last line of a child's stderr, when it printed no JSON error.
fn last_line(stderr: &str, code: u8) -> String {
    match stderr.lines().rev().find(|l| !l.trim().is_empty()) {
        Some(l) => l.trim().to_owned(),
        None => format!("exited with code {code}"),
    }
}

/// The job's figures from its document (or the part it did before it failed).
fn fill(job: Job, row: &mut Row, b: &Map<String, Value>) {
    let text = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_owned);
    let len = |k: &str| b.get(k).and_then(Value::as_array).map(Vec::len);
    match job {
        Job::Latest => {
            (row.before, row.after, row.count) =
                (text("from_version"), text("to_version"), len("applied"))
        }
        Job::Rollback => {
            (row.before, row.after, row.count) =
                (text("from_version"), text("to_version"), len("rolled_back"))
        }
        Job::Seed => {
            row.count = b.get("seeds").and_then(Value::as_array).map(|s| {
                s.iter()
                    .filter(|s| s.get("ran").and_then(Value::as_bool) == Some(true))
                    .count()
            });
        }
        Job::Drift => row.count = len("changes"),
        Job::Status => {
            let count = |k: &str| {
                b.get("counts")
                    .and_then(|c| c.get(k))
                    .and_then(Value::as_u64)
            };
            row.count =
                Some((count("pending").unwrap_or(0) + count("out-of-order").unwrap_or(0)) as usize);
            row.failed = count("failed").map(|n| n as usize);
            row.after = current(b);
            row.before = row.after.clone();
            if row.result == "ok" {
                // What the target needs, though reading it succeeded.
                if row.failed.unwrap_or(0) > 0 {
                    row.result = "failed";
                } else if row.count.unwrap_or(0) > 0 {
                    row.result = "behind";
                }
            }
        }
    }
}

/// The newest migration a status document shows as applied (changed since, or not).
fn current(b: &Map<String, Value>) -> Option<String> {
    b.get("migrations")?
        .as_array()?
        .iter()
        .filter(|m| {
            matches!(
                m.get("state").and_then(Value::as_str),
                Some("applied" | "modified")
            )
        })
        .filter_map(|m| m.get("version")?.as_str()?.parse::<Version>().ok())
        .max()
        .map(|v| v.as_str().to_owned())
}

/// `migrate:status --all-targets`: how many targets stand at each version, newest first, and
/// how many are behind or failed: "412 at 20261201093000, 3 behind, 1 failed".
pub(crate) fn histogram(rows: &[Row]) -> String {
    let mut at: std::collections::BTreeMap<Option<Version>, Vec<&Row>> = Default::default();
    for r in rows
        .iter()
        .filter(|r| r.code.is_some() && r.error.is_none())
    {
        at.entry(r.after.as_deref().and_then(|v| v.parse().ok()))
            .or_default()
            .push(r);
    }
    let behind = rows
        .iter()
        .filter(|r| r.count.is_some_and(|n| n > 0))
        .count();
    let failed = rows
        .iter()
        .filter(|r| r.failed.is_some_and(|n| n > 0))
        .count();
    let unreachable = rows.iter().filter(|r| r.error.is_some()).count();
    let mut head: Vec<String> = at
        .iter()
        .rev()
        .map(|(v, rs)| {
            let v = v.as_ref().map_or("no migration applied".to_owned(), |v| {
                format!("at {}", v.as_str())
            });
            format!("{} {v}", rs.len())
        })
        .collect();
    head.push(format!("{behind} behind"));
    head.push(format!("{failed} failed"));
    if unreachable > 0 {
        head.push(format!("{unreachable} not read"));
    }
    head.join(", ")
}
