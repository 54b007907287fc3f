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
//!   `prefix_checksum` to its end, so the two cannot be separated by killing dbtool (see
//!   `step::unit_end`). The last unit's packet also marks the next step in flight. When the
//!   last unit is a transaction, it turns the row `applied` (or deletes it, for a rollback) and
//!   logs the action in it; when it is a statement that committed implicitly, one write records
//!   every statement done *and* marks the next step, and the step's end is deferred to a
//!   transaction dbtool commits anyway (see `db::ledger::write::deferred`): one durable commit
//!   per such step instead of three.
//!
//! - Consecutive steps of one statement each that creates or drops a table or view run as a
//!   *checked run* ([`checked`]): no ledger write between them, because the schema records
//!   which of them ran; their rows are marked in flight before and ended in batches.
//!
//! A seed runs like an atomic step whose statements stream from the file ([`seed`]).
//!
//! What a file does to its session stays in that file: the work connection is reset
//! (`COM_RESET_CONNECTION`: session variables, `sql_mode`, character set, autocommit, user
//! variables, temporary tables, table locks) before every file but the first, and returns to
//! the configured database. The migration lock lives on a connection of its own, so nothing a
//! file runs can release it, and every ledger write is followed by a guard that checks the row
//! holds what was written and the lock is still dbtool's (see `db::ledger::write`).

mod checked;
pub(crate) mod failure;
mod ledger_failure;
mod online;
mod pending;
pub(crate) mod prepare;
mod resume;
mod seed;
mod step;
mod step_failure;
mod watch;

use std::time::{Duration, Instant};

pub(crate) use prepare::{Prepared, describe, prepare, split_file, split_text};

/// What the hazard checks compare statements with, for `t`.
pub(crate) fn guarded<'a>(t: &'a Tables, names: &'a [&'a str; 3], migration: bool) -> Guarded<'a> {
    Guarded {
        tables: names,
        database: t.database.as_str(),
        migration,
    }
}
pub(crate) use checked::{marked, settle_interrupted};
pub(crate) use online::OnlineCtx;
pub(crate) use seed::{SeedDone, run_seed};
pub(crate) use watch::{Interrupt, Signals};

use crate::config::Ident;
use crate::db::Db;
use crate::db::ledger::Tables;
use crate::db::ledger::write::{Deferred, LockRef, StepRecord};
use crate::db::packet::Sender;
use crate::error::Error;
use crate::files::Direction;
use crate::plan::Plan;
use crate::sql::hazard::Guarded;
use pending::Pending;
use resume::warn_if_interrupted;
use step::{Ended, StepResult, StepRun, run_step};
use step_failure::step_failed;

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

/// The connections a run uses: the work connection (user statements with the ledger writes
/// that record them) and the connection that holds the migration lock.
pub(crate) struct Conns<'a> {
    pub(crate) work: &'a mut Db,
    pub(crate) control: &'a mut Db,
    pub(crate) lock: LockRef,
    pub(crate) database: &'a Ident,
    pub(crate) signals: &'a mut Signals,
    /// How long dbtool's own statements may wait for a lock (`lock_timeout`).
    pub(crate) bound: std::time::Duration,
    /// A terminal shows what runs.
    pub(crate) progress: bool,
    /// How long a migration's statements wait for a lock, and how often they are retried.
    pub(crate) ddl: crate::config::DdlWait,
    /// The online path's settings.
    pub(crate) online: &'a OnlineCtx,
}

impl Conns<'_> {
    /// Puts the work connection back in the state a new one has (between files).
    async fn reset(&mut self) -> Result<(), Error> {
        // Only for measuring what the reset costs (bench/reset_cost.sh); never in a release.
        if cfg!(feature = "bench-no-reset") {
            return Ok(());
        }
        self.work
            .conn
            .reset()
            .await
            .map(|_| ())
            .map_err(|e| Error::db("resetting the session between files", e.into()))
    }

    /// Before file `i` of a run: stops when a signal came, else resets the session (but before
    /// the first).
    async fn before_file(&mut self, i: usize, path: &str) -> Result<(), Error> {
        match self.stop_before(path) {
            Some(error) => Err(error),
            None if i > 0 => self.reset().await,
            None => Ok(()),
        }
    }

    /// The statement that returns to the configured database (a reset keeps the current one).
    fn use_database(&self) -> String {
        format!("USE {}", self.database)
    }

    /// The watchdog for the next packets, and the sender that uses it.
    fn watch(&mut self, t: &Tables) -> (&mut Db, watch::Watch<'_>) {
        let work_id = self.work.conn.id();
        let ours = vec![t.migrations.clone(), t.seeds.clone(), t.log.clone()];
        let w = watch::Watch::new(
            self.control,
            work_id,
            self.bound,
            ours,
            self.progress,
            self.signals,
            self.ddl.wait,
        );
        (self.work, w)
    }

    /// The error of a run a signal stopped, or that dbtool stopped for waiting too long.
    fn interrupted(&self, error: Error, gave_up: Option<String>) -> Error {
        if matches!(error, Error::Interrupted { .. }) {
            return error;
        }
        if let Some(signal) = self.signals.got {
            return Error::Interrupted {
                signal,
                during: Some(Box::new(error)),
                before: None,
            };
        }
        match (error, gave_up) {
            (Error::LedgerWrite(mut e), Some(waited)) => {
                e.cause = crate::error::LedgerCause::Waited(waited);
                Error::LedgerWrite(e)
            }
            (error, _) => error,
        }
    }

    /// A signal that came while the run's last statement ran, which then completed: the run
    /// did everything, but it was asked to stop, so it ends as interrupted (exit 130 / 143).
    pub(crate) fn stop_at_end(&self) -> Option<Error> {
        self.signals.got.map(|signal| Error::Interrupted {
            signal,
            during: None,
            before: None,
        })
    }

    /// The run stops here when a signal came while nothing ran.
    fn stop_before(&self, next: &str) -> Option<Error> {
        self.signals.got.map(|signal| Error::Interrupted {
            signal,
            during: None,
            before: Some(next.to_owned()),
        })
    }
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

