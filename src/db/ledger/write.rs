//! The SQL of every ledger write. Values are literals made by [`text`] and decimal numbers, so
//! each statement stands alone: the runner appends them to the packets that carry user
//! statements, and the one-off writes run them in a transaction.

use std::fmt::Write as _;

use super::{TOOL_VERSION, Tables};
use crate::files::checksum::ALGO;
use crate::files::{Checksum, Direction};
use crate::rows::{Action, MigrationRow};

/// A text value as a literal: hex digits, so no character of it is ever read as SQL, whatever
/// the session's `sql_mode` (`NO_BACKSLASH_ESCAPES`, `ANSI_QUOTES`) or character set; and
/// `utf8mb4_bin`, the ledger's collation, so comparisons with its columns are exact (MySQL 8+
/// compares a plain literal in `utf8mb4_0900_ai_ci`).
pub(crate) fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2 + 40);
    out.push_str("_utf8mb4 X'");
    for b in s.bytes() {
        let _ = write!(out, "{b:02X}");
    }
    out.push_str("' COLLATE utf8mb4_bin");
    out
}

fn opt_text(s: Option<&str>) -> String {
    s.map_or_else(|| "NULL".to_owned(), text)
}

fn checksum(c: &Checksum) -> String {
    text(&c.to_string())
}

fn opt_checksum(c: Option<&Checksum>) -> String {
    c.map_or_else(|| "NULL".to_owned(), checksum)
}

/// Opens a transaction.
pub(crate) const BEGIN: &str = "START TRANSACTION";
/// Ends one.
pub(crate) const COMMIT: &str = "COMMIT";
/// Starts the clock a step's or seed's `duration_ms` is measured from (the first statement of
/// its first packet; a user variable because the end is measured by the server too).
pub(crate) const START_CLOCK: &str = "SET @dbtool_t0 = UTC_TIMESTAMP(6)";
/// Milliseconds since [`START_CLOCK`].
const DURATION: &str =
    "GREATEST(0, TIMESTAMPDIFF(MICROSECOND, @dbtool_t0, UTC_TIMESTAMP(6)) DIV 1000)";

const MIGRATION_COLUMNS: &str = "version, name, batch, checksum, checksum_algo, down_checksum, \
    state, direction, statements_done, statements_total, prefix_checksum, error, applied_at, \
    duration_ms, applied_by, tool_version";

const LOG_COLUMNS: &str =
    "at, action, version, name, seed, checksum, batch, outcome, duration_ms, actor, tool_version";

/// One `dbtool_log` row. `at`, `actor` and `tool_version` are filled in.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogEntry {
    pub(crate) action: Option<Action>,
    pub(crate) version: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) seed: Option<String>,
    pub(crate) checksum: Option<Checksum>,
    pub(crate) batch: Option<u32>,
    pub(crate) outcome: Option<String>,
    /// Whether the row's `duration_ms` is the time since [`START_CLOCK`].
    pub(crate) timed: bool,
}

impl LogEntry {
    /// A log row about a migration row.
    pub(crate) fn about(action: Action, row: &MigrationRow, outcome: &str) -> LogEntry {
        LogEntry {
            action: Some(action),
            version: Some(row.version.canonical().to_owned()),
            name: Some(row.name.clone()),
            checksum: Some(row.checksum),
            batch: Some(row.batch),
            outcome: Some(outcome.to_owned()),
            ..LogEntry::default()
        }
    }
}

/// The one builder of `dbtool_log` rows.
pub(crate) fn log(t: &Tables, e: &LogEntry) -> String {
    format!(
        "INSERT INTO {log} ({LOG_COLUMNS}) VALUES (UTC_TIMESTAMP(6), {action}, {version}, \
         {name}, {seed}, {checksum}, {batch}, {outcome}, {duration}, USER(), {tv})",
        log = t.log,
        action = opt_text(e.action.map(Action::as_str)),
        version = opt_text(e.version.as_deref()),
        name = opt_text(e.name.as_deref()),
        seed = opt_text(e.seed.as_deref()),
        checksum = opt_checksum(e.checksum.as_ref()),
        batch = e.batch.map_or("NULL".to_owned(), |b| b.to_string()),
        outcome = opt_text(e.outcome.as_deref()),
        duration = if e.timed { DURATION } else { "NULL" },
        tv = text(TOOL_VERSION),
    )
}

