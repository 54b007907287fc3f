//! The one runner: migration steps and seed runs go through the same packet sender, the same
//! failure mapping ([`failure`]) and the same ledger writes ([`crate::db::ledger::write`]).
//! Every command that changes the database hands its work here, so locking and recording are
//! never skipped.
//!
//! How a migration step runs (SPEC §7):
//! - If every statement still to run is transactional, the step is *atomic*: one transaction
//!   holds its statements and its ledger write (an `applied` row, or the row's deletion for a
//!   rollback). It fails whole or succeeds whole.
//! - Otherwise the step runs in *units*: each statement that commits implicitly (DDL) is a
//!   unit, and each run of consecutive transactional statements is one unit in a transaction.
//!   Before the first unit the ledger row says `failed` with 0 statements done (in flight);
//!   every unit travels in one packet with the ledger write that advances `statements_done` and
//!   `prefix_checksum` to its end, so the two cannot be separated by killing dbtool (the server
//!   finishes a packet it has received). The last unit's packet also turns the row `applied`
//!   (or deletes it, for a rollback), logs the action, and marks the next step in flight.
//!
//! A seed runs like an atomic step whose statements stream from the file ([`seed`]).

pub(crate) mod failure;
pub(crate) mod prepare;
mod seed;

use std::time::{Duration, Instant};

pub(crate) use prepare::{Prepared, describe, prepare, split_file, split_text};
pub(crate) use seed::{SeedDone, run_seed};

use crate::db::Db;
use crate::db::ledger::write::{BEGIN, COMMIT, START_CLOCK, StepRecord};
use crate::db::ledger::{self, Tables};
use crate::db::packet::Sender;
use crate::error::{Error, FailureContext, StatementFailure};
use crate::files::Direction;
use crate::plan::Plan;
use crate::rows::Action;
use failure::{Settled, Stop, settle};
use prepare::Unit;

/// Packets of batched statements aim at this size (bytes), below `max_allowed_packet`.
pub(crate) const BATCH_BYTES: usize = 256 << 10;

/// What one step did.
#[derive(Debug, Clone)]
pub(crate) struct Done {
    pub(crate) version: String,
    pub(crate) name: String,
    pub(crate) direction: Direction,
    pub(crate) statements: u32,
    pub(crate) resumed_at: Option<u32>,
    pub(crate) duration: Duration,
}

impl Done {
    pub(crate) fn id(&self) -> String {
        format!("{}_{}", self.version, self.name)
    }
}

/// A run that stopped: the steps done before, and why it stopped.
#[derive(Debug)]
pub(crate) struct Stopped {
    pub(crate) done: Vec<Done>,
    pub(crate) error: Error,
}

/// The ledger names a server error may quote when it comes from dbtool's own statements.
fn ledger_names(t: &Tables) -> Vec<String> {
    t.names().iter().map(|n| (*n).to_owned()).collect()
}

fn record<'a>(t: &'a Tables, plan: &Plan, p: &'a Prepared) -> StepRecord<'a> {
    StepRecord {
        tables: t,
        key: p.step.key(),
        name: &p.step.migration.name,
        checksum: p.step.migration.checksum,
        down_checksum: p.down_checksum,
        total: p.total(),
        batch: plan.batch,
    }
}

/// Runs the prepared steps of `plan` in order. The caller holds the lock.
pub(crate) async fn run_migrations(
    db: &mut Db,
    t: &Tables,
    plan: &Plan,
    steps: &[Prepared],
    mut on_step: impl FnMut(&Done),
) -> Result<Vec<Done>, Stopped> {
    let mut done = Vec::new();
    if steps.is_empty() {
        return Ok(done);
    }
    let max = match db.max_packet().await {
        Ok(m) => m,
        Err(e) => {
            return Err(Stopped {
                done,
                error: Error::db("reading max_allowed_packet", e),
            });
        }
    };
    // Whether the previous step's last packet marked this one in flight.
    let mut in_flight = false;
    for (i, p) in steps.iter().enumerate() {
        warn_if_interrupted(p);
        let next = steps.get(i + 1).filter(|n| !n.atomic);
        let started = Instant::now();
        let rec = record(t, plan, p);
        let next_rec = next.map(|n| (record(t, plan, n), n));
        let mut sender = Sender::new(db, BATCH_BYTES.min(max / 2), max, ledger_names(t), p.path());
        let result = run_step(&mut sender, &rec, p, in_flight, next_rec.as_ref()).await;
        drop(sender);
        match result {
            Ok(()) => {
                in_flight = next.is_some();
                let start = p.step.start();
                let d = Done {
                    version: p.step.migration.version.to_string(),
                    name: p.step.migration.name.clone(),
                    direction: p.step.direction,
                    statements: p.total(),
                    resumed_at: (start > 0).then_some(start + 1),
                    duration: started.elapsed(),
                };
                on_step(&d);
                done.push(d);
            }
            Err((stop, unit)) => {
                let error = step_failed(db, t, p, stop, unit).await;
                return Err(Stopped { done, error });
            }
        }
    }
    Ok(done)
}

