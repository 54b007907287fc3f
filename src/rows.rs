//! The ledger's rows as plain data (SPEC §5): what `db::ledger` reads and what `plan` plans
//! over. No I/O here, so the planner never depends on the database layer.
//!
//! Every row is validated when read (`db::ledger` turns text into these types and calls
//! [`check_migrations`]): a hand-edited or foreign row (bad checksum text, unknown state, a
//! version stored twice) is a [`LedgerError`] naming the row, exit 3, never a panic or a
//! silent misreading.

use std::fmt;

use crate::files::{Checksum, Direction, Version};

/// Whether a migration row is done or part-way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowState {
    Applied,
    /// Part-way: in flight, stopped by an error, or interrupted.
    Failed,
}

impl RowState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RowState::Applied => "applied",
            RowState::Failed => "failed",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<RowState> {
        match s {
            "applied" => Some(RowState::Applied),
            "failed" => Some(RowState::Failed),
            _ => None,
        }
    }
}

/// One row of `dbtool_migrations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MigrationRow {
    /// Stored without leading zeros (the canonical form, see [`Version::canonical`]).
    pub(crate) version: Version,
    pub(crate) name: String,
    pub(crate) batch: u32,
    pub(crate) checksum: Checksum,
    pub(crate) down_checksum: Option<Checksum>,
    pub(crate) state: RowState,
    /// For a `failed` row: which file's statements `statements_done` counts (the down file of
    /// a rollback that stopped part-way).
    pub(crate) direction: Direction,
    pub(crate) statements_done: u32,
    pub(crate) statements_total: u32,
    pub(crate) prefix_checksum: Option<Checksum>,
    /// The last failure's text; None on a row in flight (or whose run was killed).
    pub(crate) error: Option<String>,
    /// RFC 3339, UTC, microseconds: `2026-01-01T12:00:03.120000Z`.
    pub(crate) applied_at: String,
}

impl MigrationRow {
    /// `<version>_<name>`, as lists show it.
    pub(crate) fn id(&self) -> String {
        format!("{}_{}", self.version, self.name)
    }
}

/// One row of `dbtool_seeds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SeedRow {
    /// The seed's path relative to the seeds folder, compared byte for byte.
    pub(crate) path: String,
    pub(crate) checksum: Checksum,
    pub(crate) last_run_at: String,
    pub(crate) run_count: u64,
}

/// What a `dbtool_log` row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Applied,
    Failed,
    RolledBack,
    RollbackFailed,
    ResolvedApplied,
    ResolvedRolledBack,
    Repaired,
    SeedRun,
    /// Recorded applied without running (migrate:baseline).
    Baselined,
    /// Recorded applied from another tool's ledger (migrate:import).
    Imported,
}

impl Action {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Action::Applied => "applied",
            Action::Failed => "failed",
            Action::RolledBack => "rolled_back",
            Action::RollbackFailed => "rollback_failed",
            Action::ResolvedApplied => "resolved_applied",
            Action::ResolvedRolledBack => "resolved_rolled_back",
            Action::Repaired => "repaired",
            Action::SeedRun => "seed_run",
            Action::Baselined => "baselined",
            Action::Imported => "imported",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A ledger row that does not hold what dbtool writes there. Exit 3.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the ledger table {table} has a bad row ({key}): {problem}\n  \
     fix or delete that row by hand (it was edited or written by another tool)"
)]
pub(crate) struct LedgerError {
    pub(crate) table: String,
    pub(crate) key: String,
    pub(crate) problem: String,
}

/// Checks what no single row can show: each version stored once (`1` and `001` are one
/// version, SPEC §2). Rows come sorted by version.
pub(crate) fn check_migrations(rows: &[MigrationRow], table: &str) -> Result<(), LedgerError> {
    let versions: Vec<&Version> = rows.iter().map(|r| &r.version).collect();
    check_versions(&versions, table)
}

/// The same over stored versions, sorted.
pub(crate) fn check_versions(versions: &[&Version], table: &str) -> Result<(), LedgerError> {
    for pair in versions.windows(2) {
        if pair[0] == pair[1] {
            return Err(LedgerError {
                table: table.to_owned(),
                key: format!("version {}", pair[1].as_str()),
                problem: format!(
                    "version {} is recorded twice (as {:?} and {:?}); versions are numbers, so \
                     these are one migration",
                    pair[1].canonical(),
                    pair[0].as_str(),
                    pair[1].as_str()
                ),
            });
        }
    }
    Ok(())
}

/// The highest batch in use, and the next one. A full column is an error, never a wrap to 0
/// (which would make `migrate:rollback` undo the wrong batch).
pub(crate) fn next_batch(highest: u32, table: &str) -> Result<u32, LedgerError> {
    highest.checked_add(1).ok_or_else(|| LedgerError {
        table: table.to_owned(),
        key: format!("batch {highest}"),
        problem: "batch numbers are exhausted (the column's maximum is in use)".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(v: &str) -> MigrationRow {
        MigrationRow {
            version: v.parse().unwrap(),
            name: "x".into(),
            batch: 1,
            checksum: crate::files::checksum(b""),
            down_checksum: None,
            state: RowState::Applied,
            direction: Direction::Up,
            statements_done: 1,
            statements_total: 1,
            prefix_checksum: None,
            error: None,
            applied_at: String::new(),
        }
    }

    #[test]
    fn a_version_stored_twice_is_named() {
        let rows = [row("001"), row("1")];
        let e = check_migrations(&rows, "`d`.`m`").unwrap_err();
        assert!(e.to_string().contains("recorded twice"), "{e}");
        assert!(e.to_string().contains("\"001\" and \"1\""), "{e}");
        assert!(check_migrations(&[row("1"), row("2")], "t").is_ok());
    }

    #[test]
    fn batch_numbers_never_wrap() {
        assert_eq!(next_batch(7, "t"), Ok(8));
        assert!(next_batch(u32::MAX, "t").is_err());
    }
}
