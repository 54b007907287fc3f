//! What a stopped step means for the user: a refused statement (with what it kept), a ledger
//! write that failed, or a signal.

use super::failure::{Settled, Stop, settle};
use super::prepare::Unit;
use super::step::StepRun;
use super::{Conns, Interrupt, Tables, ledger_failure};
use crate::db::ledger;
use crate::db::ledger::write::deferred;
use crate::error::{Error, FailureContext, StatementFailure};
use crate::files::Direction;
use crate::rows::Action;

/// A signal stopped the run inside a step, between two packets: what was sent is recorded;
/// the ledger row says where it stopped (so the next run does not guess).
pub(super) async fn stopped_in_step(
    c: &mut Conns<'_>,
    t: &Tables,
    step: &StepRun<'_>,
    unit: Option<Unit>,
) -> Error {
    let p = step.p;
    let start = p.step.start();
    let committed = unit.map_or(start, |u| u.from);
    let signal = c.signals.got.unwrap_or(Interrupt::Int);
    let has_row = unit.is_some() || p.step.row.is_some();
    if has_row {
        let text = format!(
            "stopped by {} before statement {} (nothing of it ran)",
            signal.name(),
            committed + 1
        );
        let action = match p.step.direction {
            Direction::Up => Action::Failed,
            Direction::Down => Action::RollbackFailed,
        };
        let first = deferred::finish(t, &c.lock, step.pending);
        if let Err(e) = ledger::record_failure(c.work, t, p.step.key(), action, &text, first).await
        {
            tracing::warn!("could not record the stop in the ledger: {e}");
        }
    }
    Error::Interrupted {
        signal,
        during: None,
        before: Some(format!("statement {} of {}", committed + 1, p.path())),
    }
}

/// Turns a step's stop into the user's error, after recording it in the ledger when the
/// connection still allows.
pub(super) async fn step_failed(
    c: &mut Conns<'_>,
    t: &Tables,
    step: &StepRun<'_>,
    stop: Stop,
    unit: Option<Unit>,
    (gave_up, lock_wait): (bool, Option<crate::error::LockWaited>),
) -> Error {
    let p = step.p;
    let refused = match settle(c.work, p.path(), stop).await {
        Settled::User(r) => r,
        Settled::Other(e) => return e,
        Settled::Stopped => return stopped_in_step(c, t, step, unit).await,
        Settled::Ledger {
            error,
            before_users,
        } => {
            // A write dbtool stopped for waiting would wait again: no second attempt.
            let retry = !gave_up;
            return ledger_failure::step(c, step.rec, p, unit, before_users, error, retry).await;
        }
    };
    let start = p.step.start();
    let (committed, rolled_back_from) = match unit {
        None => (start, (start > 0).then_some(start + 1)),
        Some(u) if u.transactional => (u.from, Some(u.from + 1)),
        Some(u) => (u.from, None),
    };
    let atomic = unit.is_none() && start == 0 && p.step.row.is_none();
    let lost = refused.error.is_lost();
    // Rows a rollback could not undo: the tables the rolled-back statements wrote to that do
    // not roll back.
    let kept = if refused.kept_rows {
        let from = rolled_back_from.map_or(start, |f| f - 1) as usize;
        let targets: Vec<String> = p.statements[from..refused.number as usize]
            .iter()
            .filter_map(|s| crate::sql::classify::write_target(s.sql()))
            .collect();
        Some(c.work.non_transactional(&targets).await)
    } else {
        None
    };
    if !lost && !atomic {
        let text = format!(
            "statement {} (line {}): {}",
            refused.number, refused.line, refused.error
        );
        let action = match p.step.direction {
            Direction::Up => Action::Failed,
            Direction::Down => Action::RollbackFailed,
        };
        let first = deferred::finish(t, &c.lock, step.pending);
        if let Err(e) = ledger::record_failure(c.work, t, p.step.key(), action, &text, first).await
        {
            tracing::warn!("could not record the failure in the ledger: {e}");
        }
    }
    Error::Statement(Box::new(StatementFailure {
        path: p.path().to_owned(),
        line: refused.line,
        number: refused.number,
        total: Some(p.total()),
        error: refused.error,
        context: FailureContext::Migration {
            version: p.step.key().to_owned(),
            direction: p.step.direction,
            committed,
            rolled_back_from,
            atomic,
            kept,
            lock_wait,
        },
    }))
}
