//! Planning, as pure functions: (files on disk, ledger rows, request) -> a plan, or the reason
//! there is none (drift, a blocked migration, a usage problem). No I/O: the one thing planning
//! needs from the files beyond their checksums – the checksum of a failed migration's done
//! statements – is asked of the caller through [`Prefixes`].
//!
//! States (SPEC §8): `applied`, `pending`, `modified` (checksum differs), `missing` (in the
//! ledger, no file), `failed` (part-way), `out-of-order` (pending but older than the newest
//! applied).

use std::collections::BTreeMap;
use std::fmt;

use crate::db::ledger::{Direction, LedgerRow, State};
use crate::files::{Checksum, MigrationFile, Version};

/// What status shows for one migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Applied,
    Pending,
    OutOfOrder,
    Modified {
        ledger: Checksum,
        file: Checksum,
    },
    Missing,
    /// Part-way: `done` of `total` statements of the up (or, for a rollback that stopped, the
    /// down) file were applied.
    Failed {
        direction: Direction,
        done: u32,
        total: u32,
    },
}

impl Status {
    pub fn name(&self) -> &'static str {
        match self {
            Status::Applied => "applied",
            Status::Pending => "pending",
            Status::OutOfOrder => "out-of-order",
            Status::Modified { .. } => "modified",
            Status::Missing => "missing",
            Status::Failed { .. } => "failed",
        }
    }
}

/// One migration as status sees it: its file, its ledger row, or both.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub version: Version,
    pub name: String,
    pub file: Option<&'a MigrationFile>,
    pub row: Option<&'a LedgerRow>,
    pub status: Status,
}

impl Entry<'_> {
    pub fn id(&self) -> String {
        format!("{}_{}", self.version, self.name)
    }
}

/// Joins files and ledger rows by version, in version order.
pub fn entries<'a>(files: &'a [MigrationFile], rows: &'a [LedgerRow]) -> Vec<Entry<'a>> {
    let mut by_version: BTreeMap<&Version, (Option<&MigrationFile>, Option<&LedgerRow>)> =
        BTreeMap::new();
    for f in files {
        by_version.entry(&f.version).or_default().0 = Some(f);
    }
    for r in rows {
        by_version.entry(&r.version).or_default().1 = Some(r);
    }
    let newest_applied = rows
        .iter()
        .filter(|r| r.state == State::Applied)
        .map(|r| &r.version)
        .max();
    by_version
        .into_iter()
        .map(|(version, (file, row))| {
            let status = match (file, row) {
                (_, Some(r)) if r.state == State::Failed => Status::Failed {
                    direction: r.direction,
                    done: r.statements_done,
                    total: r.statements_total,
                },
                (Some(f), Some(r)) if f.checksum != r.checksum => Status::Modified {
                    ledger: r.checksum,
                    file: f.checksum,
                },
                (Some(_), Some(_)) => Status::Applied,
                (None, Some(_)) => Status::Missing,
                (Some(_), None) if newest_applied.is_some_and(|n| version < n) => {
                    Status::OutOfOrder
                }
                (Some(_), None) => Status::Pending,
                (None, None) => unreachable!("an entry has a file or a row"),
            };
            Entry {
                version: version.clone(),
                name: file
                    .map(|f| f.name.clone())
                    .or_else(|| row.map(|r| r.name.clone()))
                    .unwrap_or_default(),
                file,
                row,
                status,
            }
        })
        .collect()
}

/// Applied migrations whose files changed or are gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub items: Vec<DriftItem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriftItem {
    Modified {
        id: String,
        ledger: Checksum,
        file: Checksum,
        path: String,
    },
    Missing {
        id: String,
    },
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.items.len();
        let s = if n == 1 { "" } else { "s" };
        let verb = if n == 1 {
            "differs from its file"
        } else {
            "differ from their files"
        };
        write!(f, "{n} applied migration{s} {verb} (drift):")?;
        let width = self
            .items
            .iter()
            .map(|i| match i {
                DriftItem::Modified { id, .. } | DriftItem::Missing { id } => id.len(),
            })
            .max()
            .unwrap_or(0);
        for item in &self.items {
            match item {
                DriftItem::Modified {
                    id,
                    ledger,
                    file,
                    path,
                } => write!(
                    f,
                    "\n  {id:width$}  modified  ledger {} ≠ file {} ({path})",
                    ledger.short(),
                    file.short()
                )?,
                DriftItem::Missing { id } => {
                    write!(f, "\n  {id:width$}  missing   no file {id}.up.sql")?
                }
            }
        }
        write!(
            f,
            "\n  restore the files, or accept them with `dbtool migrate:repair`."
        )
    }
}

