//! Sending SQL: one packet, possibly holding several statements, with every result read so the
//! failing statement is known exactly.
//!
//! A multi-statement packet is executed by the server statement by statement until the first
//! error, and – this matters for crash safety – to its end even if the client dies after
//! sending it. dbtool relies on that: a statement and the ledger write that records it travel
//! in one packet, so killing dbtool cannot separate them.

use mysql_async::prelude::Queryable;
use mysql_async::{Params, Value};

use super::{Db, DbError};

/// A packet that failed: how many of its statements completed before the error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketFailure {
    pub completed: usize,
    pub error: DbError,
}

impl Db {
    /// Sends `sql` (one statement or several separated by `;`) and reads every result. Each
    /// statement that answers with one OK packet or one result set counts as one; a statement
    /// that answers with several (CALL) counts several, which callers account for.
    pub async fn run_packet(&mut self, sql: &str) -> Result<(), PacketFailure> {
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

    /// Runs one statement with bound parameters (binary protocol), reading no rows.
    pub async fn exec(&mut self, sql: &str, params: Vec<Value>) -> Result<(), DbError> {
        let params = if params.is_empty() {
            Params::Empty
        } else {
            Params::Positional(params)
        };
        self.conn.exec_drop(sql, params).await.map_err(Into::into)
    }

    /// Sets session variables `@name = value` with bound parameters, in as few statements as
    /// the server's placeholder limit allows. The engine puts the values of its ledger writes
    /// here before a run, so the writes that travel with user statements carry no values in
    /// their text.
    ///
    /// Text values are made `utf8mb4_bin` whatever the session's character set: the ledger's
    /// columns are binary, and a user variable in the session's collation (MySQL 8+:
    /// `utf8mb4_0900_ai_ci`) compared with a column of another collation is ERROR 1267
    /// ("Illegal mix of collations"). A `_bin` operand wins such a comparison on both servers.
    pub async fn set_vars(&mut self, vars: &[(String, Value)]) -> Result<(), DbError> {
        for chunk in vars.chunks(250) {
            let sql = format!(
                "SET {}",
                chunk
                    .iter()
                    .map(|(n, v)| match v {
                        Value::Bytes(_) => {
                            format!("@{n} = CONVERT(? USING utf8mb4) COLLATE utf8mb4_bin")
                        }
                        _ => format!("@{n} = ?"),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let values = chunk.iter().map(|(_, v)| v.clone()).collect();
            // Each text is used once: close it rather than keep its metadata cached.
            let stmt = self.conn.prep(sql.as_str()).await?;
            self.conn
                .exec_drop(&stmt, Params::Positional(values))
                .await?;
            self.conn.close(stmt).await?;
        }
        Ok(())
    }
}

/// A user statement in the packet being built.
#[derive(Debug, Clone, Copy)]
struct Pending {
    number: u32,
    line: u64,
    /// It may answer with several results (CALL), so results after it cannot be attributed.
    several: bool,
}

/// Where a packet failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailedAt {
    /// One of dbtool's own statements before the user's.
    Ours,
    /// A user statement: its number and line.
    User { number: u32, line: u64 },
    /// One of dbtool's own statements after the user's (a ledger write).
    After,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    pub at: FailedAt,
    pub error: DbError,
}

/// A statement larger than the server accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLarge {
    pub number: u32,
    pub line: u64,
    pub size: usize,
    pub max: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushError {
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
pub struct Sender<'d> {
    db: &'d mut Db,
    /// Packet size to aim for when batching.
    limit: usize,
    /// The server's max_allowed_packet: no packet may exceed it.
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
}

/// Between two statements of a packet: a line break first, so a statement that ends in a `--`
/// or `#` comment does not swallow the `;`.
const SEP: &str = "\n;\n";

impl<'d> Sender<'d> {
    pub fn new(
        db: &'d mut Db,
        limit: usize,
        max: usize,
        ledger_names: Vec<String>,
        path: &str,
    ) -> Self {
        Sender {
            db,
            limit,
            max: max.saturating_sub(1024).max(1024),
            text: String::new(),
            ours_before: 0,
            users: Vec::new(),
            closed: false,
            ledger_names,
            path: path.to_owned(),
        }
    }

    fn append(&mut self, sql: &str) {
        if !self.text.is_empty() {
            self.text.push_str(SEP);
        }
        self.text.push_str(sql);
    }

    /// Adds one of dbtool's statements. Before any user statement of the packet it runs first;
    /// callers add their trailing statements through [`finish`](Self::finish).
    pub async fn ours(&mut self, sql: &str) -> Result<(), SendFailure> {
        if !self.users.is_empty() {
            self.flush(&[]).await?;
        }
        self.append(sql);
        self.ours_before += 1;
        Ok(())
    }

    /// Adds a user statement, sending the packet first if the statement does not fit in it.
    pub async fn user(&mut self, stmt: &crate::sql::Statement) -> Result<(), PushError> {
        let sql = stmt.sql();
        if sql.len() + 64 > self.max {
            return Err(PushError::TooLarge(TooLarge {
                number: stmt.number,
                line: stmt.line,
                size: sql.len(),
                max: self.max + 1024,
            }));
        }
        let batchable = stmt.kind == crate::sql::Kind::Write && stmt.default_delimiter;
        if !self.users.is_empty()
            && (self.closed || !batchable || self.text.len() + sql.len() + SEP.len() > self.limit)
        {
            self.flush(&[]).await?;
        }
        if self.text.len() + sql.len() + SEP.len() > self.max {
            self.flush(&[]).await?;
        }
        self.append(sql);
        self.users.push(Pending {
            number: stmt.number,
            line: stmt.line,
            several: crate::sql::classify::several_results(sql),
        });
        self.closed = !batchable;
        Ok(())
    }

    /// Sets session variables now (before the pending packet, which has not been sent).
    pub async fn set_vars(&mut self, vars: &[(String, Value)]) -> Result<(), DbError> {
        self.db.set_vars(vars).await
    }

    /// Appends dbtool's trailing statements to the packet and sends it.
    pub async fn finish(&mut self, after: &[&str]) -> Result<(), SendFailure> {
        self.flush(after).await
    }

    async fn flush(&mut self, after: &[&str]) -> Result<(), SendFailure> {
        for sql in after {
            self.append(sql);
        }
        if self.text.is_empty() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let text = std::mem::take(&mut self.text);
        let users = std::mem::take(&mut self.users);
        let ours_before = std::mem::replace(&mut self.ours_before, 0);
        self.closed = false;
        let result = self.db.run_packet(&text).await;
        drop(text);
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
        let Err(failure) = result else {
            return Ok(());
        };
        let c = failure.completed;
        // Every statement answers once, except a CALL (its result sets, then an OK): after
        // one, results cannot be attributed by counting. Then an error that names a ledger
        // table came from dbtool's trailing statements; any other from the user's.
        let countable = users.iter().all(|u| !u.several);
        let at = if c < ours_before {
            FailedAt::Ours
        } else if countable {
            match users.get(c - ours_before) {
                Some(p) => FailedAt::User {
                    number: p.number,
                    line: p.line,
                },
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
            let culprit = users.iter().find(|u| u.several).unwrap_or(&users[0]);
            if names_ledger || users.is_empty() {
                FailedAt::After
            } else {
                FailedAt::User {
                    number: culprit.number,
                    line: culprit.line,
                }
            }
        };
        Err(SendFailure {
            at,
            error: failure.error,
        })
    }
}
