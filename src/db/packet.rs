//! Sending SQL: one packet, possibly holding several statements, with every result read so the
//! failing statement is known exactly.
//!
//! A multi-statement packet is executed by the server statement by statement until the first
//! error, or until it fails to send a result: when the client dies while a statement runs, the
//! server still sends that statement's result (into a socket nobody reads, which succeeds once)
//! and runs the next statement; the send after that fails and the packet stops. dbtool relies
//! on that for crash safety: the ledger write that records a statement travels in its packet,
//! right after it, so killing dbtool cannot separate them (the kill trials in
//! `tests/it/faults.rs` check it on both servers).

use mysql_async::prelude::Queryable;

use super::{Db, DbError};
use crate::sql::gated::Reader;
use crate::sql::{Kind, Statement};

mod watcher;
pub(crate) use watcher::{PacketFuture, Running, Watcher};

/// A packet that failed: how many of its statements completed before the error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PacketFailure {
    pub(crate) completed: usize,
    pub(crate) error: DbError,
}

impl Db {
    /// Sends `sql` (one statement or several separated by `;`) and reads every result. Each
    /// statement that answers with one OK packet or one result set counts as one; a statement
    /// that answers with several (CALL) counts several, which callers account for.
    pub(crate) async fn run_packet(&mut self, sql: &str) -> Result<(), PacketFailure> {
        let mut result = match self.conn.query_iter(sql).await {
            Ok(r) => r,
            Err(e) => {
                return Err(PacketFailure {
                    completed: 0,
                    error: e.into(),
                });
            }
        };
        // The first result is in. mysql_async loads each later result while finishing the one
        // before; a server error there is kept and handed out by the *following* `next()`.
        // So `attempted` counts results whose loading was attempted. (Exact for statements
        // that answer with one OK packet each, which is all that is ever batched.)
        let mut attempted = 1;
        loop {
            let more = !result.is_empty();
            match result.next().await {
                Ok(Some(_row)) => {}
                Ok(None) if more => attempted += 1,
                Ok(None) => return Ok(()),
                Err(e) => {
                    // A server error was kept while its result loaded (the last attempted one
                    // failed); a broken connection fails the load itself (the last attempted
                    // one completed, the next never answered).
                    let completed = match e {
                        mysql_async::Error::Server(_) => attempted - 1,
                        _ => attempted,
                    };
                    return Err(PacketFailure {
                        completed,
                        error: e.into(),
                    });
                }
            }
        }
    }
}

/// A user statement in the packet being built.
#[derive(Debug, Clone)]
struct Pending {
    number: u32,
    line: u64,
    /// Where its text sits in the packet.
    range: std::ops::Range<usize>,
    /// It may answer with several results (CALL), so results after it cannot be attributed.
    several: bool,
}

/// Where a packet failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FailedAt {
    /// One of dbtool's own statements before the user's.
    Ours,
    /// A user statement: its number, line and text.
    User { number: u32, line: u64, sql: String },
    /// One of dbtool's own statements after the user's (a ledger write).
    After,
    /// Not sent: the run is stopping (a signal came). What was sent before is recorded.
    Stopped,
}

/// Why a packet failed, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SendFailure {
    pub(crate) at: FailedAt,
    pub(crate) error: DbError,
}

/// A statement larger than the server accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TooLarge {
    pub(crate) number: u32,
    pub(crate) line: u64,
    pub(crate) size: usize,
    pub(crate) max: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PushError {
    Send(SendFailure),
    TooLarge(TooLarge),
}

impl From<SendFailure> for PushError {
    fn from(e: SendFailure) -> Self {
        PushError::Send(e)
    }
}

