//! Checked runs: consecutive migrations of one statement each that creates or drops a table or
//! view run with no ledger write between them, because the schema itself records which of them
//! ran. It is the fast path for the commonest migrations (a `CREATE TABLE` up, a `DROP TABLE`
//! down): a statement that commits implicitly needs a durable commit of its own record after it
//! (one log flush per migration), unless something else records it.
//!
//! Why the schema is a record: before the run dbtool reads which tables and views exist, and
//! takes into the run only statements that find the schema as they expect (a name they create
//! absent, a name they drop present) and no name twice. Then, for each of them, "it ran" and
//! "its name exists (for a CREATE) / is gone (for a DROP)" are the same fact, and since they run
//! in order, those that ran are always a prefix of the run. The ledger says which migrations
//! are in the run (one durable commit before it: every row in flight, marked, see
//! [`crate::db::ledger::write::checked`]); the ends are written in batches (at most a quarter of
//! a second apart, and at the end). When a run stops, what ran is read from the schema and
//! written; when it is killed, the next migrate command does the same before it plans
//! ([`settle`]). Under the migration lock nothing else of dbtool's touches the schema, so what
//! the schema shows is what the run did.

mod settle;
mod stop;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

pub(crate) use settle::settle_interrupted;
use stop::{stopped, wait_gone};

use super::pending::Pending;
use super::prepare::Prepared;
use super::step::send;
use super::{BATCH_BYTES, Conns, Done, Tables, ledger_names, record};
use crate::db::ledger::write::checked::{self as w, Member, Ran, Was};
use crate::db::ledger::write::{BEGIN_WRITE, COMMIT, StepRecord, deferred, text};
use crate::db::packet::Sender;
use crate::db::{Db, DbError};
use crate::error::Error;
use crate::files::Direction;
use crate::plan::Plan;
use crate::sql::tokens::{Tok, tokens};

/// Steps a checked run marks at once (its writes stay ~60 KiB): a longer run goes in chunks.
const MAX_RUN: usize = 64;
/// The ends of steps that ran are written at most this long after the oldest.
const FLUSH_AFTER: Duration = Duration::from_millis(250);

/// What a statement does to the schema that the schema shows afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Effect {
    /// The table or view, as the statement names it (unqualified).
    pub(crate) name: String,
    pub(crate) creates: bool,
}

/// The effect of `CREATE TABLE t …`, `CREATE VIEW v …`, `DROP TABLE t` or `DROP VIEW v` (one
/// unqualified name; no `TEMPORARY`, `IF [NOT] EXISTS`, `OR REPLACE` or executable comment);
/// None for any other statement.
pub(crate) fn effect(sql: &str) -> Option<Effect> {
    if sql.contains("/*!") || sql.contains("/*M!") {
        return None;
    }
    let t = tokens(sql);
    let word = |i: usize, w: &str| t.get(i).is_some_and(|x| x.is_word(sql, w));
    let creates = match () {
        _ if word(0, "CREATE") => true,
        _ if word(0, "DROP") => false,
        _ => return None,
    };
    let name = t.get(2).filter(|n| n.is_name() && !word(2, "IF"))?;
    if !(word(1, "TABLE") || word(1, "VIEW")) || t.get(3).is_some_and(|x| x.tok == Tok::Punct(b'.'))
    {
        return None;
    }
    let single = t[3..].iter().all(|x| {
        x.is_word(sql, "RESTRICT") || x.is_word(sql, "CASCADE") || x.tok == Tok::Punct(b';')
    });
    (creates || single).then(|| Effect {
        name: name.name(sql),
        creates,
    })
}

/// The effect of a step that can run checked: one statement with an [`effect`], not resumed.
pub(crate) fn step_effect(p: &Prepared) -> Option<Effect> {
    let fresh = match p.step.direction {
        Direction::Up => p.step.row.is_none(),
        Direction::Down => p.step.resume.is_none() && p.step.row.is_some(),
    };
    if p.total() != 1 || p.atomic || p.step.start() != 0 || !fresh {
        return None;
    }
    effect(p.statements[0].sql())
}

/// Whether a checked run left `row` marked in flight (the next migrate command settles it).
pub(crate) fn marked(row: &crate::rows::MigrationRow) -> bool {
    row.error.as_deref().is_some_and(|e| e.starts_with(w::MARK))
}

