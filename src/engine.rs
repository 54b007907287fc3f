//! Runs a migration [`Plan`] step by step, recording progress in the ledger (SPEC §7).
//!
//! Every command that changes migrations hands its plan to [`run`]; nothing else writes
//! `dbtool_migrations`, so locking and recording are never skipped.
//!
//! How a step runs:
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
//! - Values of these ledger writes are session variables set beforehand with bound parameters
//!   (`Db::set_vars`): the SQL text that travels with user statements holds none.

use std::time::{Duration, Instant};

use mysql_async::Value;
use mysql_async::prelude::Queryable;

use crate::db::exec::{FailedAt, PushError, SendFailure, Sender};
use crate::db::ledger::sql::{self as lsql, var};
use crate::db::ledger::{self, TOOL_VERSION};
use crate::db::{Db, DbError, Tables};
use crate::error::{Error, FailureContext, Result, StatementFailure};
use crate::files::checksum::{ALGO, PrefixHasher};
use crate::files::{MigrationFile, checksum};
use crate::plan::{Plan, Step};
use crate::sql::Statement;

/// Packets of batched statements aim at this size (bytes), below `max_allowed_packet`.
pub const BATCH_BYTES: usize = 256 << 10;

/// One step read from disk and split, ready to run.
#[derive(Debug)]
pub struct Prepared {
    pub step: Step,
    pub down: bool,
    /// The file that runs (up or down), as shown to users.
    pub path: String,
    pub statements: Vec<Statement>,
    /// Statements already done (a resume).
    pub start: u32,
    /// The statement that was running when an earlier run was killed.
    pub interrupted: bool,
    /// Checksum of the down file, if there is one.
    pub down_checksum: Option<crate::files::Checksum>,
    /// Ends (statement counts) of the units still to run.
    units: Vec<Unit>,
    atomic: bool,
}

#[derive(Debug, Clone, Copy)]
struct Unit {
    /// Statements before the unit.
    from: u32,
    /// Statements after the unit.
    to: u32,
    transactional: bool,
}

impl Prepared {
    pub fn id(&self) -> String {
        self.step.file().id()
    }

    /// A row exists for this step in the ledger (resume, or any rollback).
    fn has_row(&self) -> bool {
        match &self.step {
            Step::Apply { resume, .. } => resume.is_some(),
            Step::Revert { .. } => true,
        }
    }

    /// The key of the ledger row: the row's own version text when it has one.
    fn key(&self) -> String {
        match &self.step {
            Step::Revert { row, .. } => row.version.to_string(),
            Step::Apply { file, .. } => file.version.to_string(),
        }
    }

    /// Whether the statements still to run are all transactional.
    pub fn atomic(&self) -> bool {
        self.atomic
    }
}

/// Reads and splits every file of the plan before anything runs, so a broken file later in the
/// plan stops it before the first statement.
pub fn prepare(plan: &Plan) -> Result<Vec<Prepared>> {
    plan.steps.iter().map(prepare_step).collect()
}

fn prepare_step(step: &Step) -> Result<Prepared> {
    let (file, down, resume) = match step {
        Step::Apply { file, resume } => (file, false, *resume),
        Step::Revert { file, resume, .. } => (file, true, *resume),
    };
    let sql_file = file.sql(down);
    let text = sql_file.read()?;
    let stmts = split_file(&text, &sql_file.display)?;
    let down_checksum = match &file.down {
        Some(_) if down => Some(checksum(text.as_bytes())),
        Some(d) => Some(checksum(d.read()?.as_bytes())),
        None => None,
    };
    let start = resume.map_or(0, |r| r.done);
    let remaining = &stmts[(start as usize).min(stmts.len())..];
    let atomic = remaining.iter().all(|s| s.kind.is_transactional());
    let mut units = Vec::new();
    if !atomic {
        let mut i = start;
        while (i as usize) < stmts.len() {
            let tx = stmts[i as usize].kind.is_transactional();
            let mut j = i + 1;
            if tx {
                while (j as usize) < stmts.len() && stmts[j as usize].kind.is_transactional() {
                    j += 1;
                }
            }
            units.push(Unit {
                from: i,
                to: j,
                transactional: tx,
            });
            i = j;
        }
    }
    Ok(Prepared {
        step: step.clone(),
        down,
        path: sql_file.display.clone(),
        start,
        interrupted: resume.is_some_and(|r| r.interrupted),
        down_checksum,
        units,
        atomic,
        statements: stmts,
    })
}

/// A `DELIMITER` line (its line and delimiter) still in force at the end of a file.
pub type LeftDelimiter = Option<(u64, String)>;