/// Builds packets from dbtool's statements and the user's, and sends each as soon as the next
/// statement would not fit in it: runs of consecutive simple writes (INSERT, REPLACE, UPDATE,
/// DELETE under the `;` delimiter) share a packet up to `limit` bytes; any other statement
/// travels alone (with dbtool's statements before and after it). Only one packet is held.
pub(crate) struct Sender<'d> {
    db: &'d mut Db,
    /// Packet size to aim for when batching.
    limit: usize,
    /// The server's max_allowed_packet, less a margin: no packet may exceed it.
    max: usize,
    text: String,
    /// dbtool statements at the start of `text`.
    ours_before: usize,
    users: Vec<Pending>,
    /// The packet holds a statement that must travel alone.
    closed: bool,
    /// Ledger table names: an error that names one came from dbtool's own statements.
    ledger_names: Vec<String>,
    /// For `-v`: the file the statements come from.
    path: String,
    watch: Option<&'d mut dyn Watcher>,
    /// What the server reads of executable comments: a statement it reads as nothing is sent
    /// as `DO 0` (see [`crate::sql::gated`]).
    reader: Option<Reader>,
}

/// Between two statements of a packet: a line break first, so a statement that ends in a `--`
/// or `#` comment does not swallow the `;`.
const SEP: &str = "\n;\n";

impl<'d> Sender<'d> {
    pub(crate) fn new(
        db: &'d mut Db,
        limit: usize,
        max: usize,
        ledger_names: Vec<String>,
        path: &str,
    ) -> Self {
        Sender {
            limit,
            max: max.saturating_sub(1024).max(1024),
            text: String::new(),
            ours_before: 0,
            users: Vec::new(),
            closed: false,
            ledger_names,
            path: path.to_owned(),
            watch: None,
            reader: db.reader(),
            db,
        }
    }

    /// Watches every packet with `w`.
    pub(crate) fn watched(mut self, w: &'d mut dyn Watcher) -> Self {
        self.watch = Some(w);
        self
    }

    fn append(&mut self, sql: &str) -> std::ops::Range<usize> {
        if !self.text.is_empty() {
            self.text.push_str(SEP);
        }
        let start = self.text.len();
        self.text.push_str(sql);
        start..self.text.len()
    }

    /// Adds one of dbtool's statements. Before any user statement of the packet it runs first;
    /// callers add their trailing statements through [`finish`](Self::finish).
    pub(crate) async fn ours(&mut self, sql: &str) -> Result<(), SendFailure> {
        if !self.users.is_empty() {
            self.flush(&[]).await?;
        }
        self.append(sql);
        self.ours_before += 1;
        Ok(())
    }

    /// Adds a user statement, sending the packet first if the statement does not fit in it.
    pub(crate) async fn user(&mut self, stmt: &Statement) -> Result<(), PushError> {
        let sql = match self.reader {
            Some(r) if r.reads_nothing(stmt.sql()) => "DO 0",
            _ => stmt.sql(),
        };
        if sql.len() + 64 > self.max {
            return Err(PushError::TooLarge(TooLarge {
                number: stmt.number,
                line: stmt.line,
                size: sql.len(),
                max: self.max + 1024,
            }));
        }
        let batchable = stmt.kind == Kind::Write && stmt.default_delimiter;
        if !self.users.is_empty()
            && (self.closed || !batchable || self.text.len() + sql.len() + SEP.len() > self.limit)
        {
            self.flush(&[]).await?;
        }
        if self.text.len() + sql.len() + SEP.len() > self.max {
            self.flush(&[]).await?;
        }
        let range = self.append(sql);
        self.users.push(Pending {
            number: stmt.number,
            line: stmt.line,
            range,
            several: crate::sql::classify::several_results(sql),
        });
        self.closed = !batchable;
        Ok(())
    }

