//! A seed run: the seed's statements stream from its file through the splitter (only one
//! statement and one packet are held, whatever the file's size) inside one transaction with
//! its ledger row; runs of simple writes travel as multi-statement packets, so a seed of
//! 20,000 INSERTs costs a handful of round trips and one commit. A statement that commits
//! implicitly (TRUNCATE, DDL) cannot be undone: the seed still runs, with a warning, and a new
//! transaction starts after it so the rest stays atomic.

use std::fs::File;
use std::time::{Duration, Instant};

use super::failure::{Settled, Stop, settle};
use super::prepare::warn_delimiter;
use super::{BATCH_BYTES, ledger_names};
use crate::db::Db;
use crate::db::ledger::Tables;
use crate::db::ledger::write::{self, BEGIN, COMMIT, START_CLOCK};
use crate::db::packet::Sender;
use crate::error::{Error, FailureContext, StatementFailure};
use crate::files::seed::Hashing;
use crate::files::{Checksum, SeedFile};
use crate::sql::{Kind, Piece, Splitter};

/// What a seed run did.
#[derive(Debug, Clone)]
pub(crate) struct SeedDone {
    pub(crate) key: String,
    pub(crate) statements: u32,
    pub(crate) duration: Duration,
    pub(crate) checksum: Checksum,
}

/// Sends the seed's statements (all but the final packet's ledger writes and commit).
async fn stream<R: std::io::Read>(
    sender: &mut Sender<'_>,
    reader: &mut Splitter<R>,
    path: &str,
    implicit: &mut bool,
    count: &mut u32,
    progress: &mut dyn FnMut(u64, u32),
) -> Result<(), Stop> {
    sender.ours(START_CLOCK).await?;
    sender.ours(BEGIN).await?;
    let mut reported = 0u64;
    while let Some(piece) = reader.next() {
        let Piece::Statement(stmt) = piece.map_err(Stop::Split)? else {
            continue;
        };
        *count = stmt.number;
        let commits = stmt.kind == Kind::ImplicitCommit;
        if commits {
            *implicit = true;
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
            progress(done, *count);
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
    db: &mut Db,
    t: &Tables,
    seed: &SeedFile,
    row_exists: bool,
    progress: &mut dyn FnMut(u64, u32),
) -> Result<SeedDone, Error> {
    let started = Instant::now();
    let path = &seed.file.display;
    let max = db
        .max_packet()
        .await
        .map_err(|e| Error::db("reading max_allowed_packet", e))?;
    let file = File::open(&seed.file.path).map_err(|e| Error::io(path, e))?;
    let mut reader = Splitter::new(Hashing::new(file));
    let mut sender = Sender::new(db, BATCH_BYTES.min(max / 2), max, ledger_names(t), path);
    let mut implicit = false;
    let mut count = 0u32;
    let streamed = stream(
        &mut sender,
        &mut reader,
        path,
        &mut implicit,
        &mut count,
        progress,
    )
    .await;
    let finished = match streamed {
        Err(stop) => Err(stop),
        Ok(()) => {
            let checksum = reader.into_inner().finish();
            progress(0, count);
            // The ledger row and the log entry commit with the seed.
            let [row, log] = write::seed_ran(t, &seed.key, &checksum, count, row_exists);
            sender
                .finish(&[&row, &log, COMMIT])
                .await
                .map(|()| checksum)
                .map_err(Stop::from)
        }
    };
    drop(sender);
    match finished {
        Ok(checksum) => Ok(SeedDone {
            key: seed.key.clone(),
            statements: count,
            duration: started.elapsed(),
            checksum,
        }),
        Err(stop) => Err(match settle(db, path, stop).await {
            Settled::Other(e) => e,
            Settled::User(r) => Error::Statement(Box::new(StatementFailure {
                path: path.clone(),
                line: r.line,
                number: r.number,
                total: None,
                error: r.error,
                context: FailureContext::Seed {
                    implicit_commits: implicit,
                },
            })),
        }),
    }
}

fn warn_implicit_commit(path: &str, stmt: &crate::sql::Statement) {
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
        "{path}:{}: statement {} commits implicitly, so this seed cannot be atomic: what ran \
         before it is kept even if a later statement fails{hint}",
        stmt.line,
        stmt.number
    );
}
