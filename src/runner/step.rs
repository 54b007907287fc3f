//! The packets of one migration step: its in-flight mark, its units with the writes that record
//! them, and its end (see the module doc of `runner` for why they are shaped so).

use std::cell::Cell;
use std::time::Duration;

use super::failure::Stop;
use super::prepare::{Prepared, Unit};
use crate::config::DdlWait;
use crate::db::DbError;
use crate::db::ledger::write::{
    BEGIN, BEGIN_WRITE, COMMIT, Deferred, Expect, LockRef, START_CLOCK, StepRecord, deferred,
};
use crate::db::packet::{FailedAt, Sender};
use crate::files::Direction;
use crate::sql::Statement;

/// One step as it runs: its ledger record, the lock the guards check, and the next step
/// (whose in-flight mark rides this step's last packet).
pub(super) struct StepRun<'a> {
    pub(super) rec: &'a StepRecord<'a>,
    pub(super) p: &'a Prepared,
    pub(super) lock: &'a LockRef,
    pub(super) in_flight: bool,
    pub(super) next: Option<&'a (StepRecord<'a>, &'a Prepared)>,
    /// Earlier steps whose end is deferred: a step whose last packet is a transaction writes
    /// them in it.
    pub(super) pending: &'a [Deferred],
    /// How long its statements wait for a lock, and how often one that gave up is retried.
    pub(super) ddl: DdlWait,
    /// Retries made of the statement that failed last (for its message).
    pub(super) retried: Cell<u32>,
    /// The online path's settings (`-- dbtool:online`, `[online]`).
    pub(super) online: &'a super::online::OnlineCtx,
}

impl StepRun<'_> {
    /// The statement that bounds how long the step's statements wait for a metadata lock:
    /// a DDL statement waiting for one blocks every later query on its table.
    fn lock_wait(&self) -> Option<String> {
        let secs = self.ddl.wait.as_secs_f64().ceil() as u64;
        (secs > 0).then(|| format!("SET SESSION lock_wait_timeout = {secs}"))
    }
}

/// The user statement that gave up waiting for a lock, if that is why `stop` stopped the step
/// (ER_LOCK_WAIT_TIMEOUT: the server undid the statement, nothing of it ran).
pub(super) fn gave_up_waiting(stop: &Stop) -> Option<(u32, u64)> {
    match stop {
        Stop::Send(f) => match (&f.at, &f.error) {
            (FailedAt::User { number, line, .. }, DbError::Server(e)) if e.code == 1205 => {
                Some((*number, *line))
            }
            _ => None,
        },
        _ => None,
    }
}

/// Whether to send a statement that gave up waiting for a lock again; if so, says so and
/// pauses first (1 s, 2 s, 4 s, … at most 30 s), answering signals meanwhile.
async fn retry(s: &mut Sender<'_>, step: &StepRun<'_>, stop: &Stop) -> bool {
    let Some((number, line)) = gave_up_waiting(stop) else {
        return false;
    };
    let tries = step.retried.get();
    if step.ddl.wait.is_zero() || tries >= step.ddl.retries {
        return false;
    }
    step.retried.set(tries + 1);
    let pause = Duration::from_secs(1 << tries.min(5)).min(Duration::from_secs(30));
    let held = s
        .last_wait()
        .map(|w| format!(" (it waited for {w})"))
        .unwrap_or_default();
    tracing::warn!(
        "{}:{line}: statement {number} gave up after waiting {} s for a lock \
         (ddl_lock_wait){held}; nothing of it ran. Trying again in {} s (retry {} of {})",
        step.p.path(),
        step.ddl.wait.as_secs_f64().ceil(),
        pause.as_secs(),
        tries + 1,
        step.ddl.retries
    );
    s.pause(pause).await;
    true
}

