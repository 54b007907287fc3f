//! Planning, as pure functions: (status entries, request, options) -> a plan, or the reason
//! there is none (drift, a blocked migration, a usage problem). No I/O: what planning needs
//! from the files beyond their checksums – the checksum of a failed migration's done
//! statements – the caller computes beforehand ([`Options::prefixes`]).
//!
//! `status` joins files and rows into states (SPEC §8); `apply` plans `migrate:latest` and
//! `migrate:up`, `revert` plans `migrate:rollback` and `migrate:down`; `seeds` decides which
//! seeds run.

mod apply;
mod revert;
pub(crate) mod seeds;
pub(crate) mod status;

use std::collections::HashMap;
use std::fmt;

pub(crate) use status::{Drift, DriftItem, Entry, STATE_NAMES, Status, drift, entries};

use crate::files::{Checksum, Direction, MigrationFile, SqlFile, Version};
use crate::rows::{LedgerError, MigrationRow, RowState, next_batch};

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Request {
    /// `migrate:latest [--to V]`
    Latest { to: Option<Version> },
    /// `migrate:up [V]`
    Up { target: Option<Version> },
    /// migrate:rollback
    Rollback(Scope),
    /// `migrate:down [V]`
    Down { target: Option<Version> },
}

impl Request {
    /// Which way the request runs migrations.
    pub(crate) fn direction(&self) -> Direction {
        match self {
            Request::Latest { .. } | Request::Up { .. } => Direction::Up,
            Request::Rollback(_) | Request::Down { .. } => Direction::Down,
        }
    }

    /// The command's name, for messages.
    pub(crate) fn command(&self) -> &'static str {
        match self {
            Request::Latest { .. } => "migrate:latest",
            Request::Up { .. } => "migrate:up",
            Request::Rollback(_) => "migrate:rollback",
            Request::Down { .. } => "migrate:down",
        }
    }
}

/// What a rollback undoes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    LastBatch,
    All,
    Step(u32),
    To(Version),
}

/// Where a step starts in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resume {
    /// Statements already applied; the run starts at statement `done + 1`.
    pub(crate) done: u32,
    /// The run before was killed (no error text): statement `done + 1` may have completed.
    pub(crate) interrupted: bool,
}

/// One migration to apply or undo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    pub(crate) direction: Direction,
    pub(crate) migration: MigrationFile,
    /// The file that runs: the up file, or the down file (the planner checked it exists).
    pub(crate) file: SqlFile,
    /// Its ledger row: the row being undone, or the failed row being resumed.
    pub(crate) row: Option<MigrationRow>,
    pub(crate) resume: Option<Resume>,
}

impl Step {
    /// `<version>_<name>`.
    pub(crate) fn id(&self) -> String {
        self.migration.id()
    }

    /// The ledger key of its row: the canonical version.
    pub(crate) fn key(&self) -> &str {
        self.migration.version.canonical()
    }

    /// Statements already done in this direction.
    pub(crate) fn start(&self) -> u32 {
        self.resume.map_or(0, |r| r.done)
    }
}

/// The steps of one command, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) direction: Direction,
    pub(crate) steps: Vec<Step>,
    /// The batch number new applications get.
    pub(crate) batch: u32,
    /// Things to say before running (out-of-order migrations, changed files being rolled back).
    pub(crate) warnings: Vec<String>,
}

/// What planning needs besides the entries.
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    /// Pending migrations older than the newest applied one may run (with a warning).
    pub(crate) out_of_order: bool,
    /// The highest batch number ever used (the log remembers batches that were rolled back,
    /// so batch numbers never repeat).
    pub(crate) last_batch: u32,
    /// For each failed row with statements done: the checksum of those statements as its file
    /// holds them now (SPEC §7), keyed by canonical version.
    pub(crate) prefixes: HashMap<String, Checksum>,
}

/// Why there is no plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PlanError {
    #[error(transparent)]
    Drift(Drift),
    #[error("{0}")]
    Blocked(Blocked),
    #[error("no migration has version {0} (see `dbtool migrate:status`)")]
    UnknownVersion(String),
    #[error("migration {0} is not pending (see `dbtool migrate:status`)")]
    NotPending(String),
    #[error("migration {0} is not applied, so it cannot be undone (see `dbtool migrate:status`)")]
    NotApplied(String),
    #[error(
        "cannot roll back: {} no down file, so nothing was undone:{}\n  \
         write the .down.sql file, or roll back to a point after {}",
        if ids.len() == 1 { "this migration has" } else { "these migrations have" },
        list(ids),
        if ids.len() == 1 { "it" } else { "them" }
    )]
    Irreversible { ids: Vec<String> },
    #[error(
        "out-of-order migrations are pending but out_of_order = false in this environment:{}\n  \
         they are older than the newest applied migration ({newest}); rename them with a newer \
         version, or set out_of_order = true",
        list(ids)
    )]
    OutOfOrder { ids: Vec<String>, newest: String },
    #[error(transparent)]
    Ledger(LedgerError),
}

