//! The ledger writes of a *checked run* (see `runner::checked`): consecutive one-statement
//! migrations whose statement creates or drops a table or view, run with no ledger write
//! between them, because the schema itself records which of them ran.
//!
//! Before the first statement one transaction marks every migration of the run in flight, each
//! row `failed` with 0 statements done and a [`Marker`] in its `error` column naming the work
//! connection (and, for a rollback, what the row held while applied). Migrations whose
//! statement ran are recorded in batches (at most a quarter of a second after the oldest, and
//! at the run's end): every statement done, then their end as for a deferred step. A run that
//! stops marks the rest not run again; a run killed leaves marked rows, which the next migrate
//! command settles from the schema before it plans.

use super::super::{TOOL_VERSION, Tables};
use super::{
    LOG_COLUMNS, LockRef, MIGRATION_COLUMNS, checksum, delete_row, guard, opt_checksum, text,
};
use crate::files::{Checksum, Direction};
use crate::rows::MigrationRow;

/// The text every marker starts with.
pub(crate) const MARK: &str = "dbtool: in flight in a checked run on connection ";
/// What a marker says after its connection.
const NEXT: &str = "; the schema shows whether it ran, and the next migrate command records it";
const WAS: &str = " (applied before as ";

/// What a rolled-back row held while applied, to restore it when its statement did not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Was {
    pub(crate) done: u32,
    pub(crate) total: u32,
    pub(crate) prefix: Option<Checksum>,
    pub(crate) down_checksum: Option<Checksum>,
}

impl Was {
    pub(crate) fn of(row: &MigrationRow) -> Was {
        Was {
            done: row.statements_done,
            total: row.statements_total,
            prefix: row.prefix_checksum,
            down_checksum: row.down_checksum,
        }
    }
}

/// The `error` text of a row in flight in a checked run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Marker {
    /// The work connection that runs the statements.
    pub(crate) connection: u32,
    /// For a rollback: the applied row it replaced.
    pub(crate) was: Option<Was>,
}

fn opt_hex(c: Option<&Checksum>) -> String {
    c.map_or_else(|| "-".to_owned(), Checksum::to_string)
}

impl Marker {
    pub(crate) fn text(&self) -> String {
        let was = self.was.as_ref().map_or_else(String::new, |w| {
            format!(
                "{WAS}{}/{} {} {})",
                w.done,
                w.total,
                opt_hex(w.prefix.as_ref()),
                opt_hex(w.down_checksum.as_ref())
            )
        });
        format!("{MARK}{}{NEXT}{was}", self.connection)
    }

    /// The marker an `error` text holds, if it is one.
    pub(crate) fn parse(error: &str) -> Option<Marker> {
        let rest = error.strip_prefix(MARK)?;
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let connection = rest[..digits].parse().ok()?;
        let rest = rest[digits..].strip_prefix(NEXT)?;
        if rest.is_empty() {
            return Some(Marker {
                connection,
                was: None,
            });
        }
        let inner = rest.strip_prefix(WAS)?.strip_suffix(')')?;
        let mut parts = inner.split(' ');
        let (counts, prefix, down) = (parts.next()?, parts.next()?, parts.next()?);
        let (done, total) = counts.split_once('/')?;
        let hex = |s: &str| -> Option<Option<Checksum>> {
            if s == "-" {
                Some(None)
            } else {
                s.parse().ok().map(Some)
            }
        };
        Some(Marker {
            connection,
            was: Some(Was {
                done: done.parse().ok()?,
                total: total.parse().ok()?,
                prefix: hex(prefix)?,
                down_checksum: hex(down)?,
            }),
        })
    }
}

/// A row of the run, as its writes need it.
pub(crate) struct Member<'a> {
    pub(crate) rec: &'a super::StepRecord<'a>,
    pub(crate) direction: Direction,
    /// The checksum of its one statement (its prefix once done).
    pub(crate) prefix: Checksum,
    /// For a rollback: the applied row.
    pub(crate) was: Option<Was>,
}