/// SPEC §7: a killed run leaves no error text, and its next statement may have completed.
fn warn_if_interrupted(p: &Prepared) {
    if !p.step.resume.is_some_and(|r| r.interrupted) {
        return;
    }
    let next = p.step.start() + 1;
    let line = p
        .statements
        .get(p.step.start() as usize)
        .map_or(0, |s| s.line);
    tracing::warn!(
        "{}: statement {next} (line {line}) was running when an earlier run was interrupted; \
         it may have completed. Resuming at statement {next}: if it fails because it already \
         ran, make it idempotent or settle the migration with `dbtool migrate:resolve {}`",
        p.path(),
        p.step.key()
    );
}

/// The statements that mark a step in flight: its clock, and (unless it runs in one
/// transaction) its row.
fn mark(rec: &StepRecord<'_>, p: &Prepared) -> Vec<String> {
    let mut out = vec![START_CLOCK.to_owned()];
    if p.atomic {
        return out;
    }
    out.push(match (p.step.direction, &p.step.row, p.step.resume) {
        (Direction::Up, None, _) => rec.insert_in_flight(),
        (Direction::Up, Some(_), _) => rec.resume_in_flight(Direction::Up),
        (Direction::Down, _, None) => rec.down_in_flight(),
        (Direction::Down, _, Some(_)) => rec.resume_in_flight(Direction::Down),
    });
    out
}

/// The statements that end a step: its row applied (or deleted) and its log row.
fn finish(rec: &StepRecord<'_>, p: &Prepared) -> [String; 2] {
    let all = p.prefix(p.total());
    match (p.step.direction, &p.step.row) {
        (Direction::Down, row) => rec.finish_down(row.as_ref().map_or(rec.batch, |r| r.batch)),
        (Direction::Up, None) if p.atomic => rec.insert_applied(&all),
        (Direction::Up, _) => rec.finish_up(&all),
    }
}

type StepResult = Result<(), (Stop, Option<Unit>)>;

async fn run_step(
    s: &mut Sender<'_>,
    rec: &StepRecord<'_>,
    p: &Prepared,
    in_flight: bool,
    next: Option<&(StepRecord<'_>, &Prepared)>,
) -> StepResult {
    let fail = |unit: Option<Unit>| move |e: Stop| (e, unit);
    // The next step's in-flight mark rides this step's last transaction.
    let next_mark: Vec<String> = next.map(|(r, n)| mark(r, n)).unwrap_or_default();
    let finish = finish(rec, p);
    let trailer = |first: Option<&'static str>| -> Vec<&str> {
        let mut after: Vec<&str> = first.into_iter().collect();
        after.extend(finish.iter().map(String::as_str));
        after.extend(next_mark.iter().map(String::as_str));
        after.push(COMMIT);
        after
    };

    if p.atomic {
        if !in_flight {
            s.ours(START_CLOCK)
                .await
                .map_err(|e| fail(None)(e.into()))?;
        }
        s.ours(BEGIN).await.map_err(|e| fail(None)(e.into()))?;
        for st in p.remaining() {
            s.user(st).await.map_err(|e| fail(None)(e.into()))?;
        }
        return s
            .finish(&trailer(None))
            .await
            .map_err(|e| fail(None)(e.into()));
    }

    if !in_flight {
        for sql in mark(rec, p) {
            s.ours(&sql).await.map_err(|e| fail(None)(e.into()))?;
        }
    }
    let last = p.units.len().saturating_sub(1);
    for (k, unit) in p.units.iter().enumerate() {
        let on = fail(Some(*unit));
        if unit.transactional {
            s.ours(BEGIN).await.map_err(|e| on(e.into()))?;
        }
        for st in &p.statements[unit.from as usize..unit.to as usize] {
            s.user(st).await.map_err(|e| on(e.into()))?;
        }
        let progress = rec.progress(unit.to, &p.prefix(unit.to));
        let after: Vec<&str> = if k == last {
            trailer((!unit.transactional).then_some(BEGIN))
        } else if unit.transactional {
            vec![&progress, COMMIT]
        } else {
            vec![&progress]
        };
        s.finish(&after).await.map_err(|e| on(e.into()))?;
    }
    Ok(())
}

/// Turns a step's stop into the user's error, after recording it in the ledger when the
/// connection still allows.
async fn step_failed(
    db: &mut Db,
    t: &Tables,
    p: &Prepared,
    stop: Stop,
    unit: Option<Unit>,
) -> Error {
    let refused = match settle(db, p.path(), stop).await {
        Settled::User(r) => r,
        Settled::Other(e) => return e,
    };
    let start = p.step.start();
    let (committed, rolled_back_from) = match unit {
        None => (start, (start > 0).then_some(start + 1)),
        Some(u) if u.transactional => (u.from, Some(u.from + 1)),
        Some(u) => (u.from, None),
    };
    let atomic = unit.is_none() && start == 0 && p.step.row.is_none();
    let lost = refused.error.is_lost();
    if !lost && !atomic {
        let text = format!(
            "statement {} (line {}): {}",
            refused.number, refused.line, refused.error
        );
        let action = match p.step.direction {
            Direction::Up => Action::Failed,
            Direction::Down => Action::RollbackFailed,
        };
        if let Err(e) = ledger::record_failure(db, t, p.step.key(), action, &text).await {
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
        },
    }))
}
