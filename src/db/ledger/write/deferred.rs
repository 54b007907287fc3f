//! The end of a step whose last statement committed implicitly, written later.
//!
//! The write that records such a statement must be the first statement after it and commit on
//! its own (see `runner::step`): that is one durable commit, the cost of one log flush. Turning
//! the row `applied` (or deleting it, for a rollback) and logging the action there too would
//! take two more. So that write records the step with *every statement done*, still `failed`
//! (a row that says exactly how far the step got: to its end), and marks the next step in flight
//! in the same statement; the step's end is [`Deferred`] and written in a transaction dbtool
//! commits anyway (the next atomic step's, a failure's record, a run's last), or a quarter
//! second after the oldest at most (`runner::pending`). A run killed in between leaves rows
//! with every statement done, which the next run finishes without running anything (a resume
//! at the end).

use super::super::{TOOL_VERSION, Tables};
use super::{LOG_COLUMNS, LockRef, guard, text};
use crate::files::Direction;
use crate::rows::Action;

/// A step whose statements have all run and whose end is still to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Deferred {
    /// The row's key: the canonical version.
    pub(crate) key: String,
    pub(crate) direction: Direction,
    /// Statements in the file that ran.
    pub(crate) total: u32,
}

/// The statements that end every step of `pending`, in order, with the guard that checks they
/// took (none when nothing is pending). They belong in a transaction.
pub(crate) fn finish(t: &Tables, lock: &LockRef, pending: &[Deferred]) -> Vec<String> {
    if pending.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<String> = pending.iter().map(|d| log_row(t, d)).collect();
    let keys = |dir: Direction| -> Vec<String> {
        pending
            .iter()
            .filter(|d| d.direction == dir)
            .map(|d| text(&d.key))
            .collect()
    };
    let (ups, downs) = (keys(Direction::Up), keys(Direction::Down));
    let m = &t.migrations;
    let all_done = "state = 'failed' AND statements_done = statements_total";
    let mut cond = Vec::new();
    if !ups.is_empty() {
        let list = ups.join(", ");
        out.push(format!(
            "UPDATE {m} SET state = 'applied', error = NULL WHERE version IN ({list}) \
             AND {all_done} AND direction = 'up'"
        ));
        cond.push(format!(
            "(SELECT COUNT(*) FROM {m} WHERE version IN ({list}) AND state = 'applied') = {}",
            ups.len()
        ));
    }
    if !downs.is_empty() {
        let list = downs.join(", ");
        out.push(format!(
            "DELETE FROM {m} WHERE version IN ({list}) AND {all_done} AND direction = 'down'"
        ));
        cond.push(format!(
            "NOT EXISTS (SELECT 1 FROM {m} WHERE version IN ({list}))"
        ));
    }
    out.push(guard(lock, t.migrations_name.as_str(), &cond.join(" AND ")));
    out
}

/// The log row of a deferred step, copied from its row: an application is logged at the time
/// its last statement was recorded, with the duration recorded then.
fn log_row(t: &Tables, d: &Deferred) -> String {
    let (at, action, checksum, outcome) = match d.direction {
        Direction::Up => (
            "applied_at",
            Action::Applied,
            "checksum",
            format!("statements: {}", d.total),
        ),
        Direction::Down => (
            "UTC_TIMESTAMP(6)",
            Action::RolledBack,
            "down_checksum",
            format!("down statements: {}", d.total),
        ),
    };
    format!(
        "INSERT INTO {log} ({LOG_COLUMNS}) SELECT {at}, {action}, version, name, NULL, \
         {checksum}, batch, {outcome}, duration_ms, USER(), {tv} FROM {m} WHERE version = {key} \
         AND state = 'failed' AND direction = '{dir}' AND statements_done = statements_total",
        log = t.log,
        m = t.migrations,
        action = text(action.as_str()),
        outcome = text(&outcome),
        tv = text(TOOL_VERSION),
        key = text(&d.key),
        dir = d.direction.as_str(),
    )
}