/// Splits a migration file's text; also returns the `DELIMITER` line left in force at its end.
pub fn split_text(text: &str, path: &str) -> Result<(Vec<Statement>, LeftDelimiter)> {
    let mut splitter = crate::sql::split::split_str(text);
    let mut out = Vec::new();
    for piece in splitter.by_ref() {
        match piece {
            Ok(crate::sql::Piece::Statement(s)) => out.push(s),
            Ok(_) => {}
            Err(source) => {
                return Err(Error::Sql {
                    path: path.to_owned(),
                    source,
                });
            }
        }
    }
    Ok((out, splitter.changed_delimiter().cloned()))
}

/// Splits a migration file, warning about a `DELIMITER` left changed at its end.
pub fn split_file(text: &str, path: &str) -> Result<Vec<Statement>> {
    let (stmts, changed) = split_text(text, path)?;
    if let Some((line, delim)) = changed {
        tracing::warn!(
            "{path}:{line}: `DELIMITER {delim}` is still in force at the end of the file \
             (add `DELIMITER ;` after the statements that need it)"
        );
    }
    Ok(stmts)
}

/// What one step did.
#[derive(Debug, Clone)]
pub struct Done {
    pub id: String,
    pub version: String,
    pub down: bool,
    pub statements: u32,
    pub resumed_at: Option<u32>,
    pub duration: Duration,
}

/// A run that stopped: the steps done before, and why it stopped.
#[derive(Debug)]
pub struct Stopped {
    pub done: Vec<Done>,
    pub error: Error,
}

/// Runs the prepared steps of `plan` in order. The caller holds the lock.
pub async fn run(
    db: &mut Db,
    tables: &Tables,
    plan: &Plan,
    steps: &[Prepared],
    mut on_step: impl FnMut(&Done),
) -> std::result::Result<Vec<Done>, Stopped> {
    let mut done = Vec::new();
    let stop = |done: Vec<Done>, error: Error| Stopped { done, error };
    if steps.is_empty() {
        return Ok(done);
    }
    let max = match db.max_packet().await {
        Ok(m) => m,
        Err(e) => return Err(stop(done, Error::db("reading max_allowed_packet", e))),
    };
    if let Err(e) = db.set_vars(&vars(plan, steps)).await {
        return Err(stop(done, Error::db("preparing the ledger writes", e)));
    }
    let ledger_names = vec![
        tables.migrations_name.as_str().to_owned(),
        tables.log_name.as_str().to_owned(),
    ];
    // Whether the previous step's last packet marked this one in flight.
    let mut in_flight = false;
    for (i, step) in steps.iter().enumerate() {
        if step.interrupted {
            let next = step.start + 1;
            let line = step
                .statements
                .get(step.start as usize)
                .map_or(0, |s| s.line);
            tracing::warn!(
                "{}: statement {next} (line {line}) was running when an earlier run was \
                 interrupted; it may have completed. Resuming at statement {next}: if it fails \
                 because it already ran, make it idempotent or settle the migration with \
                 `dbtool migrate:resolve {}`",
                step.path,
                step.key()
            );
        }
        let next = steps.get(i + 1).filter(|n| !n.atomic);
        let started = Instant::now();
        let mut sender = Sender::new(
            db,
            BATCH_BYTES.min(max / 2),
            max,
            ledger_names.clone(),
            &step.path,
        );
        let result = run_step(
            &mut sender,
            tables,
            i,
            step,
            in_flight,
            next.map(|n| (i + 1, n)),
        )
        .await;
        drop(sender);
        match result {
            Ok(()) => {
                in_flight = next.is_some();
                let d = Done {
                    id: step.id(),
                    version: step.key(),
                    down: step.down,
                    statements: step.statements.len() as u32,
                    resumed_at: (step.start > 0).then_some(step.start + 1),
                    duration: started.elapsed(),
                };
                on_step(&d);
                done.push(d);
            }
            Err(failure) => {
                let error = record_failure(db, tables, step, failure).await;
                return Err(stop(done, error));
            }
        }
    }
    Ok(done)
}

/// Why a step stopped, before it is turned into an [`Error`].
enum StepFailure {
    Send {
        failure: SendFailure,
        /// The unit that was running (None: the atomic transaction).
        unit: Option<Unit>,
    },
    TooLarge(crate::db::exec::TooLarge),
}

