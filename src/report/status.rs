//! The results of the read-only migrate commands: status, validate, unlock.

use std::collections::BTreeMap;
use std::fmt;

use comfy_table::{ContentArrangement, Table};
use serde::Serialize;

use crate::files::Direction;
use crate::output::{GREEN, RED, YELLOW, paint};
use crate::plan::{Entry, STATE_NAMES, Status};

/// Who holds the migration lock.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct HolderOut {
    pub(crate) connection_id: u64,
    pub(crate) user: Option<String>,
    pub(crate) host: Option<String>,
    pub(crate) seconds: Option<u64>,
    pub(crate) state: Option<String>,
}

impl fmt::Display for HolderOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::db::lock::describe_holder(
            f,
            self.connection_id,
            &self.user,
            &self.host,
            (self.seconds, &self.state),
        )
    }
}

/// One migration in status and validate.
#[derive(Debug, Serialize)]
pub(crate) struct EntryOut {
    pub(crate) version: String,
    pub(crate) name: String,
    pub(crate) state: &'static str,
    pub(crate) batch: Option<u32>,
    pub(crate) applied_at: Option<String>,
    pub(crate) checksum: Option<String>,
    pub(crate) file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) file_checksum: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) direction: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) statements_done: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) statements_total: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<Option<String>>,
    /// The STATE column's text.
    #[serde(skip)]
    pub(crate) state_text: String,
    #[serde(skip)]
    good: Option<bool>,
}

impl From<&Entry<'_>> for EntryOut {
    fn from(e: &Entry<'_>) -> Self {
        let row = e.row();
        let file = e.file();
        let mut out = EntryOut {
            version: e.version().to_string(),
            name: e.name().to_owned(),
            state: e.status.name(),
            batch: row.map(|r| r.batch),
            applied_at: row.map(|r| r.applied_at.clone()),
            checksum: row
                .map(|r| r.checksum.to_string())
                .or_else(|| file.map(|f| f.checksum.to_string())),
            file: file.map(|f| f.up.display.clone()),
            file_checksum: None,
            direction: None,
            statements_done: None,
            statements_total: None,
            error: None,
            state_text: e.status.name().to_owned(),
            good: match e.status {
                Status::Applied(..) => Some(true),
                Status::Pending(_) | Status::OutOfOrder(_) => None,
                _ => Some(false),
            },
        };
        match e.status {
            Status::Modified(f, r) => {
                out.file_checksum = Some(f.checksum.to_string());
                out.state_text = format!(
                    "modified (ledger {} ≠ file {})",
                    r.checksum.short(),
                    f.checksum.short()
                );
            }
            Status::Failed(_, r) | Status::Running(_, r) => {
                out.direction = Some(r.direction.as_str());
                out.statements_done = Some(r.statements_done);
                out.statements_total = Some(r.statements_total);
                out.error = Some(r.error.clone());
                let (done, total) = (r.statements_done, r.statements_total);
                // Every statement ran, the end is not written yet: a run stopped between the
                // two (the next one records it without running anything).
                let all = if done == total && r.error.is_none() {
                    ", all done"
                } else if crate::runner::marked(r) {
                    // A checked run's row: its statement may have run, and the schema says.
                    ", in a checked run: the next migrate command records it from the schema"
                } else {
                    ""
                };
                out.state_text = match r.direction {
                    Direction::Up => {
                        format!("{} ({done}/{total} statements{all})", e.status.name())
                    }
                    Direction::Down => {
                        format!(
                            "{} rollback ({done}/{total} down statements{all})",
                            e.status.name()
                        )
                    }
                };
            }
            _ => {}
        }
        out
    }
}

