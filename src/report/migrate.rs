//! The results of the migrate:* commands that change the database.

use std::fmt;

use serde::Serialize;

use super::plural;
use super::{Explain, ExplainRun};
use crate::files::Direction;

/// What a migrate run did (latest, up, rollback, down).
#[derive(Debug)]
pub(crate) struct RunOut {
    pub(crate) direction: Direction,
    pub(crate) batch: u32,
    /// The newest applied migration before and after the run.
    pub(crate) from_version: Option<String>,
    pub(crate) to_version: Option<String>,
    pub(crate) done: Vec<DoneOut>,
}

/// One migration applied or undone.
#[derive(Debug, Serialize)]
pub(crate) struct DoneOut {
    pub(crate) version: String,
    pub(crate) name: String,
    pub(crate) statements: u32,
    pub(crate) resumed_at_statement: Option<u32>,
    pub(crate) duration_ms: u64,
}

impl DoneOut {
    fn id(&self) -> String {
        format!("{}_{}", self.version, self.name)
    }
}

impl Serialize for RunOut {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = serde_json::Map::new();
        let key = match self.direction {
            Direction::Up => "applied",
            Direction::Down => "rolled_back",
        };
        m.insert(
            key.into(),
            serde_json::to_value(&self.done).map_err(serde::ser::Error::custom)?,
        );
        if self.direction == Direction::Up && !self.done.is_empty() {
            m.insert("batch".into(), self.batch.into());
        }
        m.insert("from_version".into(), self.from_version.clone().into());
        m.insert("to_version".into(), self.to_version.clone().into());
        m.serialize(s)
    }
}

impl fmt::Display for RunOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.done.is_empty() {
            return f.write_str(match self.direction {
                Direction::Up => "Already up to date: no pending migrations.",
                Direction::Down => "Nothing to roll back.",
            });
        }
        let n = plural(self.done.len(), "migration", "migrations");
        match self.direction {
            Direction::Up => writeln!(f, "Applied {n} (batch {}):", self.batch)?,
            Direction::Down => writeln!(f, "Rolled back {n}:")?,
        }
        let width = self.done.iter().map(|d| d.id().len()).max().unwrap_or(0);
        for d in &self.done {
            let resumed = d
                .resumed_at_statement
                .map(|k| format!(", resumed at statement {k}"))
                .unwrap_or_default();
            writeln!(f, "  {:width$}  {} ms{resumed}", d.id(), d.duration_ms)?;
        }
        Ok(())
    }
}

/// `--dry-run`: the plan and every statement that would run.
#[derive(Debug)]
pub(crate) struct DryRun {
    pub(crate) direction: Direction,
    pub(crate) batch: u32,
    pub(crate) steps: Vec<DryStep>,
    /// With `--explain`: how the verdicts were found.
    pub(crate) explain: Option<ExplainRun>,
}

#[derive(Debug, Serialize)]
pub(crate) struct DryStep {
    pub(crate) version: String,
    pub(crate) name: String,
    pub(crate) direction: &'static str,
    pub(crate) file: String,
    pub(crate) atomic: bool,
    pub(crate) start_at_statement: u32,
    pub(crate) statements: Vec<DryStatement>,
    /// One line saying what the step does and how.
    #[serde(skip)]
    pub(crate) describe: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct DryStatement {
    pub(crate) number: u32,
    pub(crate) line: u64,
    pub(crate) sql: String,
    /// It ended at a `DELIMITER` other than `;` (so a script needs the DELIMITER lines).
    #[serde(skip)]
    pub(crate) delimited: bool,
    /// With `--explain`, for an ALTER TABLE, CREATE INDEX or DROP INDEX: the server's verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) explain: Option<Explain>,
}

impl Serialize for DryRun {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = serde_json::Map::new();
        m.insert("dry_run".into(), true.into());
        m.insert(
            "steps".into(),
            serde_json::to_value(&self.steps).map_err(serde::ser::Error::custom)?,
        );
        if self.direction == Direction::Up {
            m.insert("batch".into(), self.batch.into());
        }
        if let Some(e) = &self.explain {
            m.insert(
                "explain".into(),
                serde_json::to_value(e).map_err(serde::ser::Error::custom)?,
            );
        }
        m.serialize(s)
    }
}