async fn run_step(
    s: &mut Sender<'_>,
    t: &Tables,
    i: usize,
    step: &Prepared,
    in_flight: bool,
    next: Option<(usize, &Prepared)>,
) -> std::result::Result<(), StepFailure> {
    let send = |unit: Option<Unit>| move |failure: SendFailure| StepFailure::Send { failure, unit };
    let push = |unit: Option<Unit>| {
        move |e: PushError| match e {
            PushError::Send(failure) => StepFailure::Send { failure, unit },
            PushError::TooLarge(t) => StepFailure::TooLarge(t),
        }
    };
    let n = step.statements.len() as u32;
    let start_var = format!("SET @{} = UTC_TIMESTAMP(6)", var(i, "s"));
    // The next step's in-flight mark, carried by this step's last transaction.
    let next_mark: Vec<String> = next
        .map(|(j, n)| in_flight_mark(t, j, n))
        .unwrap_or_default();
    // A non-atomic step has its in-flight row by the time it finishes; an atomic one only if
    // it resumes an earlier run.
    let finish: Vec<String> = if step.down {
        vec![lsql::finish_down(t, i)]
    } else if step.atomic && !step.has_row() {
        vec![lsql::insert_applied(t, i, n)]
    } else {
        vec![lsql::finish_up(t, i, n)]
    };

    if step.atomic {
        if !in_flight {
            s.ours(&start_var).await.map_err(send(None))?;
        }
        s.ours("START TRANSACTION").await.map_err(send(None))?;
        for st in &step.statements[step.start as usize..] {
            s.user(st).await.map_err(push(None))?;
        }
        let mut after: Vec<&str> = finish.iter().map(String::as_str).collect();
        after.extend(next_mark.iter().map(String::as_str));
        after.push("COMMIT");
        return s.finish(&after).await.map_err(send(None));
    }

    if !in_flight {
        for sql in in_flight_mark(t, i, step) {
            s.ours(&sql).await.map_err(send(None))?;
        }
    }
    let last = step.units.len().saturating_sub(1);
    for (k, unit) in step.units.iter().enumerate() {
        let progress = lsql::progress(t, i, unit.to);
        if unit.transactional {
            s.ours("START TRANSACTION")
                .await
                .map_err(send(Some(*unit)))?;
        }
        for st in &step.statements[unit.from as usize..unit.to as usize] {
            s.user(st).await.map_err(push(Some(*unit)))?;
        }
        let mut after: Vec<&str> = Vec::new();
        if k == last {
            if !unit.transactional {
                after.push("START TRANSACTION");
            }
            after.extend(finish.iter().map(String::as_str));
            after.extend(next_mark.iter().map(String::as_str));
            after.push("COMMIT");
        } else {
            after.push(&progress);
            if unit.transactional {
                after.push("COMMIT");
            }
        }
        s.finish(&after).await.map_err(send(Some(*unit)))?;
    }
    Ok(())
}

/// The statements that mark step `j` in flight (its start time, and its row).
fn in_flight_mark(t: &Tables, j: usize, step: &Prepared) -> Vec<String> {
    let start = format!("SET @{} = UTC_TIMESTAMP(6)", var(j, "s"));
    match (&step.step, step.atomic, step.has_row()) {
        (_, true, _) => vec![start],
        // A rollback's row keeps its applied_at: the start goes in a variable.
        (Step::Revert { resume: None, .. }, _, _) => vec![start, lsql::down_in_flight(t, j)],
        (Step::Revert { .. }, _, _) => vec![start, lsql::resume_in_flight(t, j)],
        // An apply's in-flight row holds its start in applied_at (one statement less per
        // migration, which the server feels: see docs/PERFORMANCE.md).
        (Step::Apply { .. }, _, true) => vec![lsql::resume_in_flight(t, j)],
        (Step::Apply { .. }, _, false) => vec![lsql::insert_in_flight(t, j)],
    }
}

/// The session variables every ledger write of the plan reads.
fn vars(plan: &Plan, steps: &[Prepared]) -> Vec<(String, Value)> {
    let mut v: Vec<(String, Value)> = vec![
        ("dbtool_b".into(), Value::from(plan.batch)),
        ("dbtool_tv".into(), Value::from(TOOL_VERSION)),
        ("dbtool_algo".into(), Value::from(ALGO)),
    ];
    for (i, step) in steps.iter().enumerate() {
        let file: &MigrationFile = step.step.file();
        v.push((var(i, "v"), Value::from(step.key())));
        v.push((var(i, "n"), Value::from(file.name.as_str())));
        v.push((var(i, "ck"), Value::from(file.checksum.to_string())));
        v.push((
            var(i, "dck"),
            step.down_checksum
                .map_or(Value::NULL, |c| Value::from(c.to_string())),
        ));
        v.push((var(i, "t"), Value::from(step.statements.len() as u32)));
        // statements_done and prefix_checksum at every point the ledger records.
        let mut ends: Vec<u32> = step.units.iter().map(|u| u.to).collect();
        if ends.last() != Some(&(step.statements.len() as u32)) {
            ends.push(step.statements.len() as u32);
        }
        let mut h = PrefixHasher::new();
        let mut at = 0u32;
        for end in ends {
            while at < end {
                h.add(step.statements[at as usize].sql());
                at += 1;
            }
            v.push((var(i, &format!("k{end}")), Value::from(end)));
            v.push((
                var(i, &format!("p{end}")),
                Value::from(h.current().to_string()),
            ));
        }
    }
    v
}

