//! When one of dbtool's own ledger writes (or the guard after it) fails once user statements
//! may have run: what is known to be committed, what the ledger records, and why the write
//! failed. A statement that committed but was not recorded is recorded now when the connection
//! allows, so the ledger tells the truth whenever it can.

use mysql_async::prelude::Queryable;

use super::prepare::{Prepared, Unit};
use super::{Conns, Tables};
use crate::db::ledger::write::{BEGIN_WRITE, COMMIT, Expect, GUARD_FAILED, GUARD_TEXT, StepRecord};
use crate::db::ledger::{self};
use crate::db::{DbError, codes};
use crate::error::{Error, LedgerCause, LedgerWriteFailure};

/// Why the write failed, checked on the lock's connection.
async fn diagnose(c: &mut Conns<'_>, t: &Tables, key: Option<&str>, error: DbError) -> LedgerCause {
    let desync = matches!(&error, DbError::Server(e)
        if (e.code == GUARD_FAILED && e.message.contains(GUARD_TEXT))
            || e.code == codes::NO_SUCH_TABLE);
    if !desync {
        return LedgerCause::Server(error);
    }
    match c.control.lock_holder(&c.lock.name).await {
        Ok(Some(h)) if h.connection_id == u64::from(c.lock.id) => {}
        Ok(_) => return LedgerCause::LockLost,
        Err(_) => return LedgerCause::Server(error),
    }
    let now = match key {
        Some(key) => ledger::describe_row(c.control, t, key).await,
        None => ledger::describe_seeds(c.control, t).await,
    };
    LedgerCause::RowChanged(now.unwrap_or_else(|e| format!("it cannot be read ({e})")))
}

/// A migration step's ledger write failed.
pub(super) async fn step(
    c: &mut Conns<'_>,
    rec: &StepRecord<'_>,
    p: &Prepared,
    unit: Option<Unit>,
    before_users: bool,
    error: DbError,
    retry: bool,
) -> Error {
    let start = p.step.start();
    // A statement that committed implicitly is kept; a transaction was rolled back.
    let (committed, mut recorded) = match unit {
        Some(u) if !u.transactional && !before_users => (u.to, u.from),
        Some(u) => (u.from, u.from),
        None => (start, start),
    };
    let cause = diagnose(c, rec.tables, Some(rec.key), error).await;
    if retry
        && committed > recorded
        && let LedgerCause::Server(e) = &cause
        && !e.is_lost()
    {
        let write = [
            BEGIN_WRITE.to_owned(),
            rec.progress(committed, &p.prefix(committed)),
            rec.guard(
                &c.lock,
                Expect::Failed {
                    direction: p.step.direction,
                    done: committed,
                },
            ),
            COMMIT.to_owned(),
        ];
        if c.work.run_packet(&write.join(";\n")).await.is_ok() {
            recorded = committed;
        } else {
            let _ = c.work.conn.query_drop("ROLLBACK").await;
        }
    }
    Error::LedgerWrite(Box::new(LedgerWriteFailure {
        path: p.path().to_owned(),
        version: Some(rec.key.to_owned()),
        direction: p.step.direction,
        // A write before the unit's statements failed: none of them ran.
        after_statement: unit.filter(|_| !before_users).map(|u| u.to),
        total: p.total(),
        committed,
        recorded,
        cause,
    }))
}

/// A seed's ledger write failed: its transaction was rolled back with it.
pub(super) async fn seed(c: &mut Conns<'_>, t: &Tables, path: &str, error: DbError) -> Error {
    let cause = diagnose(c, t, None, error).await;
    Error::LedgerWrite(Box::new(LedgerWriteFailure {
        path: path.to_owned(),
        version: None,
        direction: crate::files::Direction::Up,
        after_statement: None,
        total: 0,
        committed: 0,
        recorded: 0,
        cause,
    }))
}