/// Whether a checked run may start at step `i`: it and the next can run checked.
pub(super) fn starts_run(steps: &[Prepared], i: usize) -> bool {
    let can = |k: usize| steps.get(k).and_then(step_effect).is_some();
    can(i) && can(i + 1) && steps[i].step.direction == steps[i + 1].step.direction
}

/// A name as the server compares table names (case-insensitively where it may).
pub(crate) fn fold(name: &str) -> String {
    name.to_lowercase()
}

/// The (folded) names of the tables and views in the database.
pub(crate) async fn present(db: &mut Db, t: &Tables) -> Result<HashSet<String>, DbError> {
    let names: Vec<String> = db
        .conn
        .query(format!(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = {}",
            text(t.database.as_str())
        ))
        .await?;
    Ok(names.iter().map(|n| fold(n)).collect())
}

/// How many steps from `i` run checked: each finds the schema as its statement expects, and no
/// name comes twice.
fn extent(steps: &[Prepared], i: usize, present: &HashSet<String>) -> usize {
    let mut seen = HashSet::new();
    steps[i..]
        .iter()
        .take_while(|p| {
            step_effect(p).is_some_and(|e| {
                let key = fold(&e.name);
                p.step.direction == steps[i].step.direction
                    && present.contains(&key) != e.creates
                    && seen.insert(key)
            })
        })
        .count()
}

/// The members' ledger view of steps `run`.
fn members<'a>(run: &'a [Prepared], recs: &'a [StepRecord<'a>]) -> Vec<Member<'a>> {
    run.iter()
        .zip(recs)
        .map(|(p, rec)| Member {
            rec,
            direction: p.step.direction,
            prefix: p.prefix(1),
            was: p
                .step
                .row
                .as_ref()
                .filter(|_| p.step.direction == Direction::Down)
                .map(Was::of),
        })
        .collect()
}

/// Sends dbtool's own statements in one packet (nothing when there are none: MySQL refuses an
/// empty query, ERROR 1065, where MariaDB accepts it).
async fn send_ours(db: &mut Db, sql: &[String]) -> Result<(), DbError> {
    if sql.is_empty() {
        return Ok(());
    }
    let mut text = String::with_capacity(sql.iter().map(|q| q.len() + 2).sum());
    for q in sql {
        if !text.is_empty() {
            text.push_str(";\n");
        }
        text.push_str(q);
    }
    db.conn.query_drop(text).await.map_err(DbError::from)
}