/// Runs the prepared steps of `plan` in order. The caller holds the lock (on `c.control`).
pub(crate) async fn run_migrations(
    c: &mut Conns<'_>,
    t: &Tables,
    plan: &Plan,
    steps: &[Prepared],
    mut on_step: impl FnMut(&Done),
) -> Result<Vec<Done>, Stopped> {
    if steps.is_empty() {
        return Ok(Vec::new());
    }
    let max = c.work.max_packet().await.map_err(|e| Stopped {
        done: Vec::new(),
        error: Error::db("reading max_allowed_packet", e),
    })?;
    let mut done = Vec::new();
    let mut pending = Pending::default();
    // Whether the previous step's last packet marked this one in flight.
    let mut in_flight = false;
    let mut i = 0;
    while i < steps.len() {
        let p = &steps[i];
        if let Err(error) = c.before_file(i, p.path()).await {
            c.try_write_pending(t, &mut pending).await;
            return Err(Stopped { done, error });
        }
        if !in_flight && checked::starts_run(steps, i) {
            let ran = checked::run(
                c,
                t,
                plan,
                steps,
                i,
                max,
                &mut pending,
                &mut done,
                &mut on_step,
            );
            match ran.await {
                Some(Ok((next, marked))) => {
                    (i, in_flight) = (next, marked);
                    continue;
                }
                Some(Err(error)) => return Err(Stopped { done, error }),
                None => {}
            }
        }
        warn_if_interrupted(p);
        let started = Instant::now();
        match run_one(c, t, plan, steps, i, max, in_flight, &mut pending).await {
            Ok(()) => {
                in_flight = steps.get(i + 1).is_some_and(|n| !n.atomic)
                    && !checked::starts_run(steps, i + 1);
                let d = done_of(p, started.elapsed());
                on_step(&d);
                done.push(d);
            }
            Err(error) => {
                c.try_write_pending(t, &mut pending).await;
                return Err(Stopped { done, error });
            }
        }
        if pending.due()
            && let Err(error) = c.write_pending(t, &mut pending).await
        {
            return Err(Stopped { done, error });
        }
        i += 1;
    }
    match c.write_pending(t, &mut pending).await {
        Ok(()) => match c.stop_at_end() {
            None => Ok(done),
            Some(error) => Err(Stopped { done, error }),
        },
        Err(error) => Err(Stopped { done, error }),
    }
}

/// What step `p` did, once it ran.
fn done_of(p: &Prepared, duration: Duration) -> Done {
    let start = p.step.start();
    Done {
        version: p.step.migration.version.to_string(),
        name: p.step.migration.name.clone(),
        direction: p.step.direction,
        statements: p.total(),
        resumed_at: (start > 0 && start < p.total()).then_some(start + 1),
        duration,
    }
}

/// Runs step `i` of `steps`, keeping `pending` up to date; a failure is recorded and turned
/// into the user's error.
#[allow(clippy::too_many_arguments)]
async fn run_one(
    c: &mut Conns<'_>,
    t: &Tables,
    plan: &Plan,
    steps: &[Prepared],
    i: usize,
    max: usize,
    in_flight: bool,
    pending: &mut Pending,
) -> Result<(), Error> {
    let p = &steps[i];
    // A checked run marks its own steps.
    let next = steps
        .get(i + 1)
        .filter(|n| !n.atomic && !checked::starts_run(steps, i + 1));
    let rec = record(t, plan, p);
    let next_rec = next.map(|n| (record(t, plan, n), n));
    let use_db = (i > 0).then(|| c.use_database());
    let lock = c.lock.clone();
    let step = StepRun {
        rec: &rec,
        p,
        lock: &lock,
        in_flight,
        next: next_rec.as_ref(),
        pending: &pending.steps,
        ddl: c.ddl,
        retried: std::cell::Cell::new(0),
        online: c.online,
    };
    let (result, gave_up, held) = send_step(c, t, max, &step, use_db.as_deref()).await;
    match result {
        Ok(Ended::Written) => pending.clear(),
        Ok(Ended::Deferred) => pending.push(Deferred {
            key: p.step.key().to_owned(),
            direction: p.step.direction,
            total: p.total(),
        }),
        Err((stop, unit)) => {
            let waited = step::gave_up_waiting(&stop).map(|_| crate::error::LockWaited {
                tries: step.retried.get() + 1,
                wait_secs: step.ddl.wait.as_secs_f64().ceil() as u64,
                held,
            });
            let error = step_failed(c, t, &step, stop, unit, (gave_up.is_some(), waited)).await;
            return Err(c.interrupted(error, gave_up));
        }
    }
    Ok(())
}

/// Sends one step's packets through a watched sender; also says whether dbtool gave up on a
/// wait of its own, and what a user statement last waited for.
async fn send_step(
    c: &mut Conns<'_>,
    t: &Tables,
    max: usize,
    step: &StepRun<'_>,
    use_db: Option<&str>,
) -> (StepResult, Option<String>, Option<String>) {
    let (work, mut watch) = c.watch(t);
    let limit = BATCH_BYTES.min(max / 2);
    let mut sender =
        Sender::new(work, limit, max, ledger_names(t), step.p.path()).watched(&mut watch);
    let result = run_step(&mut sender, step, use_db).await;
    drop(sender);
    (result, watch.gave_up.take(), watch.last_wait.take())
}