/// How many migrations are in each state (every state named, in the documented order).
pub(crate) fn counts(entries: &[Entry<'_>]) -> BTreeMap<&'static str, usize> {
    let mut counts: BTreeMap<&'static str, usize> = STATE_NAMES.iter().map(|k| (*k, 0)).collect();
    for e in entries {
        *counts.entry(e.status.name()).or_default() += 1;
    }
    counts
}

/// The migrations of status and validate.
#[derive(Debug, Serialize)]
pub(crate) struct MigrationsOut {
    pub(crate) migrations: Vec<EntryOut>,
    pub(crate) counts: BTreeMap<&'static str, usize>,
}

impl MigrationsOut {
    pub(crate) fn new(entries: &[Entry<'_>]) -> Self {
        MigrationsOut {
            migrations: entries.iter().map(EntryOut::from).collect(),
            counts: counts(entries),
        }
    }
}

/// migrate:status.
#[derive(Debug, Serialize)]
pub(crate) struct StatusOut {
    pub(crate) environment: String,
    pub(crate) database: Option<String>,
    pub(crate) url: Option<String>,
    #[serde(flatten)]
    pub(crate) migrations: MigrationsOut,
    pub(crate) lock: Option<HolderOut>,
    /// `--drift`: the live schema against the last run's snapshot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) drift: Option<super::DriftOut>,
    #[serde(skip)]
    pub(crate) color: bool,
}

impl fmt::Display for StatusOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} · {}",
            self.environment,
            self.url.as_deref().unwrap_or_default()
        )?;
        let entries = &self.migrations.migrations;
        if entries.is_empty() {
            writeln!(f, "No migrations.")?;
        } else {
            let mut table = Table::new();
            table.load_style(comfy_table::presets::NOTHING);
            table.set_content_arrangement(ContentArrangement::Disabled);
            table.set_header(["VERSION", "NAME", "BATCH", "APPLIED (UTC)", "STATE"]);
            for e in entries {
                let batch = e.batch.map_or("-".to_owned(), |b| b.to_string());
                let at = e.applied_at.as_deref().map_or("-".to_owned(), |a| {
                    a.replace('T', " ").chars().take(19).collect()
                });
                let style = match e.good {
                    Some(true) => GREEN,
                    None => YELLOW,
                    Some(false) => RED,
                };
                table.add_row([
                    e.version.clone(),
                    e.name.clone(),
                    batch,
                    at,
                    paint(self.color, style, &e.state_text),
                ]);
            }
            for line in table.lines() {
                writeln!(f, "{}", line.trim_end())?;
            }
        }
        let mut summary: Vec<String> = STATE_NAMES
            .iter()
            .filter_map(|k| {
                let n = self.migrations.counts.get(k).copied().unwrap_or(0);
                (n > 0).then(|| format!("{n} {k}"))
            })
            .collect();
        if summary.is_empty() {
            summary.push("0 migrations".into());
        }
        summary.push(match &self.lock {
            None => "lock free".into(),
            Some(h) => format!("lock held by {h}"),
        });
        write!(f, "{}", summary.join(" · "))?;
        match &self.drift {
            Some(d) => write!(f, "\n{}", d.line()),
            None => Ok(()),
        }
    }
}

/// migrate:validate.
#[derive(Debug, Serialize)]
pub(crate) struct ValidateOut {
    pub(crate) valid: bool,
    /// What is wrong, when it is not valid (the same text as on stderr).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) problem: Option<String>,
    #[serde(flatten)]
    pub(crate) migrations: MigrationsOut,
}

impl fmt::Display for ValidateOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.valid {
            return Ok(());
        }
        let entries = &self.migrations.migrations;
        let files = entries.iter().filter(|e| e.file.is_some()).count();
        let applied = entries.iter().filter(|e| e.state == "applied").count();
        let (files, applied) = (
            super::plural(files, "file", "files"),
            super::plural(
                applied,
                "applied migration matches its file",
                "applied migrations match their files",
            ),
        );
        write!(f, "Valid: {files}, {applied}.")
    }
}

/// migrate:unlock.
#[derive(Debug, Serialize)]
pub(crate) struct LockOut {
    pub(crate) lock: String,
    pub(crate) holder: Option<HolderOut>,
}

impl fmt::Display for LockOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.lock;
        match &self.holder {
            None => write!(
                f,
                "The migration lock `{name}` is free. (It is a server-side lock: the server \
                 frees it when its connection ends, so it never goes stale.)"
            ),
            Some(h) => write!(
                f,
                "The migration lock `{name}` is held by {h}{}.\n\
                 It is freed when that connection ends; if the process is stuck, end it with \
                 `KILL {}` on the server.",
                h.state
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .map(|s| format!(", state: {s}"))
                    .unwrap_or_default(),
                h.connection_id
            ),
        }
    }
}
