//! The rows a killed checked run left marked, settled from the schema by the next migrate
//! command, under the lock and before it plans.

use std::time::Duration;

use super::{Effect, effect, fold, present, send_ours, wait_gone};
use crate::db::Db;
use crate::db::ledger::Tables;
use crate::db::ledger::write::checked::{self as w, Marker, Member};
use crate::db::ledger::write::{BEGIN_WRITE, COMMIT, LockRef, StepRecord};
use crate::error::Error;
use crate::files::checksum::prefix_checksum;
use crate::files::{Direction, MigrationFile};
use crate::rows::MigrationRow;

/// One marked row with what its file says.
struct Marked<'a> {
    row: &'a MigrationRow,
    marker: Marker,
    effect: Effect,
    sql: String,
}

/// Settles every row a checked run left marked: those whose statement the schema shows ran are
/// recorded as they would have been, the others as not run. Returns whether there were any
/// (the caller reads the ledger again). Refuses, writing nothing, when the run's connection is
/// still on the server after `bound`, when a row's file changed, or when what the schema shows
/// is not what any run could have left (a later statement ran while an earlier did not).
pub(crate) async fn settle_interrupted(
    db: &mut Db,
    t: &Tables,
    lock: &LockRef,
    files: &[MigrationFile],
    rows: &[MigrationRow],
    bound: Duration,
) -> Result<bool, Error> {
    let mut marked = Vec::new();
    for row in rows {
        let Some(marker) = row.error.as_deref().and_then(Marker::parse) else {
            continue;
        };
        marked.push(read(row, marker, files)?);
    }
    if marked.is_empty() {
        return Ok(false);
    }
    let mut conns: Vec<u32> = marked.iter().map(|m| m.marker.connection).collect();
    conns.sort_unstable();
    conns.dedup();
    for id in conns {
        if !wait_gone(db, id, bound)
            .await
            .map_err(|e| Error::db("waiting for an interrupted run's connection to end", e))?
        {
            return Err(Error::Unsettled {
                message: format!(
                    "connection {id}, which ran the interrupted checked run, is still on the \
                     server after {} s\n  wait for its statement to end (or KILL {id}), then \
                     run the command again; nothing was changed",
                    bound.as_secs()
                ),
                running: true,
            });
        }
    }
    // The order they ran in: an application by version, a rollback newest first.
    marked.sort_by(|a, b| a.row.version.cmp(&b.row.version));
    if marked[0].row.direction == Direction::Down {
        marked.reverse();
    }
    let here = present(db, t)
        .await
        .map_err(|e| Error::db("reading the tables an interrupted run left", e))?;
    let ran: Vec<bool> = marked
        .iter()
        .map(|m| here.contains(&fold(&m.effect.name)) == m.effect.creates)
        .collect();
    let n = ran.iter().take_while(|r| **r).count();
    if ran[n..].iter().any(|r| *r) {
        return Err(disagrees(&marked, &ran));
    }
    write(db, t, lock, &marked, n).await?;
    tracing::warn!(
        "an earlier run was interrupted in a checked run of {} migrations; the schema shows \
         {n} of them ran: recorded {}",
        marked.len(),
        if n == marked.len() {
            "all of them".to_owned()
        } else {
            format!(
                "those, and {} (from {}) as not run",
                marked.len() - n,
                marked[n].row.id()
            )
        }
    );
    Ok(true)
}

/// A marked row's file and statement; its checksum must be the one the run recorded.
fn read<'a>(
    row: &'a MigrationRow,
    marker: Marker,
    files: &[MigrationFile],
) -> Result<Marked<'a>, Error> {
    let unsettled = |why: String| Error::Unsettled {
        message: format!(
            "{} is marked in flight by an interrupted checked run, but {why}\n  settle it with \
             `dbtool migrate:resolve {} --applied` or `--rolled-back` after checking the \
             schema; nothing was changed",
            row.id(),
            row.version.canonical()
        ),
        running: false,
    };
    let file = files
        .iter()
        .find(|f| f.version.canonical() == row.version.canonical())
        .ok_or_else(|| unsettled("its file is gone".into()))?;
    let sql_file = file
        .file(row.direction)
        .ok_or_else(|| unsettled("its down file is gone".into()))?;
    let text = sql_file
        .read()
        .map_err(|e| unsettled(format!("its file cannot be read ({e})")))?;
    let expected = match row.direction {
        Direction::Up => Some(row.checksum),
        Direction::Down => row.down_checksum,
    };
    if expected != Some(crate::files::checksum::checksum(text.as_bytes())) {
        return Err(unsettled(format!("{} changed since", sql_file.display)));
    }
    let statements = super::super::split_file(&text, &sql_file.display)?;
    let (Some(one), 1) = (statements.first(), statements.len()) else {
        return Err(unsettled(format!(
            "{} is not one statement",
            sql_file.display
        )));
    };
    let effect = effect(one.sql()).ok_or_else(|| {
        unsettled(format!(
            "{} does not create or drop one table or view",
            sql_file.display
        ))
    })?;
    Ok(Marked {
        row,
        marker,
        effect,
        sql: one.sql().to_owned(),
    })
}

/// The refusal when what the schema shows cannot come from the run.
fn disagrees(marked: &[Marked<'_>], ran: &[bool]) -> Error {
    let lines: Vec<String> = marked
        .iter()
        .zip(ran)
        .map(|(m, r)| {
            let shows = match (m.effect.creates, r) {
                (true, true) => "exists",
                (true, false) => "does not exist",
                (false, true) => "is gone",
                (false, false) => "still exists",
            };
            format!(
                "\n    {}: `{}` {shows} ({})",
                m.row.id(),
                m.effect.name,
                if *r { "ran" } else { "did not run" }
            )
        })
        .collect();
    Error::Unsettled {
        message: format!(
            "an interrupted checked run left {} migrations marked in flight, and the schema \
             shows a later one ran while an earlier one did not (something else changed the \
             schema):{}\n  settle each with `dbtool migrate:resolve VERSION --applied` or \
             `--rolled-back` after checking the schema; nothing was changed",
            marked.len(),
            lines.concat()
        ),
        running: false,
    }
}

/// Records the first `n` of `marked` as run and the rest as not run, in one transaction.
async fn write(
    db: &mut Db,
    t: &Tables,
    lock: &LockRef,
    marked: &[Marked<'_>],
    n: usize,
) -> Result<(), Error> {
    let recs: Vec<StepRecord<'_>> = marked
        .iter()
        .map(|m| StepRecord {
            tables: t,
            key: m.row.version.canonical(),
            name: &m.row.name,
            checksum: m.row.checksum,
            down_checksum: m.row.down_checksum,
            total: 1,
            batch: m.row.batch,
        })
        .collect();
    let members: Vec<Member<'_>> = marked
        .iter()
        .zip(&recs)
        .map(|(m, rec)| Member {
            rec,
            direction: m.row.direction,
            prefix: prefix_checksum([m.sql.as_str()]),
            was: m.marker.was.clone(),
        })
        .collect();
    let mut sql = vec![BEGIN_WRITE.to_owned()];
    let ran: Vec<(&Member<'_>, Option<w::Ran>)> = members[..n].iter().map(|m| (m, None)).collect();
    sql.extend(w::ended(t, lock, &ran));
    sql.extend(members[n..].iter().map(|m| w::not_run(t, m)));
    sql.push(COMMIT.to_owned());
    if let Err(e) = send_ours(db, &sql).await {
        let _ = db.rollback().await;
        return Err(Error::db(
            "recording what an interrupted checked run did",
            e,
        ));
    }
    Ok(())
}