/// Turns a step failure into the user's error, after recording it in the ledger when the
/// connection still allows.
async fn record_failure(db: &mut Db, t: &Tables, step: &Prepared, f: StepFailure) -> Error {
    let (failure, unit) = match f {
        StepFailure::TooLarge(tl) => {
            // Nothing of the packet was sent; a transaction may be open.
            let _ = db.conn.query_drop("ROLLBACK").await;
            return Error::TooLarge {
                path: step.path.clone(),
                line: tl.line,
                number: tl.number,
                size: tl.size,
                max: tl.max,
            };
        }
        StepFailure::Send { failure, unit } => (failure, unit),
    };
    let lost = failure.error.is_lost();
    if !lost {
        // Undo the open transaction, if any (a no-op otherwise).
        let _ = db.conn.query_drop("ROLLBACK").await;
    }
    let (number, line) = match failure.at {
        FailedAt::User { number, line } => (number, line),
        FailedAt::Ours | FailedAt::After => {
            return Error::db("writing the ledger", failure.error);
        }
    };
    let (committed, rolled_back_from) = match unit {
        None => (step.start, (step.start > 0).then_some(step.start + 1)),
        Some(u) if u.transactional => (u.from, Some(u.from + 1)),
        Some(u) => (u.from, None),
    };
    let atomic = unit.is_none() && step.start == 0 && !step.has_row();
    if !lost && !atomic {
        let text = format!("statement {number} (line {line}): {}", failure.error);
        if let Err(e) = write_failure(db, t, step, &text).await {
            tracing::warn!("could not record the failure in the ledger: {e}");
        }
    }
    Error::Statement(Box::new(StatementFailure {
        path: step.path.clone(),
        line,
        number,
        total: Some(step.statements.len() as u32),
        error: failure.error,
        context: FailureContext::Migration {
            version: step.key(),
            down: step.down,
            committed,
            rolled_back_from,
            atomic,
        },
    }))
}

/// Records a failure's text on the step's row and in the log (bound parameters).
async fn write_failure(
    db: &mut Db,
    t: &Tables,
    step: &Prepared,
    text: &str,
) -> std::result::Result<(), DbError> {
    let key = step.key();
    let action = if step.down {
        ledger::Action::RollbackFailed
    } else {
        ledger::Action::Failed
    };
    db.conn.query_drop("START TRANSACTION").await?;
    db.exec(
        &format!("UPDATE {} SET error = ? WHERE version = ?", t.migrations),
        vec![Value::from(text), Value::from(key.as_str())],
    )
    .await?;
    db.exec(
        &format!(
            "INSERT INTO {} (at, action, version, name, seed, checksum, batch, outcome, \
             duration_ms, actor, tool_version) SELECT UTC_TIMESTAMP(6), ?, version, name, NULL, \
             checksum, batch, ?, NULL, USER(), ? FROM {} WHERE version = ?",
            t.log, t.migrations
        ),
        vec![
            Value::from(action.as_str()),
            Value::from(text),
            Value::from(TOOL_VERSION),
            Value::from(key.as_str()),
        ],
    )
    .await?;
    db.conn.query_drop("COMMIT").await?;
    Ok(())
}

/// One line saying what a step does and how (for dry runs).
pub fn describe(step: &Prepared) -> String {
    let what = match (&step.step, step.down) {
        (Step::Apply { .. }, _) if step.start > 0 => {
            format!("resume {} at statement {}", step.id(), step.start + 1)
        }
        (Step::Apply { .. }, _) => format!("apply {}", step.id()),
        (Step::Revert { .. }, _) if step.start > 0 => {
            format!(
                "resume rollback of {} at statement {}",
                step.id(),
                step.start + 1
            )
        }
        (Step::Revert { .. }, _) => format!("roll back {}", step.id()),
    };
    let mode = if step.atomic {
        "in one transaction"
    } else {
        "statement by statement (DDL commits implicitly)"
    };
    format!("{what} ({}, {mode})", step.path)
}
