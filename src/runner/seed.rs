//! A seed run: the seed's statements stream from its file through the splitter (only one
//! statement and one packet are held, whatever the file's size) inside one transaction with
//! its ledger row; runs of simple writes travel as multi-statement packets, so a seed of
//! 20,000 INSERTs costs a handful of round trips and one commit. A statement that commits
//! implicitly (TRUNCATE, DDL) cannot be undone: the seed still runs, with a warning, and a new
//! transaction starts after it so the rest stays atomic.

use std::fs::File;
use std::time::{Duration, Instant};

use super::Conns;
use super::failure::{Settled, Stop, settle};
use super::prepare::warn_delimiter;
use super::{BATCH_BYTES, ledger_names};
use crate::db::ledger::Tables;
use crate::db::ledger::write::{self, BEGIN, COMMIT, START_CLOCK};
use crate::db::packet::Sender;
use crate::error::{Error, FailureContext, StatementFailure};
use crate::files::seed::Hashing;
use crate::files::{Checksum, SeedFile};
use crate::sql::hazard::{Guarded, hazard};
use crate::sql::{Kind, Piece, Splitter};

/// What a seed run did.
#[derive(Debug, Clone)]
pub(crate) struct SeedDone {
    pub(crate) key: String,
    pub(crate) statements: u32,
    pub(crate) duration: Duration,
    pub(crate) checksum: Checksum,
}

/// What streaming a seed counted: its statements, and whether one commits implicitly.
#[derive(Debug, Default)]
struct Tally {
    count: u32,
    implicit: bool,
}

/// Sends the seed's statements (all but the final packet's ledger writes and commit).
async fn stream<R: std::io::Read>(
    sender: &mut Sender<'_>,
    reader: &mut Splitter<R>,
    use_db: Option<&str>,
    guarded: &Guarded<'_>,
    path: &str,
    tally: &mut Tally,
    progress: &mut dyn FnMut(u64, u32),
) -> Result<(), Stop> {
    for sql in use_db.into_iter().chain([START_CLOCK, BEGIN]) {
        sender.ours(sql).await?;
    }
    let mut reported = 0u64;
    while let Some(piece) = reader.next() {
        let Piece::Statement(stmt) = piece.map_err(Stop::Split)? else {
            continue;
        };
        tally.count = stmt.number;
        if let Some(hazard) = hazard(stmt.sql(), guarded) {
            return Err(Stop::Refused {
                line: stmt.line,
                number: stmt.number,
                hazard,
            });
        }
        // What cannot be shown to be transactional is taken to commit (CALL, XA, …).
        let commits = !stmt.kind.is_transactional();
        if commits {
            tally.implicit = true;
            warn_implicit_commit(path, &stmt);
        }
        sender.user(&stmt).await?;
        if commits {
            // What follows runs in a new transaction, with the ledger row.
            sender.ours(BEGIN).await?;
        }
        // Every MiB read (the callback redraws a bar; not per statement).
        let done = reader.bytes_done();
        if done >= reported + (1 << 20) {
            reported = done;
            progress(done, tally.count);
        }
    }
    if let Some((line, delim)) = reader.changed_delimiter() {
        warn_delimiter(path, *line, delim);
    }
    Ok(())
}

/// Runs one seed in a transaction with its ledger row. `row_exists`: the seeds ledger has a
/// row for it (update it) or not (insert one). `progress` hears (bytes read, statements sent)
/// every MiB.
pub(crate) async fn run_seed(
    c: &mut Conns<'_>,
    t: &Tables,
    seed: &SeedFile,
    row_exists: bool,
    first: bool,
    progress: &mut dyn FnMut(u64, u32),
) -> Result<SeedDone, Error> {
    let started = Instant::now();
    let path = &seed.file.display;
    let max = c
        .work
        .max_packet()
        .await
        .map_err(|e| Error::db("reading max_allowed_packet", e))?;
    let file = File::open(&seed.file.path).map_err(|e| Error::io(path, e))?;
    let mut reader = Splitter::new(Hashing::new(file));
    if let Some(e) = c.stop_before(path) {
        return Err(e);
    }
    // Every seed starts in the session state the first one had.
    let use_db = if first {
        None
    } else {
        c.reset().await?;
        Some(c.use_database())
    };
    let lock = c.lock.clone();
    let (work, mut watch) = c.watch(t);
    let mut sender =
        Sender::new(work, BATCH_BYTES.min(max / 2), max, ledger_names(t), path).watched(&mut watch);
    let mut tally = Tally::default();
    let streamed = stream(
        &mut sender,
        &mut reader,
        use_db.as_deref(),
        &super::guarded(t, &t.names(), false),
        path,
        &mut tally,
        progress,
    )
    .await;
    let finished = match streamed {
        Err(stop) => Err(stop),
        Ok(()) => {
            let checksum = reader.into_inner().finish();
            progress(0, tally.count);
            // The ledger row and the log entry commit with the seed.
            let [row, log] = write::seed_ran(t, &seed.key, &checksum, tally.count, row_exists);
            let guard = write::seed_guard(t, &lock, &seed.key, &checksum);
            sender
                .finish(&[&row, &log, &guard, COMMIT])
                .await
                .map(|()| checksum)
                .map_err(Stop::from)
        }
    };
    drop(sender);
    let gave_up = watch.gave_up.take();
    drop(watch);
    match finished {
        Ok(checksum) => Ok(SeedDone {
            key: seed.key.clone(),
            statements: tally.count,
            duration: started.elapsed(),
            checksum,
        }),
        Err(stop) => Err(seed_failed(c, t, path, stop, &tally, gave_up).await),
    }
}

/// Turns a seed's stop into the user's error.
async fn seed_failed(
    c: &mut Conns<'_>,
    t: &Tables,
    path: &str,
    stop: Stop,
    tally: &Tally,
    gave_up: Option<String>,
) -> Error {
    let error = match settle(c.work, path, stop).await {
        Settled::Other(e) => e,
        Settled::Stopped => Error::Interrupted {
            signal: c.signals.got.unwrap_or(super::Interrupt::Int),
            during: None,
            before: Some(format!(
                "the end of {path} (its transaction was rolled back)"
            )),
        },
        Settled::Ledger { error, .. } => super::ledger_failure::seed(c, t, path, error).await,
        Settled::User(r) => Error::Statement(Box::new(StatementFailure {
            path: path.to_owned(),
            line: r.line,
            number: r.number,
            total: None,
            error: r.error,
            context: FailureContext::Seed {
                implicit_commits: tally.implicit,
                kept: r.kept_rows.then(Vec::new),
            },
        })),
    };
    c.interrupted(error, gave_up)
}

fn warn_implicit_commit(path: &str, stmt: &crate::sql::Statement) {
    let what = if stmt.kind == Kind::ImplicitCommit {
        "commits implicitly"
    } else {
        "may commit implicitly (dbtool cannot tell that it is transactional)"
    };
    let hint = if stmt
        .sql()
        .trim_start()
        .get(..8)
        .is_some_and(|w| w.eq_ignore_ascii_case("TRUNCATE"))
    {
        "; use DELETE FROM to empty a table inside the seed's transaction"
    } else {
        ""
    };
    tracing::warn!(
        "{path}:{}: statement {} {what}, so this seed cannot be atomic: what ran before it is \
         kept even if a later statement fails{hint}",
        stmt.line,
        stmt.number
    );
}
