//! A checked run that stopped: what ran is read from the schema and written, and the run
//! goes on or ends as the usual path would.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

use super::{Next, Timed, ends, fold, left_marked, present, send_ours, step_effect, wrapped};
use crate::db::ledger::Tables;
use crate::db::ledger::write::StepRecord;
use crate::db::ledger::write::checked::{self as w, Member};
use crate::db::{Db, DbError};
use crate::error::Error;
use crate::runner::Conns;
use crate::runner::failure::Stop;
use crate::runner::prepare::{Prepared, Unit};
use crate::runner::step::StepRun;
use crate::runner::step_failure::step_failed;

/// Waits until connection `id` has ended (its last statement with it), at most `bound`.
pub(crate) async fn wait_gone(db: &mut Db, id: u32, bound: Duration) -> Result<bool, DbError> {
    let until = Instant::now() + bound;
    loop {
        let n: Option<u64> = db
            .conn
            .query_first(format!(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {id}"
            ))
            .await?;
        if n == Some(0) {
            return Ok(true);
        }
        if Instant::now() >= until {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The run stopped before or at step `k` (`stop` None: a signal came before it was sent): what
/// ran is written (step `k` as the schema shows it), the rest marked not run, and the loop goes
/// on at the step that is next, or the run ends with the error the usual path gives.
#[allow(clippy::too_many_arguments)]
pub(super) async fn stopped(
    c: &mut Conns<'_>,
    t: &Tables,
    run: &[Prepared],
    m: &[Member<'_>],
    i: usize,
    k: usize,
    stop: Option<Stop>,
    mut ran: Vec<(usize, Option<Timed>)>,
) -> Result<Next, Error> {
    let lost = matches!(&stop, Some(Stop::Send(f)) if f.error.is_lost());
    let conn = c.work.conn.id();
    // A lost work connection may still be running the statement on the server.
    if lost {
        match wait_gone(c.control, conn, c.bound).await {
            Ok(true) => {}
            _ => return Err(still_running(stop, conn)),
        }
    }
    // Nothing of step `k` was sent when a signal came before it.
    let k_ran = match &stop {
        None => false,
        Some(_) => match present(c.control, t).await {
            Ok(here) => {
                let e = step_effect(&run[k]).expect("a checked run's steps have effects");
                here.contains(&fold(&e.name)) == e.creates
            }
            Err(_) => return Err(still_running(stop, conn)),
        },
    };
    if k_ran {
        ran.push((k, None));
    }
    let mut sql = ends(t, c, m, &ran);
    if !k_ran {
        // A statement that was sent and did not run is the usual path's to report.
        sql.push(match stop {
            Some(_) => w::in_flight(t, &m[k]),
            None => w::not_run(t, &m[k]),
        });
    }
    sql.extend(m[k + 1..].iter().map(|x| w::not_run(t, x)));
    if let Err(e) = send_ours(c.control, &wrapped(sql)).await {
        let _ = c.control.rollback().await;
        return Err(left_marked(e));
    }
    let refused = matches!(&stop, Some(Stop::Send(f))
        if !lost && matches!(f.error, DbError::Server(_))
            && matches!(f.at, crate::db::packet::FailedAt::User { .. }));
    match stop {
        None => Err(c
            .stop_before(run[k].path())
            .expect("a signal stopped the run")),
        Some(_) if k_ran && !lost => Ok((i + k + 1, false)),
        Some(Stop::Send(f)) if k_ran => Err(Error::db(
            "running a checked run (the ledger records every migration that ran)",
            f.error,
        )),
        // The usual path runs the statement again and reports it as it always does (a lock
        // wait is retried as `ddl_lock_wait` says).
        Some(_) if refused && c.signals.got.is_none() => Ok((i + k, true)),
        Some(stop) => Err(failed(c, t, &run[k], m[k].rec, stop).await),
    }
}

/// The usual error of a step that stopped (a signal, a lost connection), its row in flight.
async fn failed(
    c: &mut Conns<'_>,
    t: &Tables,
    p: &Prepared,
    rec: &StepRecord<'_>,
    stop: Stop,
) -> Error {
    let lock = c.lock.clone();
    let online = c.online;
    let step = StepRun {
        rec,
        p,
        lock: &lock,
        in_flight: true,
        next: None,
        pending: &[],
        ddl: c.ddl,
        retried: std::cell::Cell::new(0),
        online,
    };
    let unit = Unit {
        from: 0,
        to: 1,
        transactional: false,
    };
    let error = step_failed(c, t, &step, stop, Some(unit), (false, None)).await;
    c.interrupted(error, None)
}

/// The run cannot tell what its last statement did: the server may still be running it.
fn still_running(stop: Option<Stop>, conn: u32) -> Error {
    let cause = match stop {
        Some(Stop::Send(f)) => f.error,
        _ => DbError::Lost("the connection was lost".into()),
    };
    Error::Unsettled {
        message: format!(
            "the connection of a checked run ({conn}) was lost ({cause}) and may still be \
             running its last statement on the server\n  the migrations' rows stay marked in \
             flight; the next migrate command records from the schema which of them ran"
        ),
        running: true,
    }
}