/// The text is an SQL script the `mysql` client can run: every line that is not a statement
/// is a comment, and a statement that holds a `;` (a trigger, a procedure) goes between
/// `DELIMITER` lines.
impl fmt::Display for DryRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.steps.is_empty() {
            return f.write_str(match self.direction {
                Direction::Up => "-- Dry run: no pending migrations.",
                Direction::Down => "-- Dry run: nothing to roll back.",
            });
        }
        writeln!(f, "-- Dry run: nothing will be changed.")?;
        if self.direction == Direction::Up {
            writeln!(f, "-- Batch {} would run:", self.batch)?;
        }
        if let Some(e) = &self.explain {
            writeln!(
                f,
                "-- Explain: verdicts of the server ({}) on empty copies of {} in the scratch \
                 schema `{}`, dropped again;\n-- sizes and rows are information_schema's \
                 estimates.",
                e.server,
                plural(e.tables_copied, "table", "tables"),
                e.scratch_schema
            )?;
        }
        for step in &self.steps {
            write!(f, "\n-- {}\n", step.describe)?;
            for s in &step.statements {
                writeln!(f, "-- {}:{} statement {}", step.file, s.line, s.number)?;
                if let Some(e) = &s.explain {
                    // A server's message could hold a line break: the script stays a script.
                    writeln!(f, "-- explain: {}", e.consequence.replace('\n', " "))?;
                    if let Some(note) = &e.note {
                        writeln!(f, "-- explain: note: {}", note.replace('\n', " "))?;
                    }
                }
                if s.delimited {
                    let d = delimiter_for(&s.sql);
                    writeln!(f, "DELIMITER {d}\n{}{d}\nDELIMITER ;", s.sql)?;
                } else {
                    writeln!(f, "{};", s.sql)?;
                }
            }
        }
        Ok(())
    }
}

/// A delimiter that does not occur in `sql`.
fn delimiter_for(sql: &str) -> String {
    ["$$", "//", ";;", "$$$"]
        .iter()
        .find(|d| !sql.contains(*d))
        .map_or_else(
            || {
                let mut d = String::from("$$");
                while sql.contains(&d) {
                    d.push('$');
                }
                d
            },
            |d| (*d).to_owned(),
        )
}

/// migrate:repair.
#[derive(Debug, Serialize)]
pub(crate) struct Repaired {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) dry_run: bool,
    pub(crate) repaired: Vec<RepairItem>,
}

#[derive(Debug, Serialize)]
pub(crate) struct RepairItem {
    pub(crate) migration: String,
    pub(crate) change: String,
}

impl fmt::Display for Repaired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.repaired.is_empty() {
            return f.write_str("Nothing to repair: every applied migration matches its file.");
        }
        let rows = plural(self.repaired.len(), "ledger row", "ledger rows");
        if self.dry_run {
            writeln!(f, "Dry run: would repair {rows} (nothing was changed):")?;
        } else {
            writeln!(f, "Repaired {rows}:")?;
        }
        for r in &self.repaired {
            writeln!(f, "  {}  {}", r.migration, r.change)?;
        }
        Ok(())
    }
}

/// migrate:resolve.
#[derive(Debug, Serialize)]
pub(crate) struct Resolved {
    pub(crate) resolved: String,
    #[serde(rename = "as")]
    pub(crate) settled_as: &'static str,
    pub(crate) note: String,
}

impl fmt::Display for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Resolved {}: {}.", self.resolved, self.note)
    }
}

/// migrate:baseline: the migrations recorded applied without running.
#[derive(Debug, Serialize)]
pub(crate) struct BaselineOut {
    pub(crate) dry_run: bool,
    pub(crate) to: String,
    pub(crate) batch: u32,
    pub(crate) baselined: Vec<String>,
    /// Migrations up to the version that the ledger already had as applied.
    pub(crate) already_applied: usize,
    /// The live schema was checked for what they create (--check).
    pub(crate) checked: bool,
}

impl fmt::Display for BaselineOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = plural(self.baselined.len(), "migration", "migrations");
        if self.baselined.is_empty() {
            writeln!(
                f,
                "Nothing to baseline: every migration up to {} is already recorded.",
                self.to
            )?;
            return Ok(());
        }
        let checked = if self.checked {
            "; every object they create is in the database"
        } else {
            ""
        };
        if self.dry_run {
            writeln!(
                f,
                "Dry run: would record {n} up to {} as applied without running them (batch \
                 {}){checked}:",
                self.to, self.batch
            )?;
        } else {
            writeln!(
                f,
                "Baselined {n} up to {} (batch {}): recorded applied, nothing was run{checked}:",
                self.to, self.batch
            )?;
        }
        for id in &self.baselined {
            writeln!(f, "  {id}")?;
        }
        if self.already_applied > 0 {
            writeln!(
                f,
                "{} already recorded before.",
                plural(self.already_applied, "migration was", "migrations were")
            )?;
        }
        Ok(())
    }
}
