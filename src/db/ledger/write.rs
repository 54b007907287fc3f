//! The SQL of every ledger write. Values are literals made by [`text`] and decimal numbers, so
//! each statement stands alone: the runner appends them to the packets that carry user
//! statements, and the one-off writes run them in a transaction.

use super::{TOOL_VERSION, Tables};
use crate::files::Checksum;
use crate::files::checksum::ALGO;
use crate::rows::{Action, MigrationRow};

pub(crate) mod checked;
pub(crate) mod deferred;
mod step;
pub(crate) use deferred::Deferred;
pub(crate) use step::{Expect, StepRecord};

/// A text value as a literal: hex digits, so no character of it is ever read as SQL, whatever
/// the session's `sql_mode` (`NO_BACKSLASH_ESCAPES`, `ANSI_QUOTES`) or character set; and
/// `utf8mb4_bin`, the ledger's collation, so comparisons with its columns are exact (MySQL 8+
/// compares a plain literal in `utf8mb4_0900_ai_ci`).
pub(crate) fn text(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len() * 2 + 40);
    out.push_str("_utf8mb4 X'");
    // By table, not `write!`: the ledger writes of a run encode a few hundred KiB, and the
    // formatting machinery made this a third of a rollback's instructions.
    for b in s.bytes() {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out.push_str("' COLLATE utf8mb4_bin");
    out
}

pub(super) fn opt_text(s: Option<&str>) -> String {
    s.map_or_else(|| "NULL".to_owned(), text)
}

pub(super) fn checksum(c: &Checksum) -> String {
    text(&c.to_string())
}

pub(super) fn opt_checksum(c: Option<&Checksum>) -> String {
    c.map_or_else(|| "NULL".to_owned(), checksum)
}

/// Opens a transaction around user statements (with dbtool's write that records them).
pub(crate) const BEGIN: &str = "START TRANSACTION";
/// Opens dbtool's own transaction around a ledger write that follows a statement which
/// committed implicitly: the write is committed explicitly, so it holds even when a migration
/// turned autocommit off, and READ WRITE even when it made the session read only.
pub(crate) const BEGIN_WRITE: &str = "START TRANSACTION READ WRITE";
/// Commits whatever `completion_type` a migration set (CHAIN would open a transaction that
/// swallows the next statement, RELEASE would end the connection).
pub(crate) const COMMIT: &str = "COMMIT AND NO CHAIN NO RELEASE";
/// Starts the clock a step's or seed's `duration_ms` is measured from (the first statement of
/// its first packet; a user variable because the end is measured by the server too).
pub(crate) const START_CLOCK: &str = "SET @dbtool_t0 = UTC_TIMESTAMP(6)";
/// Milliseconds since [`START_CLOCK`].
pub(super) const DURATION: &str =
    "GREATEST(0, TIMESTAMPDIFF(MICROSECOND, @dbtool_t0, UTC_TIMESTAMP(6)) DIV 1000)";

pub(super) const MIGRATION_COLUMNS: &str = "version, name, batch, checksum, checksum_algo, down_checksum, \
    state, direction, statements_done, statements_total, prefix_checksum, error, applied_at, \
    duration_ms, applied_by, tool_version";

const LOG_COLUMNS: &str =
    "at, action, version, name, seed, checksum, batch, outcome, duration_ms, actor, tool_version";

/// A migration recorded as applied without running (migrate:baseline): every statement done,
/// with the file's checksums, and its log row.
pub(crate) fn baselined(t: &Tables, b: &Baselined<'_>, batch: u32) -> [String; 2] {
    [
        format!(
            "INSERT INTO {m} ({MIGRATION_COLUMNS}) VALUES ({key}, {name}, {batch}, {ck}, {algo}, \
             {dck}, 'applied', 'up', {total}, {total}, {p}, NULL, UTC_TIMESTAMP(6), 0, USER(), {tv})",
            m = t.migrations,
            key = text(b.key),
            name = text(b.name),
            ck = checksum(b.checksum),
            algo = text(ALGO),
            dck = opt_checksum(b.down_checksum),
            total = b.total,
            p = checksum(b.prefix),
            tv = text(TOOL_VERSION),
        ),
        log(
            t,
            &LogEntry {
                action: Some(b.action),
                version: Some(b.key.to_owned()),
                name: Some(b.name.to_owned()),
                checksum: Some(*b.checksum),
                batch: Some(batch),
                outcome: Some(b.outcome.to_owned()),
                ..LogEntry::default()
            },
        ),
    ]
}

/// What migrate:baseline (or migrate:import) records of one migration.
pub(crate) struct Baselined<'a> {
    /// `Baselined` or `Imported`.
    pub(crate) action: Action,
    pub(crate) key: &'a str,
    pub(crate) name: &'a str,
    pub(crate) checksum: &'a Checksum,
    pub(crate) down_checksum: Option<&'a Checksum>,
    pub(crate) total: u32,
    pub(crate) prefix: &'a Checksum,
    pub(crate) outcome: String,
}

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

/// dbtool's migration lock as the guards check it: its name and the connection that holds it
/// (a connection of its own, so no statement on the work connection can release it).
#[derive(Debug, Clone)]
pub(crate) struct LockRef {
    pub(crate) name: String,
    pub(crate) id: u32,
}

/// A statement that fails unless `cond` holds and the lock is still dbtool's: it follows
/// every ledger write in a packet, so a write that changed nothing (its row was deleted by a
/// migration's own SQL) or a lost lock stops the packet before the next user statement, and
/// before its COMMIT.
///
/// It sets the session's time zone to itself, or, when the check fails, to a text no time
/// zone has: ERROR 1298 on both servers, whose message quotes the text. The text names the
/// ledger table, so even in a packet whose results cannot be counted (after a CALL) the error
/// is known to be dbtool's.
pub(super) fn guard(lock: &LockRef, table: &str, cond: &str) -> String {
    format!(
        "SET @@session.time_zone = IF({cond} AND IS_USED_LOCK({name}) <=> {id}, \
         @@session.time_zone, '{table}: {GUARD_TEXT}')",
        name = text(&lock.name),
        id = lock.id
    )
}

/// The error a failed guard gives (ER_UNKNOWN_TIME_ZONE), and the text it quotes.
pub(crate) const GUARD_FAILED: u16 = 1298;
pub(crate) const GUARD_TEXT: &str = "the ledger write did not take";

/// Sets a row's failure text.
pub(crate) fn set_error(t: &Tables, key: &str, error: &str) -> String {
    format!(
        "UPDATE {m} SET error = {e} WHERE version = {k}",
        m = t.migrations,
        e = text(error),
        k = text(key)
    )
}

/// Clears a row's failure text (the online path's progress note, once the engine ended).
pub(crate) fn clear_error(t: &Tables, key: &str) -> String {
    format!(
        "UPDATE {m} SET error = NULL WHERE version = {k}",
        m = t.migrations,
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

/// The guard after a seed's ledger write: its row holds the checksum just written.
pub(crate) fn seed_guard(t: &Tables, lock: &LockRef, key: &str, c: &Checksum) -> String {
    guard(
        lock,
        t.seeds_name.as_str(),
        &format!(
            "EXISTS (SELECT 1 FROM {s} WHERE path = {k} AND checksum = {c})",
            s = t.seeds,
            k = text(key),
            c = checksum(c)
        ),
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