/// Sends `statements` and then `after`, dbtool's statements that end the packet.
pub(super) async fn send(
    s: &mut Sender<'_>,
    statements: &[Statement],
    after: &[&str],
) -> Result<(), Stop> {
    for st in statements {
        s.user(st).await?;
    }
    s.finish(after).await?;
    Ok(())
}

/// How a step that ran ended in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ended {
    /// Its end is written, and so are the pending steps'.
    Written,
    /// Its row records every statement done; its end is deferred (see
    /// [`crate::db::ledger::write::deferred`]). The pending steps are still pending.
    Deferred,
}

/// The write that marks a step in flight (unless it runs in one transaction), with its guard.
pub(super) fn mark(rec: &StepRecord<'_>, p: &Prepared, lock: &LockRef) -> Vec<String> {
    if p.atomic {
        return Vec::new();
    }
    let d = p.step.direction;
    let write = match (d, &p.step.row, p.step.resume) {
        (Direction::Up, None, _) => rec.insert_in_flight(),
        (Direction::Up, Some(_), _) => rec.resume_in_flight(Direction::Up),
        (Direction::Down, _, None) => rec.down_in_flight(),
        (Direction::Down, _, Some(_)) => rec.resume_in_flight(Direction::Down),
    };
    vec![write, mark_guard(rec, p, lock)]
}

fn mark_guard(rec: &StepRecord<'_>, p: &Prepared, lock: &LockRef) -> String {
    let expect = Expect::Failed {
        direction: p.step.direction,
        done: p.step.start(),
    };
    rec.guard(lock, expect)
}

/// Whether the next step's mark can share the statement that records this step's end: a new
/// row for an application, an applied row for a rollback.
fn mergeable(next: &Prepared) -> bool {
    !next.atomic
        && match next.step.direction {
            Direction::Up => next.step.row.is_none(),
            Direction::Down => next.step.resume.is_none(),
        }
}

/// The statements that end a step in one transaction: the pending steps' ends, its row applied
/// (or deleted), its log row, the guard, the next step's mark, the commit.
fn finish_now(step: &StepRun<'_>) -> Vec<String> {
    let StepRun { rec, p, lock, .. } = *step;
    let all = p.prefix(p.total());
    let (writes, expect) = match (p.step.direction, &p.step.row) {
        (Direction::Down, row) => (
            rec.finish_down(row.as_ref().map_or(rec.batch, |r| r.batch)),
            Expect::Gone,
        ),
        (Direction::Up, None) if p.atomic => (rec.insert_applied(&all), Expect::Applied),
        (Direction::Up, _) => (rec.finish_up(&all), Expect::Applied),
    };
    let mut out = deferred::finish(rec.tables, lock, step.pending);
    out.extend(writes);
    out.push(rec.guard(lock, expect));
    if let Some((r, n)) = step.next {
        out.extend(mark(r, n, lock));
    }
    out.push(COMMIT.to_owned());
    out
}

/// The statements after a step's last statement when it committed implicitly: first, alone
/// and autocommitted, the write that records every statement done (with the next step's mark
/// when it can share it); its guards; then the next step's mark if it could not.
fn finish_deferred(step: &StepRun<'_>) -> Vec<String> {
    let StepRun { rec, p, lock, .. } = *step;
    let d = p.step.direction;
    let merged = step.next.filter(|(_, n)| mergeable(n));
    let mut out = vec![
        rec.all_done(d, &p.prefix(p.total()), merged.map(|(r, _)| r)),
        rec.guard(
            lock,
            Expect::Failed {
                direction: d,
                done: p.total(),
            },
        ),
    ];
    if let Some((r, n)) = merged {
        out.push(mark_guard(r, n, lock));
    }
    // Commits the write when a migration turned autocommit off.
    out.push(COMMIT.to_owned());
    if let Some((r, n)) = step.next.filter(|_| merged.is_none()) {
        let m = mark(r, n, lock);
        if !m.is_empty() {
            out.push(BEGIN_WRITE.to_owned());
            out.extend(m);
            out.push(COMMIT.to_owned());
        }
    }
    out
}