impl std::error::Error for Drift {}

/// The drift among applied migrations (failed rows are not drift: a fix to a failed
/// migration's file is expected).
pub fn drift(entries: &[Entry<'_>]) -> Option<Drift> {
    let items: Vec<DriftItem> = entries
        .iter()
        .filter_map(|e| match &e.status {
            Status::Modified { ledger, file } => Some(DriftItem::Modified {
                id: e.id(),
                ledger: *ledger,
                file: *file,
                path: e.file.map(|f| f.up.display.clone()).unwrap_or_default(),
            }),
            Status::Missing => Some(DriftItem::Missing { id: e.id() }),
            _ => None,
        })
        .collect();
    (!items.is_empty()).then_some(Drift { items })
}

/// Gives the checksum of a file's first `k` statements (SPEC §7), so planning can decide
/// whether a failed migration may resume. Errors (an unreadable file) are the caller's.
pub trait Prefixes {
    type Error;
    fn prefix(
        &mut self,
        file: &MigrationFile,
        direction: Direction,
        k: u32,
    ) -> Result<Checksum, Self::Error>;
}

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// migrate:latest [--to V]
    Latest { to: Option<Version> },
    /// migrate:up [V]
    Up { target: Option<Version> },
    /// migrate:rollback
    Rollback(Scope),
    /// migrate:down [V]
    Down { target: Option<Version> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    LastBatch,
    All,
    Step(u32),
    To(Version),
}

/// Where a step starts in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    /// Statements already applied; the run starts at statement `done + 1`.
    pub done: u32,
    /// The run before was killed (no error text): statement `done + 1` may have completed.
    pub interrupted: bool,
}

/// One thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Apply {
        file: MigrationFile,
        resume: Option<Resume>,
    },
    Revert {
        file: MigrationFile,
        row: Box<LedgerRow>,
        resume: Option<Resume>,
    },
}

impl Step {
    pub fn file(&self) -> &MigrationFile {
        match self {
            Step::Apply { file, .. } | Step::Revert { file, .. } => file,
        }
    }
}

/// The steps of one command, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// The batch number new applications get.
    pub batch: u32,
    /// Things to say before running (out-of-order migrations, changed files being rolled back).
    pub warnings: Vec<String>,
}

/// Why there is no plan.
#[derive(Debug, thiserror::Error)]
pub enum PlanError<E: std::error::Error + 'static> {
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
        ids.iter().map(|i| format!("\n  {i}")).collect::<String>(),
        if ids.len() == 1 { "it" } else { "them" }
    )]
    Irreversible { ids: Vec<String> },
    #[error(
        "out-of-order migrations are pending but out_of_order = false in this environment:{}\n  \
         they are older than the newest applied migration ({newest}); rename them with a newer \
         version, or set out_of_order = true",
        ids.iter().map(|i| format!("\n  {i}")).collect::<String>()
    )]
    OutOfOrder { ids: Vec<String>, newest: String },
    #[error(transparent)]
    Prefix(E),
}

/// A failed migration that stands in the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub id: String,
    pub version: String,
    pub direction: Direction,
    pub done: u32,
    pub total: u32,
    pub reason: BlockReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockReason {
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
        let file = match direction {
            Direction::Up => "up",
            Direction::Down => "down",
        };
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

/// What planning needs besides the files and the rows.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Pending migrations older than the newest applied one may run (with a warning).
    pub out_of_order: bool,
    /// The highest batch number ever used (the log remembers batches that were rolled back,
    /// so batch numbers never repeat).
    pub last_batch: u32,
}