/// The rows' keys as a list for `version IN (…)`.
fn keys<'k>(keys: impl Iterator<Item = &'k str>) -> String {
    keys.map(text).collect::<Vec<_>>().join(", ")
}

/// Marks every member in flight with its marker, and checks they all are (one guard).
pub(crate) fn mark(
    t: &Tables,
    lock: &LockRef,
    connection: u32,
    members: &[Member<'_>],
) -> Vec<String> {
    let marker = |m: &Member<'_>| {
        Marker {
            connection,
            was: m.was.clone(),
        }
        .text()
    };
    let mut out = Vec::with_capacity(members.len() + 2);
    // Applications: one INSERT of every row.
    let ups: Vec<String> = members
        .iter()
        .filter(|m| m.direction == Direction::Up)
        .map(|m| format!("({})", m.rec.in_flight_values_with(Some(&marker(m)))))
        .collect();
    if !ups.is_empty() {
        out.push(format!(
            "INSERT INTO {} ({MIGRATION_COLUMNS}) VALUES {}",
            t.migrations,
            ups.join(", ")
        ));
    }
    let downs: Vec<&Member<'_>> = members
        .iter()
        .filter(|m| m.direction == Direction::Down)
        .collect();
    if !downs.is_empty() {
        // One UPDATE of every row: the marker and down file's figures differ by row.
        out.push(format!(
            "UPDATE {m} SET state = 'failed', direction = 'down', statements_done = 0, \
             prefix_checksum = NULL, {total}, {down}, {error} WHERE version IN ({keys})",
            m = t.migrations,
            total = case(&downs, "statements_total", |m| (
                m.rec.key,
                m.rec.total.to_string()
            )),
            down = case(&downs, "down_checksum", |m| {
                (m.rec.key, opt_checksum(m.rec.down_checksum.as_ref()))
            }),
            error = case(&downs, "error", |m| (m.rec.key, text(&marker(m)))),
            keys = keys(downs.iter().map(|m| m.rec.key)),
        ));
    }
    let cond = format!(
        "(SELECT COUNT(*) FROM {m} WHERE version IN ({k}) AND state = 'failed' AND \
         statements_done = 0 AND error LIKE {mark}) = {n}",
        m = t.migrations,
        k = keys(members.iter().map(|m| m.rec.key)),
        mark = text(&format!("{MARK}%")),
        n = members.len()
    );
    out.push(guard(lock, t.migrations_name.as_str(), &cond));
    out
}

/// When a member's statement ended, as the run measured it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ran {
    /// Microseconds from the statement's end to the write that records it.
    pub(crate) ago_us: u64,
    pub(crate) duration_ms: u64,
}

/// `col = CASE version WHEN … THEN … END`: a value for each row of `items` (`arm` gives its
/// key and value).
fn case<T>(items: &[T], col: &str, arm: impl Fn(&T) -> (&str, String)) -> String {
    let arms: String = items
        .iter()
        .map(|x| {
            let (key, value) = arm(x);
            format!(" WHEN {} THEN {value}", text(key))
        })
        .collect();
    format!("{col} = CASE version{arms} ELSE {col} END")
}