/// The step's last packet's statements after its user statements, and how it ends.
fn trailer(step: &StepRun<'_>) -> (Vec<String>, Ended) {
    let last_implicit = !step.p.atomic && step.p.units.last().is_some_and(|u| !u.transactional);
    if last_implicit {
        (finish_deferred(step), Ended::Deferred)
    } else {
        (finish_now(step), Ended::Written)
    }
}

pub(super) type StepResult = Result<Ended, (Stop, Option<Unit>)>;

pub(super) async fn run_step(
    s: &mut Sender<'_>,
    step: &StepRun<'_>,
    use_db: Option<&str>,
) -> StepResult {
    let StepRun { rec, p, lock, .. } = *step;
    let fail = |unit: Option<Unit>| move |e: Stop| (e, unit);
    // The last packet: the step's end, the next step's mark, one commit.
    let (trailer, ended) = trailer(step);
    let trailer: Vec<&str> = trailer.iter().map(String::as_str).collect();

    let mut first: Vec<String> = use_db.into_iter().map(str::to_owned).collect();
    first.push(START_CLOCK.to_owned());
    if p.atomic {
        first.push(BEGIN.to_owned());
    } else if !step.in_flight {
        first.push(BEGIN_WRITE.to_owned());
        first.extend(mark(rec, p, lock));
        first.push(COMMIT.to_owned());
    }
    // After the in-flight mark: dbtool's own writes before it keep `lock_timeout`.
    first.extend(step.lock_wait());
    for sql in &first {
        s.ours(sql).await.map_err(|e| fail(None)(e.into()))?;
    }
    if p.atomic {
        loop {
            match send(s, p.remaining(), &trailer).await {
                Ok(()) => return Ok(ended),
                Err(stop) if retry(s, step, &stop).await => {
                    // The statement was undone; the transaction's earlier statements are not.
                    for sql in [ROLLBACK, BEGIN] {
                        s.ours(sql).await.map_err(|e| fail(None)(e.into()))?;
                    }
                }
                Err(stop) => return Err((stop, None)),
            }
        }
    }
    let last = p.units.len().saturating_sub(1);
    for (k, unit) in p.units.iter().enumerate() {
        let on = fail(Some(*unit));
        let progress = unit_end(rec, p, lock, unit);
        let after: Vec<&str> = if k == last {
            trailer.clone()
        } else {
            progress.iter().map(String::as_str).collect()
        };
        let statements = &p.statements[unit.from as usize..unit.to as usize];
        step.retried.set(0);
        loop {
            if unit.transactional {
                s.ours(BEGIN).await.map_err(|e| on(e.into()))?;
            }
            match super::online::send_unit(s, step, statements, &after).await {
                Ok(()) => break,
                Err(stop) if retry(s, step, &stop).await => {
                    if unit.transactional {
                        s.ours(ROLLBACK).await.map_err(|e| on(e.into()))?;
                    }
                }
                Err(stop) => return Err(on(stop)),
            }
        }
    }
    Ok(ended)
}

const ROLLBACK: &str = "ROLLBACK";

/// The statements that end a unit other than the last: the write that records it, its
/// guard, a commit.
///
/// The write that records a statement which committed implicitly comes right after it,
/// autocommitted: the server finishes it even when dbtool dies as the statement ends (it stops
/// a packet only once it fails to send a result, and the statement's own result is the first
/// it sends). The COMMIT after it covers a session whose autocommit a migration turned off.
fn unit_end(rec: &StepRecord<'_>, p: &Prepared, lock: &LockRef, unit: &Unit) -> Vec<String> {
    vec![
        rec.progress(unit.to, &p.prefix(unit.to)),
        rec.guard(
            lock,
            Expect::Failed {
                direction: p.step.direction,
                done: unit.to,
            },
        ),
        COMMIT.to_owned(),
    ]
}