impl PlanError {
    /// SPEC §9: 3 when the database's state stands in the way, 2 for a request that cannot be.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            PlanError::Drift(_)
            | PlanError::Blocked(_)
            | PlanError::OutOfOrder { .. }
            | PlanError::Ledger(_) => 3,
            PlanError::UnknownVersion(_)
            | PlanError::NotPending(_)
            | PlanError::NotApplied(_)
            | PlanError::Irreversible { .. } => 2,
        }
    }
}

fn list(ids: &[String]) -> String {
    ids.iter().map(|i| format!("\n  {i}")).collect()
}

/// A failed migration that stands in the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Blocked {
    pub(crate) id: String,
    pub(crate) version: String,
    pub(crate) direction: Direction,
    pub(crate) done: u32,
    pub(crate) total: u32,
    pub(crate) reason: BlockReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockReason {
    /// Its done statements were edited since they ran.
    PrefixChanged,
    /// A rollback of it stopped part-way; `latest` will not run over it.
    RollbackUnfinished,
    /// A migration stopped part-way; a rollback will not run over it.
    ApplyUnfinished,
    /// Its file is gone.
    FileMissing,
}

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Blocked {
            id,
            version,
            direction,
            done,
            total,
            reason,
        } = self;
        let file = direction.as_str();
        match reason {
            BlockReason::PrefixChanged => write!(
                f,
                "migration {id} failed part-way ({done} of {total} statements applied), and \
                 its first {done} statements were edited since they ran\n  \
                 dbtool cannot know what the database holds now: undo or finish it by hand, then\n  \
                 run `dbtool migrate:resolve {version} --rolled-back` (or `--applied`)"
            ),
            BlockReason::RollbackUnfinished => write!(
                f,
                "the rollback of {id} stopped part-way ({done} of {total} {file} statements \
                 applied)\n  \
                 finish it with `dbtool migrate:rollback` (it resumes), or settle it with\n  \
                 `dbtool migrate:resolve {version} --rolled-back` (or `--applied`)"
            ),
            BlockReason::ApplyUnfinished => write!(
                f,
                "migration {id} failed part-way ({done} of {total} statements applied)\n  \
                 finish it with `dbtool migrate:latest` (it resumes), or settle it with\n  \
                 `dbtool migrate:resolve {version} --applied` (or `--rolled-back`)"
            ),
            BlockReason::FileMissing => write!(
                f,
                "migration {id} failed part-way ({done} of {total} {file} statements applied) \
                 and its file is gone\n  \
                 restore the file, or settle it with `dbtool migrate:resolve {version} \
                 --rolled-back` (or `--applied`)"
            ),
        }
    }
}

/// Plans `request` over `entries` (from [`entries`], in version order).
pub(crate) fn plan(
    entries: &[Entry<'_>],
    request: &Request,
    options: &Options,
) -> Result<Plan, PlanError> {
    let highest = entries
        .iter()
        .filter_map(|e| e.row())
        .filter(|r| r.state == RowState::Applied)
        .map(|r| r.batch)
        .chain([options.last_batch])
        .max()
        .unwrap_or(0);
    let mut plan = Plan {
        direction: request.direction(),
        steps: Vec::new(),
        batch: 0,
        warnings: Vec::new(),
    };
    match request {
        Request::Latest { to } => apply::latest(entries, to.as_ref(), options, &mut plan)?,
        Request::Up { target } => apply::up(entries, target.as_ref(), options, &mut plan)?,
        Request::Rollback(scope) => revert::rollback(entries, scope, options, &mut plan)?,
        Request::Down { target } => revert::down(entries, target.as_ref(), options, &mut plan)?,
    }
    // Only a plan that applies something uses up a batch number.
    if plan.direction == Direction::Up && !plan.steps.is_empty() {
        plan.batch = next_batch(highest, "the migrations ledger").map_err(PlanError::Ledger)?;
    } else {
        plan.batch = highest.saturating_add(1);
    }
    Ok(plan)
}

/// May the failed row of `e` resume in `want`? `Ok(None)`: the entry has no failed row.
fn resume_of(
    e: &Entry<'_>,
    want: Direction,
    options: &Options,
) -> Result<Option<(Resume, SqlFile)>, PlanError> {
    let (file, r) = match e.status {
        Status::Failed(f, r) | Status::Running(f, r) => (f, r),
        _ => return Ok(None),
    };
    let blocked = |reason| {
        PlanError::Blocked(Blocked {
            id: e.id(),
            version: e.version().to_string(),
            direction: r.direction,
            done: r.statements_done,
            total: r.statements_total,
            reason,
        })
    };
    if r.direction != want {
        return Err(blocked(match r.direction {
            Direction::Down => BlockReason::RollbackUnfinished,
            Direction::Up => BlockReason::ApplyUnfinished,
        }));
    }
    let Some(sql) = file.and_then(|f| f.file(r.direction)) else {
        return Err(blocked(BlockReason::FileMissing));
    };
    if r.statements_done > 0 {
        let now = options.prefixes.get(r.version.canonical());
        if now.is_none() || now != r.prefix_checksum.as_ref() {
            return Err(blocked(BlockReason::PrefixChanged));
        }
    }
    let resume = Resume {
        done: r.statements_done,
        interrupted: r.error.is_none(),
    };
    Ok(Some((resume, sql.clone())))
}

#[cfg(test)]
mod tests;
