//! What status shows for each migration: its file and its ledger row joined by version, and the
//! state that follows (SPEC §8). Each state carries the file and the row it is about, so code
//! that matches on it never has to assume one is there.

use std::collections::BTreeMap;
use std::fmt;

use crate::files::{Checksum, MigrationFile, Version};
use crate::rows::{MigrationRow, RowState};

/// One migration's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status<'a> {
    Pending(&'a MigrationFile),
    /// Pending, but older than the newest applied migration.
    OutOfOrder(&'a MigrationFile),
    Applied(&'a MigrationFile, &'a MigrationRow),
    /// Applied, and its up file changed since (checksum differs).
    Modified(&'a MigrationFile, &'a MigrationRow),
    /// In the ledger, but its file is gone.
    Missing(&'a MigrationRow),
    /// Part-way: `statements_done` of `statements_total` of its up (or, for a rollback that
    /// stopped, its down) file were applied.
    Failed(Option<&'a MigrationFile>, &'a MigrationRow),
    /// Part-way while a run holds the migration lock: that run is applying it now.
    Running(Option<&'a MigrationFile>, &'a MigrationRow),
}

impl Status<'_> {
    /// The state's name, as status and JSON show it.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Status::Pending(_) => "pending",
            Status::OutOfOrder(_) => "out-of-order",
            Status::Applied(..) => "applied",
            Status::Modified(..) => "modified",
            Status::Missing(_) => "missing",
            Status::Failed(..) => "failed",
            Status::Running(..) => "running",
        }
    }

    /// Whether a deploy check must fail on it (`migrate:status --exit-code`, validate).
    pub(crate) fn is_broken(&self) -> bool {
        matches!(
            self,
            Status::Modified(..) | Status::Missing(_) | Status::Failed(..)
        )
    }

    pub(crate) fn is_pending(&self) -> bool {
        matches!(self, Status::Pending(_) | Status::OutOfOrder(_))
    }
}

/// Every state name, in the order counts are shown.
pub(crate) const STATE_NAMES: [&str; 7] = [
    "applied",
    "pending",
    "out-of-order",
    "modified",
    "missing",
    "failed",
    "running",
];

/// One migration as status sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry<'a> {
    pub(crate) status: Status<'a>,
}

impl<'a> Entry<'a> {
    pub(crate) fn file(&self) -> Option<&'a MigrationFile> {
        match self.status {
            Status::Pending(f)
            | Status::OutOfOrder(f)
            | Status::Applied(f, _)
            | Status::Modified(f, _) => Some(f),
            Status::Failed(f, _) | Status::Running(f, _) => f,
            Status::Missing(_) => None,
        }
    }

    pub(crate) fn row(&self) -> Option<&'a MigrationRow> {
        match self.status {
            Status::Pending(_) | Status::OutOfOrder(_) => None,
            Status::Applied(_, r)
            | Status::Modified(_, r)
            | Status::Missing(r)
            | Status::Failed(_, r)
            | Status::Running(_, r) => Some(r),
        }
    }

    /// The version as the file writes it (else as the ledger stores it).
    pub(crate) fn version(&self) -> &'a Version {
        match (self.file(), self.row()) {
            (Some(f), _) => &f.version,
            (None, Some(r)) => &r.version,
            (None, None) => unreachable!("every state has a file or a row"),
        }
    }

    pub(crate) fn name(&self) -> &'a str {
        match (self.file(), self.row()) {
            (Some(f), _) => &f.name,
            (None, Some(r)) => &r.name,
            (None, None) => unreachable!("every state has a file or a row"),
        }
    }

    /// `<version>_<name>`.
    pub(crate) fn id(&self) -> String {
        format!("{}_{}", self.version(), self.name())
    }
}

/// Joins files and ledger rows by version, in version order. `lock_held`: another run holds
/// the migration lock, so a row in flight (no error text) is running, not failed.
pub(crate) fn entries<'a>(
    files: &'a [MigrationFile],
    rows: &'a [MigrationRow],
    lock_held: bool,
) -> Vec<Entry<'a>> {
    let mut by_version: BTreeMap<&Version, (Option<&MigrationFile>, Option<&MigrationRow>)> =
        BTreeMap::new();
    for f in files {
        by_version.entry(&f.version).or_default().0 = Some(f);
    }
    for r in rows {
        by_version.entry(&r.version).or_default().1 = Some(r);
    }
    let newest_applied = rows
        .iter()
        .filter(|r| r.state == RowState::Applied)
        .map(|r| &r.version)
        .max();
    by_version
        .into_iter()
        .map(|(version, pair)| {
            let status = match pair {
                (f, Some(r)) if r.state == RowState::Failed => {
                    if lock_held && r.error.is_none() {
                        Status::Running(f, r)
                    } else {
                        Status::Failed(f, r)
                    }
                }
                (Some(f), Some(r)) if f.checksum != r.checksum => Status::Modified(f, r),
                (Some(f), Some(r)) => Status::Applied(f, r),
                (None, Some(r)) => Status::Missing(r),
                (Some(f), None) if newest_applied.is_some_and(|n| version < n) => {
                    Status::OutOfOrder(f)
                }
                (Some(f), None) => Status::Pending(f),
                (None, None) => unreachable!("an entry has a file or a row"),
            };
            Entry { status }
        })
        .collect()
}

/// Applied migrations whose files changed or are gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Drift {
    pub(crate) items: Vec<DriftItem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DriftItem {
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

impl DriftItem {
    fn id(&self) -> &str {
        match self {
            DriftItem::Modified { id, .. } | DriftItem::Missing { id } => id,
        }
    }
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.items.len();
        let (s, verb) = if n == 1 {
            ("", "differs from its file")
        } else {
            ("s", "differ from their files")
        };
        write!(f, "{n} applied migration{s} {verb} (drift):")?;
        let width = self.items.iter().map(|i| i.id().len()).max().unwrap_or(0);
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

/// The drift among applied migrations. Failed rows are not drift: a fix to a failed
/// migration's file is expected.
pub(crate) fn drift(entries: &[Entry<'_>]) -> Option<Drift> {
    let items: Vec<DriftItem> = entries
        .iter()
        .filter_map(|e| match e.status {
            Status::Modified(f, r) => Some(DriftItem::Modified {
                id: e.id(),
                ledger: r.checksum,
                file: f.checksum,
                path: f.up.display.clone(),
            }),
            Status::Missing(_) => Some(DriftItem::Missing { id: e.id() }),
            _ => None,
        })
        .collect();
    (!items.is_empty()).then_some(Drift { items })
}