    /// Waits `d` before trying a statement again, still answering signals (a signal during
    /// the pause makes the next packet fail as [`FailedAt::Stopped`]).
    pub(crate) async fn pause(&mut self, d: std::time::Duration) {
        let pause: PacketFuture<'_> = Box::pin(async move {
            tokio::time::sleep(d).await;
            Ok(())
        });
        let running = Running {
            path: &self.path,
            statement: None,
        };
        let _ = match self.watch.as_deref_mut() {
            Some(w) => w.watch(pause, running).await,
            None => pause.await,
        };
    }

    /// What the last statement that waited for a lock waited for (see [`Watcher::last_wait`]).
    pub(crate) fn last_wait(&mut self) -> Option<String> {
        self.watch.as_deref_mut().and_then(|w| w.last_wait())
    }

    /// Sends what is waiting, then hands over the connection for statements of its own (the
    /// online path's checks and its INSTANT try).
    pub(crate) async fn direct(&mut self) -> Result<&mut Db, SendFailure> {
        self.flush(&[]).await?;
        Ok(self.db)
    }

    /// Appends dbtool's trailing statements to the packet and sends it.
    pub(crate) async fn finish(&mut self, after: &[&str]) -> Result<(), SendFailure> {
        self.flush(after).await
    }

    /// Which statement of a failed packet failed.
    fn attribute(
        &self,
        text: &str,
        users: &[Pending],
        ours_before: usize,
        failure: &PacketFailure,
    ) -> FailedAt {
        let c = failure.completed;
        let user = |p: &Pending| FailedAt::User {
            number: p.number,
            line: p.line,
            sql: text[p.range.clone()].to_owned(),
        };
        // Every statement answers once, except a CALL (its result sets, then an OK): after
        // one, results cannot be attributed by counting. Then an error that names a ledger
        // table came from dbtool's trailing statements; any other from the user's.
        let countable = users.iter().all(|u| !u.several);
        if c < ours_before {
            FailedAt::Ours
        } else if countable {
            match users.get(c - ours_before) {
                Some(p) => user(p),
                None => FailedAt::After,
            }
        } else {
            let names_ledger = match &failure.error {
                DbError::Server(e) => self
                    .ledger_names
                    .iter()
                    .any(|n| e.message.contains(n.as_str())),
                _ => false,
            };
            match users.iter().find(|u| u.several).or(users.first()) {
                Some(culprit) if !names_ledger => user(culprit),
                _ => FailedAt::After,
            }
        }
    }

    async fn flush(&mut self, after: &[&str]) -> Result<(), SendFailure> {
        for sql in after {
            self.append(sql);
        }
        if tracing::enabled!(tracing::Level::TRACE) {
            // -vv: dbtool's own statements of the packet (the user's are logged by number).
            let before = self.text.split(SEP).take(self.ours_before);
            for sql in before.chain(after.iter().copied()) {
                tracing::trace!("dbtool: {sql}");
            }
        }
        if self.text.is_empty() {
            return Ok(());
        }
        if self.watch.as_deref().is_some_and(|w| w.stopping()) {
            self.text.clear();
            self.users.clear();
            self.ours_before = 0;
            return Err(SendFailure {
                at: FailedAt::Stopped,
                error: DbError::Driver("the run was stopped".into()),
            });
        }
        let started = std::time::Instant::now();
        let text = std::mem::take(&mut self.text);
        let users = std::mem::take(&mut self.users);
        let ours_before = std::mem::replace(&mut self.ours_before, 0);
        self.closed = false;
        let running = Running {
            path: &self.path,
            statement: users.first().map(|u| (u.number, u.line)),
        };
        let packet: PacketFuture<'_> = Box::pin(self.db.run_packet(&text));
        let result = match self.watch.as_deref_mut() {
            Some(w) => w.watch(packet, running).await,
            None => packet.await,
        };
        if let (Some(first), Some(last)) = (users.first(), users.last()) {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            if first.number == last.number {
                tracing::debug!(
                    "{}:{}: statement {} ({ms:.1} ms)",
                    self.path,
                    first.line,
                    first.number
                );
            } else {
                tracing::debug!(
                    "{}:{}: statements {}-{} ({ms:.1} ms)",
                    self.path,
                    first.line,
                    first.number,
                    last.number
                );
            }
        }
        tracing::trace!(
            "packet of {} bytes ({} ms)",
            text.len(),
            started.elapsed().as_millis()
        );
        let Err(failure) = result else {
            return Ok(());
        };
        let at = self.attribute(&text, &users, ours_before, &failure);
        Err(SendFailure {
            at,
            error: failure.error,
        })
    }
}
