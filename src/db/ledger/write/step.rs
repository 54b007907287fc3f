//! The ledger writes of one migration step (its in-flight mark, progress, end), and the guard
//! that follows each.

use super::super::{TOOL_VERSION, Tables};
use super::{
    DURATION, LockRef, LogEntry, MIGRATION_COLUMNS, checksum, delete_row, guard, log, opt_checksum,
    text,
};
use crate::files::checksum::ALGO;
use crate::files::{Checksum, Direction};
use crate::rows::Action;

/// What a step's row must hold after a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// Part-way in `direction`, with `done` statements done.
    Failed {
        direction: Direction,
        done: u32,
    },
    Applied,
    /// Deleted (a finished rollback).
    Gone,
}

/// The ledger writes of one migration step, with the values they record.
#[derive(Debug, Clone)]
pub(crate) struct StepRecord<'a> {
    pub(crate) tables: &'a Tables,
    /// The canonical version: the row's key.
    pub(crate) key: &'a str,
    pub(crate) name: &'a str,
    pub(crate) checksum: Checksum,
    pub(crate) down_checksum: Option<Checksum>,
    /// Statements in the file that runs.
    pub(crate) total: u32,
    pub(crate) batch: u32,
}

impl StepRecord<'_> {
    fn key(&self) -> String {
        text(self.key)
    }

    /// The guard that checks the row holds `expect` and the lock is dbtool's.
    pub(crate) fn guard(&self, lock: &LockRef, expect: Expect) -> String {
        let row = |cond: String| {
            format!(
                "EXISTS (SELECT 1 FROM {m} WHERE version = {key}{cond})",
                m = self.tables.migrations,
                key = self.key()
            )
        };
        let cond = match expect {
            Expect::Failed { direction, done } => row(format!(
                " AND state = 'failed' AND direction = '{}' AND statements_done = {done}",
                direction.as_str()
            )),
            Expect::Applied => row(" AND state = 'applied'".into()),
            Expect::Gone => format!("NOT {}", row(String::new())),
        };
        guard(lock, self.tables.migrations_name.as_str(), &cond)
    }

    /// A new `failed` row with 0 statements done: the step is in flight.
    pub(crate) fn insert_in_flight(&self) -> String {
        format!(
            "INSERT INTO {m} ({MIGRATION_COLUMNS}) VALUES ({v})",
            m = self.tables.migrations,
            v = self.in_flight_values(),
        )
    }

    /// The values of a new in-flight row, in [`MIGRATION_COLUMNS`]' order.
    fn in_flight_values(&self) -> String {
        self.in_flight_values_with(None)
    }

    /// The same, with `error` (a checked run's marker) in the `error` column.
    pub(super) fn in_flight_values_with(&self, error: Option<&str>) -> String {
        format!(
            "{key}, {name}, {batch}, {ck}, {algo}, {dck}, 'failed', 'up', 0, {total}, NULL, {err}, \
             UTC_TIMESTAMP(6), 0, USER(), {tv}",
            err = super::opt_text(error),
            key = self.key(),
            name = text(self.name),
            batch = self.batch,
            ck = checksum(&self.checksum),
            algo = text(ALGO),
            dck = opt_checksum(self.down_checksum.as_ref()),
            total = self.total,
            tv = text(TOOL_VERSION),
        )
    }

    /// Records every statement of the step done, its row still `failed` (its end is deferred,
    /// see [`super::deferred`]); with `next`, the same statement marks the next step in flight:
    /// a new row for an application (`INSERT … ON DUPLICATE KEY UPDATE` of the two rows), the
    /// applied row for a rollback. One statement, so it commits on its own right after the
    /// step's last statement, which committed implicitly.
    pub(crate) fn all_done(
        &self,
        direction: Direction,
        prefix: &Checksum,
        next: Option<&StepRecord<'_>>,
    ) -> String {
        let key = self.key();
        let (m, total, p) = (&self.tables.migrations, self.total, checksum(prefix));
        // An assignment for this step's row only.
        let own = |col: &str, val: &str| format!("{col} = IF(version = {key}, {val}, {col})");
        match (direction, next) {
            (Direction::Up, None) => format!(
                "UPDATE {m} SET statements_done = {total}, prefix_checksum = {p}, \
                 applied_at = UTC_TIMESTAMP(6), duration_ms = {DURATION} WHERE version = {key}"
            ),
            (Direction::Up, Some(n)) => format!(
                "INSERT INTO {m} ({MIGRATION_COLUMNS}) VALUES ({key}, {name}, {batch}, {ck}, \
                 {algo}, {dck}, 'failed', 'up', {total}, {total}, {p}, NULL, UTC_TIMESTAMP(6), \
                 {DURATION}, USER(), {tv}), ({next}) ON DUPLICATE KEY UPDATE {a}, {b}, {c}, {d}",
                name = text(self.name),
                batch = self.batch,
                ck = checksum(&self.checksum),
                algo = text(ALGO),
                dck = opt_checksum(self.down_checksum.as_ref()),
                tv = text(TOOL_VERSION),
                next = n.in_flight_values(),
                a = own("statements_done", &total.to_string()),
                b = own("prefix_checksum", &p),
                c = own("applied_at", "UTC_TIMESTAMP(6)"),
                d = own("duration_ms", DURATION),
            ),
            (Direction::Down, None) => format!(
                "UPDATE {m} SET statements_done = {total}, prefix_checksum = {p}, \
                 duration_ms = {DURATION} WHERE version = {key}"
            ),
            (Direction::Down, Some(n)) => format!(
                "UPDATE {m} SET state = 'failed', direction = 'down', error = NULL, \
                 statements_done = IF(version = {key}, {total}, 0), \
                 statements_total = IF(version = {key}, {total}, {nt}), \
                 prefix_checksum = IF(version = {key}, {p}, NULL), \
                 down_checksum = IF(version = {key}, down_checksum, {ndck}), {d} \
                 WHERE version IN ({key}, {nkey})",
                nt = n.total,
                ndck = opt_checksum(n.down_checksum.as_ref()),
                nkey = n.key(),
                d = own("duration_ms", DURATION),
            ),
        }
    }

    /// Marks an existing `failed` row in flight again, to resume it in `direction`.
    pub(crate) fn resume_in_flight(&self, direction: Direction) -> String {
        let up = match direction {
            Direction::Up => format!(
                "batch = {}, checksum = {}, down_checksum = {}, applied_at = UTC_TIMESTAMP(6), ",
                self.batch,
                checksum(&self.checksum),
                opt_checksum(self.down_checksum.as_ref())
            ),
            Direction::Down => String::new(),
        };
        format!(
            "UPDATE {m} SET name = {name}, {up}statements_total = {total}, error = NULL, \
             applied_by = USER(), tool_version = {tv} WHERE version = {key}",
            m = self.tables.migrations,
            name = text(self.name),
            total = self.total,
            tv = text(TOOL_VERSION),
            key = self.key(),
        )
    }

    /// Marks an applied row as a rollback in flight.
    pub(crate) fn down_in_flight(&self) -> String {
        self.down_in_flight_with(None)
    }

    /// The same, with `error` (a checked run's marker) in the `error` column.
    pub(super) fn down_in_flight_with(&self, error: Option<&str>) -> String {
        format!(
            "UPDATE {m} SET state = 'failed', direction = 'down', statements_done = 0, \
             statements_total = {total}, prefix_checksum = NULL, error = {err}, \
             down_checksum = {dck} WHERE version = {key}",
            err = super::opt_text(error),
            m = self.tables.migrations,
            total = self.total,
            dck = opt_checksum(self.down_checksum.as_ref()),
            key = self.key(),
        )
    }

    /// Records `done` statements done, whose checksum is `prefix`.
    pub(crate) fn progress(&self, done: u32, prefix: &Checksum) -> String {
        format!(
            "UPDATE {m} SET statements_done = {done}, prefix_checksum = {p} WHERE version = {key}",
            m = self.tables.migrations,
            p = checksum(prefix),
            key = self.key(),
        )
    }

    /// Turns the in-flight (or resumed) row `applied` with the file's checksum, and logs it.
    pub(crate) fn finish_up(&self, prefix: &Checksum) -> [String; 2] {
        [
            format!(
                "UPDATE {m} SET state = 'applied', direction = 'up', statements_done = {total}, \
                 prefix_checksum = {p}, error = NULL, batch = {batch}, duration_ms = {DURATION}, \
                 applied_at = UTC_TIMESTAMP(6), name = {name}, checksum = {ck}, \
                 down_checksum = {dck}, applied_by = USER(), tool_version = {tv} \
                 WHERE version = {key}",
                m = self.tables.migrations,
                total = self.total,
                p = checksum(prefix),
                batch = self.batch,
                name = text(self.name),
                ck = checksum(&self.checksum),
                dck = opt_checksum(self.down_checksum.as_ref()),
                tv = text(TOOL_VERSION),
                key = self.key(),
            ),
            self.log_applied(),
        ]
    }

    /// Inserts the row as `applied` (a step that ran in one transaction) and logs it.
    pub(crate) fn insert_applied(&self, prefix: &Checksum) -> [String; 2] {
        [
            format!(
                "INSERT INTO {m} ({MIGRATION_COLUMNS}) VALUES ({key}, {name}, {batch}, {ck}, \
                 {algo}, {dck}, 'applied', 'up', {total}, {total}, {p}, NULL, UTC_TIMESTAMP(6), \
                 {DURATION}, USER(), {tv})",
                m = self.tables.migrations,
                key = self.key(),
                name = text(self.name),
                batch = self.batch,
                ck = checksum(&self.checksum),
                algo = text(ALGO),
                dck = opt_checksum(self.down_checksum.as_ref()),
                total = self.total,
                p = checksum(prefix),
                tv = text(TOOL_VERSION),
            ),
            self.log_applied(),
        ]
    }

    fn log_applied(&self) -> String {
        log(
            self.tables,
            &LogEntry {
                action: Some(Action::Applied),
                version: Some(self.key.to_owned()),
                name: Some(self.name.to_owned()),
                checksum: Some(self.checksum),
                batch: Some(self.batch),
                outcome: Some(format!("statements: {}", self.total)),
                timed: true,
                ..LogEntry::default()
            },
        )
    }

    /// Deletes the row and logs the rollback (with the row's batch). The row first: it is
    /// what must follow the last statement at once (see the runner).
    pub(crate) fn finish_down(&self, row_batch: u32) -> [String; 2] {
        [
            delete_row(self.tables, self.key),
            log(
                self.tables,
                &LogEntry {
                    action: Some(Action::RolledBack),
                    version: Some(self.key.to_owned()),
                    name: Some(self.name.to_owned()),
                    checksum: self.down_checksum,
                    batch: Some(row_batch),
                    outcome: Some(format!("down statements: {}", self.total)),
                    timed: true,
                    ..LogEntry::default()
                },
            ),
        ]
    }
}