/// A log row copied from the migration row `key` as it is now (a failure's).
pub(crate) fn log_from_row(t: &Tables, key: &str, action: Action, outcome: &str) -> String {
    format!(
        "INSERT INTO {log} ({LOG_COLUMNS}) SELECT UTC_TIMESTAMP(6), {action}, version, name, \
         NULL, checksum, batch, {outcome}, NULL, USER(), {tv} FROM {m} WHERE version = {key}",
        log = t.log,
        m = t.migrations,
        action = text(action.as_str()),
        outcome = text(outcome),
        tv = text(TOOL_VERSION),
        key = text(key),
    )
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

    /// A new `failed` row with 0 statements done: the step is in flight.
    pub(crate) fn insert_in_flight(&self) -> String {
        format!(
            "INSERT INTO {m} ({MIGRATION_COLUMNS}) VALUES ({key}, {name}, {batch}, {ck}, {algo}, \
             {dck}, 'failed', 'up', 0, {total}, NULL, NULL, UTC_TIMESTAMP(6), 0, USER(), {tv})",
            m = self.tables.migrations,
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
        format!(
            "UPDATE {m} SET state = 'failed', direction = 'down', statements_done = 0, \
             statements_total = {total}, prefix_checksum = NULL, error = NULL, \
             down_checksum = {dck} WHERE version = {key}",
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

    /// Turns the in-flight row `applied` and logs it.
    pub(crate) fn finish_up(&self, prefix: &Checksum) -> [String; 2] {
        [
            format!(
                "UPDATE {m} SET state = 'applied', direction = 'up', statements_done = {total}, \
                 prefix_checksum = {p}, error = NULL, batch = {batch}, duration_ms = {DURATION}, \
                 applied_at = UTC_TIMESTAMP(6) WHERE version = {key}",
                m = self.tables.migrations,
                total = self.total,
                p = checksum(prefix),
                batch = self.batch,
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

    /// Logs the rollback (with the row's batch) and deletes the row.
    pub(crate) fn finish_down(&self, row_batch: u32) -> [String; 2] {
        [
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
            delete_row(self.tables, self.key),
        ]
    }
}

/// Sets a row's failure text.
pub(crate) fn set_error(t: &Tables, key: &str, error: &str) -> String {
    format!(
        "UPDATE {m} SET error = {e} WHERE version = {k}",
        m = t.migrations,
        e = text(error),
        k = text(key)
    )
}

/// Re-records a row's checksum (and name): migrate:repair.
pub(crate) fn set_checksum(t: &Tables, key: &str, name: &str, c: &Checksum) -> String {
    format!(
        "UPDATE {m} SET checksum = {c}, name = {n} WHERE version = {k}",
        m = t.migrations,
        c = checksum(c),
        n = text(name),
        k = text(key)
    )
}

/// Turns a failed row applied by hand: migrate:resolve --applied.
pub(crate) fn mark_applied(t: &Tables, key: &str, c: &Checksum, batch: u32) -> String {
    format!(
        "UPDATE {m} SET state = 'applied', direction = 'up', error = NULL, checksum = {c}, \
         batch = {batch}, statements_done = statements_total, applied_by = USER() \
         WHERE version = {k}",
        m = t.migrations,
        c = checksum(c),
        k = text(key)
    )
}

/// Deletes a row.
pub(crate) fn delete_row(t: &Tables, key: &str) -> String {
    format!(
        "DELETE FROM {m} WHERE version = {k}",
        m = t.migrations,
        k = text(key)
    )
}

/// A seed run's ledger row (inserted, or updated when it has one) and log row.
pub(crate) fn seed_ran(
    t: &Tables,
    key: &str,
    c: &Checksum,
    statements: u32,
    row_exists: bool,
) -> [String; 2] {
    let row = if row_exists {
        format!(
            "UPDATE {s} SET checksum = {c}, checksum_algo = {algo}, \
             last_run_at = UTC_TIMESTAMP(6), run_count = run_count + 1, duration_ms = {DURATION}, \
             run_by = USER(), tool_version = {tv} WHERE path = {k}",
            s = t.seeds,
            c = checksum(c),
            algo = text(ALGO),
            tv = text(TOOL_VERSION),
            k = text(key),
        )
    } else {
        format!(
            "INSERT INTO {s} (path, checksum, checksum_algo, first_run_at, last_run_at, \
             run_count, duration_ms, run_by, tool_version) VALUES ({k}, {c}, {algo}, \
             UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), 1, {DURATION}, USER(), {tv})",
            s = t.seeds,
            c = checksum(c),
            algo = text(ALGO),
            tv = text(TOOL_VERSION),
            k = text(key),
        )
    };
    let log_row = log(
        t,
        &LogEntry {
            action: Some(Action::SeedRun),
            seed: Some(key.to_owned()),
            checksum: Some(*c),
            outcome: Some(format!("statements: {statements}")),
            timed: true,
            ..LogEntry::default()
        },
    );
    [row, log_row]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_literals_are_hex_whatever_the_value() {
        assert_eq!(text(""), "_utf8mb4 X'' COLLATE utf8mb4_bin");
        assert_eq!(text("a'b"), "_utf8mb4 X'612762' COLLATE utf8mb4_bin");
        assert_eq!(text("é\\"), "_utf8mb4 X'C3A95C' COLLATE utf8mb4_bin");
    }
}