/// Plans `request` over `files` and `rows`.
pub fn plan<P: Prefixes>(
    files: &[MigrationFile],
    rows: &[LedgerRow],
    request: &Request,
    options: Options,
    prefixes: &mut P,
) -> Result<Plan, PlanError<P::Error>>
where
    P::Error: std::error::Error + 'static,
{
    let out_of_order = options.out_of_order;
    let entries = entries(files, rows);
    let batch = rows
        .iter()
        .filter(|r| r.state == State::Applied)
        .map(|r| r.batch)
        .chain([options.last_batch])
        .max()
        .unwrap_or(0)
        + 1;
    let mut warnings = Vec::new();
    let known = |v: &Version| entries.iter().any(|e| &e.version == v);

    // A failed row: may it resume? (Only in its own direction.)
    let mut resume_of =
        |e: &Entry<'_>, want: Direction| -> Result<Option<Resume>, PlanError<P::Error>> {
            let Some(r) = e.row.filter(|r| r.state == State::Failed) else {
                return Ok(None);
            };
            let blocked = |reason| {
                PlanError::Blocked(Blocked {
                    id: e.id(),
                    version: e.version.to_string(),
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
            let Some(file) = e.file else {
                return Err(blocked(BlockReason::FileMissing));
            };
            if r.direction == Direction::Down && file.down.is_none() {
                return Err(blocked(BlockReason::FileMissing));
            }
            if r.statements_done > 0 {
                let now = prefixes
                    .prefix(file, r.direction, r.statements_done)
                    .map_err(PlanError::Prefix)?;
                if Some(now) != r.prefix_checksum {
                    return Err(blocked(BlockReason::PrefixChanged));
                }
            }
            Ok(Some(Resume {
                done: r.statements_done,
                interrupted: r.error.is_none(),
            }))
        };

    // What to apply (up to `to`, or a single step, maybe a named one), or what to undo.
    enum Want<'r> {
        Apply {
            to: Option<Version>,
            single: Option<Option<Version>>,
        },
        Revert(Undo<'r>),
    }
    enum Undo<'r> {
        Scope(&'r Scope),
        Down(Option<&'r Version>),
    }
    let want = match request {
        Request::Latest { to } => Want::Apply {
            to: to.clone(),
            single: None,
        },
        Request::Up { target } => Want::Apply {
            to: None,
            single: Some(target.clone()),
        },
        Request::Rollback(scope) => Want::Revert(Undo::Scope(scope)),
        Request::Down { target } => Want::Revert(Undo::Down(target.as_ref())),
    };

    let mut steps = Vec::new();
    match want {
        Want::Apply { to, single } => {
            if let Some(d) = drift(&entries) {
                return Err(PlanError::Drift(d));
            }
            for v in to.iter().chain(single.iter().flatten()) {
                if !entries.iter().any(|e| &e.version == v && e.file.is_some()) {
                    return Err(PlanError::UnknownVersion(v.to_string()));
                }
            }
            let mut late = Vec::new();
            for e in &entries {
                // A failed row is resumed (or blocks) even when its file is gone.
                let resume = match &e.status {
                    Status::Failed { .. } => Some(resume_of(e, Direction::Up)?),
                    _ => None,
                };
                let Some(file) = e.file else { continue };
                let runnable = match &e.status {
                    Status::Failed { .. } => resume,
                    Status::Pending => Some(None),
                    Status::OutOfOrder => {
                        late.push(e.id());
                        Some(None)
                    }
                    _ => None,
                };
                let Some(resume) = runnable else { continue };
                if to.as_ref().is_some_and(|to| &e.version > to) {
                    continue;
                }
                steps.push(Step::Apply {
                    file: file.clone(),
                    resume,
                });
            }
            if let Some(Some(v)) = &single {
                steps.retain(|s| &s.file().version == v);
                if steps.is_empty() {
                    return Err(PlanError::NotPending(v.to_string()));
                }
            } else if single.is_some() {
                steps.truncate(1);
            }
            let late: Vec<String> = late
                .into_iter()
                .filter(|id| steps.iter().any(|s| &s.file().id() == id))
                .collect();
            if !late.is_empty() {
                let newest = entries
                    .iter()
                    .filter(|e| e.row.is_some_and(|r| r.state == State::Applied))
                    .map(|e| e.id())
                    .next_back()
                    .unwrap_or_default();
                if !out_of_order {
                    return Err(PlanError::OutOfOrder { ids: late, newest });
                }
                for id in late {
                    warnings.push(format!(
                        "{id} is older than the newest applied migration ({newest}); \
                         applying it out of order"
                    ));
                }
            }
        }
        Want::Revert(undo) => {
            // A rollback that stopped part-way is finished first; a failed apply blocks.
            for e in &entries {
                if let Some(r) = e.row.filter(|r| r.state == State::Failed) {
                    let resume = resume_of(e, Direction::Down)?;
                    let file = e.file.expect("resume_of checked the file");
                    steps.push(Step::Revert {
                        file: file.clone(),
                        row: Box::new(r.clone()),
                        resume,
                    });
                }
            }
            let mut applied: Vec<&Entry<'_>> = entries
                .iter()
                .filter(|e| e.row.is_some_and(|r| r.state == State::Applied))
                .collect();
            // Newest first: the reverse of the order they were applied in.
            applied.sort_by(|a, b| {
                let (ra, rb) = (a.row.expect("applied"), b.row.expect("applied"));
                rb.batch.cmp(&ra.batch).then(b.version.cmp(&a.version))
            });
            let chosen: Vec<&Entry<'_>> = match &undo {
                Undo::Scope(Scope::LastBatch) => {
                    let last = applied.first().map(|e| e.row.expect("applied").batch);
                    applied
                        .into_iter()
                        .filter(|e| Some(e.row.expect("applied").batch) == last)
                        .collect()
                }
                Undo::Scope(Scope::All) => applied,
                Undo::Scope(Scope::Step(n)) => applied.into_iter().take(*n as usize).collect(),
                Undo::Scope(Scope::To(v)) => {
                    if !known(v) {
                        return Err(PlanError::UnknownVersion(v.to_string()));
                    }
                    applied.into_iter().filter(|e| &e.version > v).collect()
                }
                Undo::Down(None) => applied.into_iter().take(1).collect(),
                Undo::Down(Some(v)) => {
                    let v = *v;
                    let found: Vec<_> = applied.into_iter().filter(|e| &e.version == v).collect();
                    if found.is_empty() {
                        if !known(v) {
                            return Err(PlanError::UnknownVersion(v.to_string()));
                        }
                        // A part-way rollback of v is resumed above; anything else is an error.
                        if steps.iter().any(|s| &s.file().version == v) {
                            steps.retain(|s| &s.file().version == v);
                            return Ok(Plan {
                                steps,
                                batch,
                                warnings,
                            });
                        }
                        return Err(PlanError::NotApplied(v.to_string()));
                    }
                    found
                }
            };
            if matches!(undo, Undo::Down(None)) && !steps.is_empty() {
                // `down` with a rollback part-way: finishing it is the one step.
                steps.truncate(1);
                return Ok(Plan {
                    steps,
                    batch,
                    warnings,
                });
            }
            let missing: Vec<DriftItem> = chosen
                .iter()
                .filter(|e| e.file.is_none())
                .map(|e| DriftItem::Missing { id: e.id() })
                .collect();
            if !missing.is_empty() {
                return Err(PlanError::Drift(Drift { items: missing }));
            }
            let irreversible: Vec<String> = chosen
                .iter()
                .filter(|e| e.file.is_some_and(|f| f.down.is_none()))
                .map(|e| e.id())
                .collect();
            if !irreversible.is_empty() {
                return Err(PlanError::Irreversible { ids: irreversible });
            }
            for e in chosen {
                if let Status::Modified { .. } = e.status {
                    warnings.push(format!(
                        "{} changed since it was applied; rolling back with its current down file",
                        e.id()
                    ));
                }
                steps.push(Step::Revert {
                    file: e.file.expect("checked").clone(),
                    row: Box::new(e.row.expect("applied").clone()),
                    resume: None,
                });
            }
        }
    }
    Ok(Plan {
        steps,
        batch,
        warnings,
    })
}

#[cfg(test)]
mod tests;