/// Records the statements of `ran` done and ends their rows (applied, or gone for a rollback),
/// logging each: a few statements for all of them, whatever their number, and the guard that
/// checks they took. `ran` are in the run's order, one direction; a member's time is None when
/// the next run found its statement done.
pub(crate) fn ended(t: &Tables, lock: &LockRef, ran: &[(&Member<'_>, Option<Ran>)]) -> Vec<String> {
    let Some((first, _)) = ran.first() else {
        return Vec::new();
    };
    let up = first.direction == Direction::Up;
    let list = keys(ran.iter().map(|(m, _)| m.rec.key));
    let ago = |r: Option<Ran>| {
        r.map_or("UTC_TIMESTAMP(6)".to_owned(), |r| {
            format!("UTC_TIMESTAMP(6) - INTERVAL {} MICROSECOND", r.ago_us)
        })
    };
    let mut sets = vec![
        case(ran, "prefix_checksum", |(m, _)| {
            (m.rec.key, checksum(&m.prefix))
        }),
        case(ran, "duration_ms", |(m, r)| {
            let d = r.map_or("duration_ms".to_owned(), |r| r.duration_ms.to_string());
            (m.rec.key, d)
        }),
    ];
    if up {
        sets.push(case(ran, "applied_at", |(m, r)| (m.rec.key, ago(*r))));
    }
    let m = &t.migrations;
    let run_rows = format!(
        "version IN ({list}) AND direction = '{}'",
        first.direction.as_str()
    );
    let (action, at, ck, outcome, order) = if up {
        ("applied", "applied_at", "checksum", "statements: 1", "")
    } else {
        (
            "rolled_back",
            "UTC_TIMESTAMP(6)",
            "down_checksum",
            "down statements: 1",
            " DESC",
        )
    };
    let (end, cond) = if up {
        (
            format!("UPDATE {m} SET state = 'applied' WHERE {run_rows} AND state = 'failed'"),
            format!(
                "(SELECT COUNT(*) FROM {m} WHERE version IN ({list}) AND state = 'applied') = {}",
                ran.len()
            ),
        )
    } else {
        (
            format!("DELETE FROM {m} WHERE {run_rows} AND state = 'failed'"),
            format!("NOT EXISTS (SELECT 1 FROM {m} WHERE version IN ({list}))"),
        )
    };
    vec![
        format!(
            "UPDATE {m} SET statements_done = statements_total, error = NULL, {} WHERE {run_rows} \
             AND state = 'failed' AND statements_done = 0",
            sets.join(", ")
        ),
        format!(
            "INSERT INTO {log} ({LOG_COLUMNS}) SELECT {at}, {action}, version, name, NULL, {ck}, \
             batch, {outcome}, duration_ms, USER(), {tv} FROM {m} WHERE {run_rows} \
             AND state = 'failed' AND statements_done = statements_total \
             ORDER BY LENGTH(version){order}, version{order}",
            log = t.log,
            action = text(action),
            outcome = text(outcome),
            tv = text(TOOL_VERSION),
        ),
        end,
        guard(lock, t.migrations_name.as_str(), &cond),
    ]
}

/// Marks a member not run again: an application's row goes, a rollback's row is applied as it
/// was.
pub(crate) fn not_run(t: &Tables, m: &Member<'_>) -> String {
    match (&m.was, m.direction) {
        (Some(w), Direction::Down) => format!(
            "UPDATE {tb} SET state = 'applied', direction = 'up', statements_done = {d}, \
             statements_total = {tot}, prefix_checksum = {p}, down_checksum = {dc}, \
             error = NULL WHERE version = {k}",
            tb = t.migrations,
            d = w.done,
            tot = w.total,
            p = opt_checksum(w.prefix.as_ref()),
            dc = opt_checksum(w.down_checksum.as_ref()),
            k = text(m.rec.key),
        ),
        _ => delete_row(t, m.rec.key),
    }
}

/// Leaves a member as an ordinary row in flight (its statement is the one to run next).
pub(crate) fn in_flight(t: &Tables, m: &Member<'_>) -> String {
    super::clear_error(t, m.rec.key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_read_back_what_they_wrote() {
        let up = Marker {
            connection: 4711,
            was: None,
        };
        assert_eq!(Marker::parse(&up.text()), Some(up.clone()));
        let c: Checksum = "ab".repeat(32).parse().unwrap();
        let down = Marker {
            connection: 12,
            was: Some(Was {
                done: 1,
                total: 1,
                prefix: Some(c),
                down_checksum: None,
            }),
        };
        assert_eq!(Marker::parse(&down.text()), Some(down.clone()));
        assert_eq!(Marker::parse("statement 1 (line 1): ERROR 1050"), None);
        assert_eq!(Marker::parse(&format!("{MARK}12; something else")), None);
    }
}