/// The writes that record the steps `ran` (members' indexes) done and ended.
fn ends(
    t: &Tables,
    c: &Conns<'_>,
    m: &[Member<'_>],
    ran: &[(usize, Option<Timed>)],
) -> Vec<String> {
    let now = Instant::now();
    let timed: Vec<(&Member<'_>, Option<Ran>)> = ran
        .iter()
        .map(|(k, r)| {
            let r = r.map(|(ended, duration_ms)| Ran {
                ago_us: now.saturating_duration_since(ended).as_micros() as u64,
                duration_ms,
            });
            (&m[*k], r)
        })
        .collect();
    w::ended(t, &c.lock, &timed)
}

/// Where the run loop goes on after a checked run: the next step, and whether its row is
/// already in flight.
pub(super) type Next = (usize, bool);

/// Runs steps `i..` as one checked run if at least two of them can, pushing what ran to `done`;
/// None when they cannot (the caller runs step `i` as usual). The run goes in chunks of at most
/// [`MAX_RUN`] steps, each marked in the transaction that ends the one before.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run(
    c: &mut Conns<'_>,
    t: &Tables,
    plan: &Plan,
    steps: &[Prepared],
    i: usize,
    max: usize,
    pending: &mut Pending,
    done: &mut Vec<Done>,
    on_step: &mut dyn FnMut(&Done),
) -> Option<Result<Next, Error>> {
    let here = match present(c.work, t).await {
        Ok(h) => h,
        Err(e) => return Some(Err(Error::db("reading the tables before a checked run", e))),
    };
    let n = extent(steps, i, &here);
    if n < 2 {
        return None;
    }
    // Written with the next mark: the deferred ends first, then each chunk's unwritten ends.
    let mut before = deferred::finish(t, &c.lock, &pending.steps);
    let secs = c.ddl.wait.as_secs_f64().ceil() as u64;
    let mut first = (secs > 0).then(|| format!("SET SESSION lock_wait_timeout = {secs}"));
    for start in (i..i + n).step_by(MAX_RUN) {
        let run = &steps[start..(start + MAX_RUN).min(i + n)];
        let recs: Vec<StepRecord<'_>> = run.iter().map(|p| record(t, plan, p)).collect();
        let m = members(run, &recs);
        let mut sql = vec![BEGIN_WRITE.to_owned()];
        sql.append(&mut before);
        sql.extend(w::mark(t, &c.lock, c.work.conn.id(), &m));
        sql.push(COMMIT.to_owned());
        sql.extend(first.take());
        if let Err(e) = send_ours(c.work, &sql).await {
            let _ = c.work.rollback().await;
            return Some(Err(left_marked(e)));
        }
        pending.clear();
        match go(c, t, run, &m, start, max, done, on_step).await {
            Chunk::Ran(rest) => before = rest,
            Chunk::Stopped(next) => return Some(next),
        }
    }
    if let Err(e) = send_ours(c.work, &wrapped(before)).await {
        let _ = c.work.rollback().await;
        return Some(Err(left_marked(e)));
    }
    Some(Ok((i + n, false)))
}

/// How a chunk of a checked run ended.
enum Chunk {
    /// Every step ran; the writes that end those not yet ended.
    Ran(Vec<String>),
    /// It stopped: where the loop goes on, or the run's error.
    Stopped(Result<Next, Error>),
}

/// One chunk of the run, once marked.
#[allow(clippy::too_many_arguments)]
async fn go(
    c: &mut Conns<'_>,
    t: &Tables,
    run: &[Prepared],
    m: &[Member<'_>],
    i: usize,
    max: usize,
    done: &mut Vec<Done>,
    on_step: &mut dyn FnMut(&Done),
) -> Chunk {
    let mut ran: Vec<(usize, Option<Timed>)> = Vec::new();
    let mut oldest: Option<Instant> = None;
    for (k, p) in run.iter().enumerate() {
        if c.signals.got.is_some() {
            return Chunk::Stopped(stopped(c, t, run, m, i, k, None, ran).await);
        }
        let t0 = Instant::now();
        let (work, mut watch) = c.watch(t);
        let mut s = Sender::new(
            work,
            BATCH_BYTES.min(max / 2),
            max,
            ledger_names(t),
            p.path(),
        )
        .watched(&mut watch);
        let result = send(&mut s, &p.statements, &[]).await;
        drop(s);
        drop(watch);
        if let Err(stop) = result {
            return Chunk::Stopped(stopped(c, t, run, m, i, k, Some(stop), ran).await);
        }
        ran.push((k, Some(measured(t0))));
        let d = super::done_of(p, t0.elapsed());
        on_step(&d);
        done.push(d);
        if oldest.get_or_insert_with(Instant::now).elapsed() >= FLUSH_AFTER {
            if let Err(e) = send_ours(c.work, &wrapped(ends(t, c, m, &ran))).await {
                let _ = c.work.rollback().await;
                return Chunk::Stopped(Err(left_marked(e)));
            }
            ran.clear();
            oldest = None;
        }
    }
    Chunk::Ran(ends(t, c, m, &ran))
}

fn wrapped(mut sql: Vec<String>) -> Vec<String> {
    if sql.is_empty() {
        return sql;
    }
    sql.insert(0, BEGIN_WRITE.to_owned());
    sql.push(COMMIT.to_owned());
    sql
}

/// When a step's statement ended, and how long it took (ms).
type Timed = (Instant, u64);

fn measured(t0: Instant) -> Timed {
    (Instant::now(), t0.elapsed().as_millis() as u64)
}

/// A write of a checked run's progress that failed: the rows stay marked.
fn left_marked(e: DbError) -> Error {
    Error::db(
        "recording the migrations of a checked run (their rows stay marked in flight; the next \
         migrate command records from the schema which of them ran)",
        e,
    )
}

#[cfg(test)]
mod tests;
