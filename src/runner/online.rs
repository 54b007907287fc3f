//! The online path: an `ALTER TABLE` marked `-- dbtool:online` (or whose table passes the
//! knexfile's `[online]` size rule) runs through pt-online-schema-change or gh-ost instead of
//! directly, unless the server does it INSTANT (tried first: metadata only, nothing to copy).
//!
//! The statement is one unit of its step, so the ledger records it as any other: the row is
//! in flight while the engine runs (its `error` column shows the engine's latest progress
//! line), and done only once the engine succeeded. What a failed or killed engine left behind
//! is found before the next try, which shows the SQL that removes it and runs nothing.

use std::time::Instant;

use tokio::io::{AsyncBufReadExt as _, BufReader};

use super::failure::Stop;
use super::step::{StepRun, send};
use crate::config::{Connection, Online, OnlineTool};
use crate::db::online::{self, Alter, DefaultsFile};
use crate::db::packet::{FailedAt, SendFailure, Sender};
use crate::db::{Db, DbError};
use crate::sql::Statement;

/// What the online path needs from the session.
#[derive(Debug, Clone)]
pub(crate) struct OnlineCtx {
    pub(crate) settings: Online,
    pub(crate) connection: Connection,
    /// The configured database (an ALTER that names none is on it).
    pub(crate) database: String,
    /// A terminal shows the engine's progress.
    pub(crate) progress: bool,
}

const MARK: &str = "dbtool:online";

/// Sends a unit's statements, the online way when the unit is one ALTER that goes online.
pub(super) async fn send_unit(
    s: &mut Sender<'_>,
    step: &StepRun<'_>,
    statements: &[Statement],
    after: &[&str],
) -> Result<(), Stop> {
    if let [st] = statements
        && let Some(alter) = wanted(s, step.online, st).await?
    {
        run(s, step, st, &alter).await?;
        s.finish(after).await?;
        return Ok(());
    }
    send(s, statements, after).await
}

/// The statement's failure, as a failed user statement (the ledger records it so).
fn failed(st: &Statement, error: DbError) -> Stop {
    Stop::Send(SendFailure {
        at: FailedAt::User {
            number: st.number,
            line: st.line,
            sql: st.sql().to_owned(),
        },
        error,
    })
}

fn refused(st: &Statement, message: String) -> Stop {
    failed(st, DbError::Driver(message))
}

/// The ALTER, if `st` goes online: marked, or its table is as big as the size rule says.
async fn wanted(
    s: &mut Sender<'_>,
    ctx: &OnlineCtx,
    st: &Statement,
) -> Result<Option<Alter>, Stop> {
    let marked = st.raw[..st.body.start].to_ascii_lowercase().contains(MARK);
    let rule = ctx.settings.min_rows.is_some() || ctx.settings.min_size.is_some();
    if !marked && !rule {
        return Ok(None);
    }
    let Some(alter) = online::parse_alter(st.sql()) else {
        return match marked {
            true => Err(refused(
                st,
                format!(
                    "it is marked `-- {MARK}`, but only an ALTER TABLE can run online; nothing was run"
                ),
            )),
            false => Ok(None),
        };
    };
    if marked {
        return Ok(Some(alter));
    }
    let database = alter
        .database
        .clone()
        .unwrap_or_else(|| ctx.database.clone());
    let db = s.direct().await?;
    let size = online::table_size(db, &database, &alter.table)
        .await
        .map_err(|e| failed(st, e))?;
    let big = size.is_some_and(|(rows, bytes)| {
        ctx.settings.min_rows.is_some_and(|m| rows >= m)
            || ctx.settings.min_size.is_some_and(|m| bytes >= m)
    });
    Ok(big.then_some(alter))
}

/// Runs the ALTER INSTANT if the server can, else through the engine.
async fn run(
    s: &mut Sender<'_>,
    step: &StepRun<'_>,
    st: &Statement,
    alter: &Alter,
) -> Result<(), Stop> {
    let ctx = step.online;
    let database = alter
        .database
        .clone()
        .unwrap_or_else(|| ctx.database.clone());
    let program = ctx.settings.tool.program();
    let at = format!("{}:{}: statement {}", step.p.path(), st.line, st.number);
    let db = s.direct().await?;
    let left = online::leftovers(db, &database, &alter.table)
        .await
        .map_err(|e| failed(st, e))?;
    if !left.is_empty() {
        return Err(refused(
            st,
            format!(
                "an earlier online ALTER of {} left its work behind, and nothing was run\n  \
             make sure no {program} still runs on it (SHOW PROCESSLIST), then remove what it left:\n    {}",
                alter.table,
                left.join("\n    ")
            ),
        ));
    }
    if instant(db, st.sql()).await.map_err(|e| failed(st, e))? {
        tracing::info!("{at} ran directly: the server does it INSTANT (nothing to copy)");
        return Ok(());
    }
    engine_can_run(db, ctx, &database, alter)
        .await
        .map_err(|e| match e {
            Ok(message) => refused(st, message),
            Err(e) => failed(st, e),
        })?;
    let quirks = quirks(db).await.map_err(|e| failed(st, e))?;
    online::analyze(db, &database, &alter.table)
        .await
        .map_err(|e| failed(st, e))?;
    let defaults = DefaultsFile::write(&ctx.connection)
        .map_err(|e| refused(st, format!("cannot write the engine's defaults file: {e}")))?;
    let mut cmd = online::command(
        &ctx.settings,
        &ctx.connection,
        defaults.path(),
        &database,
        alter,
        quirks,
    )
    .map_err(|m| refused(st, m))?;
    tracing::info!(
        "{at} runs through {program} (it copies {} online)",
        alter.table
    );
    let outcome = engine(db, step, &mut cmd, program).await;
    drop(defaults);
    outcome.map_err(|m| refused(st, m))
}

/// Why the engine cannot run this ALTER, if it cannot: gh-ost's preconditions, the program
/// missing from PATH.
async fn engine_can_run(
    db: &mut Db,
    ctx: &OnlineCtx,
    database: &str,
    alter: &Alter,
) -> Result<(), Result<String, DbError>> {
    let program = ctx.settings.tool.program();
    if ctx.settings.tool == OnlineTool::GhOst {
        let problems = online::gh_ost_problems(db, database, &alter.table)
            .await
            .map_err(Err)?;
        if !problems.is_empty() {
            return Err(Ok(format!(
                "gh-ost cannot run this ALTER, and nothing was run:\n    {}",
                problems.join("\n    ")
            )));
        }
    }
    if !on_path(program) {
        let package = match ctx.settings.tool {
            OnlineTool::GhOst => "gh-ost",
            OnlineTool::PtOsc => "percona-toolkit",
        };
        return Err(Ok(format!(
            "{program} is not on PATH, and nothing was run\n  install it (Debian and Ubuntu: \
             apt-get install {package}), or remove the `-- {MARK}` mark to run the ALTER directly"
        )));
    }
    Ok(())
}

/// Tries the statement with `ALGORITHM=INSTANT` (placed where the server takes it, as
/// `--explain` places its probes): true if the server did it so.
async fn instant(db: &mut Db, sql: &str) -> Result<bool, DbError> {
    use crate::sql::alter::{Action, read};
    use mysql_async::prelude::Queryable as _;
    let Action::Explain(alter) = read(sql) else {
        return Ok(false);
    };
    if alter.algorithm.as_ref().is_some_and(|g| g.chooses()) {
        return Ok(false); // the migration asks for one itself
    }
    match db
        .conn
        .query_drop(alter.with(sql, Some("INSTANT"), None))
        .await
        .map_err(DbError::from)
    {
        Ok(()) => Ok(true),
        // Not INSTANT (1845, 1846), too many row versions (MySQL 4092), or a form that takes
        // no ALGORITHM (1064): the engine's turn.
        Err(DbError::Server(e)) if matches!(e.code, 1845 | 1846 | 4092 | 1064) => Ok(false),
        Err(e) => Err(e),
    }
}

/// What of this server pt-online-schema-change 3.2 needs told (see [`online::Quirks`]).
async fn quirks(db: &mut Db) -> Result<online::Quirks, DbError> {
    use mysql_async::prelude::Queryable as _;
    let v: Option<String> = db.conn.query_first("SELECT VERSION()").await?;
    let v = v.unwrap_or_default();
    if v.to_ascii_lowercase().contains("mariadb") {
        return Ok(online::Quirks::default());
    }
    let mut parts = v
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse::<u32>().ok());
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    // MySQL before 8.0.32 has no explain_format: the query fails, and EXPLAIN is tabular.
    let format: Option<String> = db
        .conn
        .query_first("SELECT @@explain_format")
        .await
        .ok()
        .flatten();
    Ok(online::Quirks {
        no_slave_hosts: (major, minor) >= (8, 4),
        tree_explain: format.is_some_and(|f| !f.eq_ignore_ascii_case("TRADITIONAL")),
    })
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// Runs the engine: its progress to the terminal and into the ledger row, SIGINT and SIGTERM
/// passed on (it stops and cleans up), its end as the error to report.
async fn engine(
    db: &mut Db,
    step: &StepRun<'_>,
    cmd: &mut tokio::process::Command,
    program: &str,
) -> Result<(), String> {
    use mysql_async::prelude::Queryable as _;
    use tokio::signal::unix::{SignalKind, signal};
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    crate::child::die_with_this_process(cmd);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    let pid = child.id().unwrap_or(0);
    let mut out = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut err = BufReader::new(child.stderr.take().expect("piped")).lines();
    let (mut int, mut term) = (
        signal(SignalKind::interrupt()).ok(),
        signal(SignalKind::terminate()).ok(),
    );
    let mut last: Vec<String> = Vec::new();
    let mut stopped_by = None;
    let (mut out_open, mut err_open) = (true, true);
    let started = Instant::now();
    while out_open || err_open {
        let line = tokio::select! {
            l = out.next_line(), if out_open => l.ok().flatten().or_else(|| { out_open = false; None }),
            l = err.next_line(), if err_open => l.ok().flatten().or_else(|| { err_open = false; None }),
            _ = recv(&mut int) => { crate::child::signal(pid, libc::SIGINT); stopped_by = Some("SIGINT"); None }
            _ = recv(&mut term) => { crate::child::signal(pid, libc::SIGTERM); stopped_by = Some("SIGTERM"); None }
        };
        let Some(line) = line else { continue };
        progress(db, step, program, started, &line).await;
        last.push(line);
        if last.len() > 12 {
            last.remove(0);
        }
    }
    let status = child
        .wait()
        .await
        .map_err(|e| format!("waiting for {program}: {e}"))?;
    let _ = db
        .conn
        .query_drop(crate::db::ledger::write::clear_error(
            step.rec.tables,
            step.rec.key,
        ))
        .await;
    if status.success() && stopped_by.is_none() {
        return Ok(());
    }
    Err(ended(program, stopped_by, status.code(), &last))
}

/// An engine's output line: its progress lines to the terminal and into the ledger row.
async fn progress(db: &mut Db, step: &StepRun<'_>, program: &str, started: Instant, line: &str) {
    use mysql_async::prelude::Queryable as _;
    if !(line.contains("remain") || line.contains("Copy:")) {
        tracing::debug!("{program}: {line}");
        return;
    }
    if step.online.progress {
        eprintln!("  {program}: {}", line.trim());
    } else {
        tracing::debug!("{program}: {}", line.trim());
    }
    let secs = started.elapsed().as_secs();
    let note = format!("online ({program}, {secs} s): {}", line.trim());
    // Best effort: the note is for people watching migrate:status meanwhile.
    let write = crate::db::ledger::write::set_error(step.rec.tables, step.rec.key, &note);
    let _ = db.conn.query_drop(write).await;
}

/// The error of an engine that failed or was stopped.
fn ended(program: &str, stopped_by: Option<&str>, code: Option<i32>, last: &[String]) -> String {
    let how = match (stopped_by, code) {
        (Some(sig), _) => format!("stopped by {sig}"),
        (None, Some(code)) => format!("exited with code {code}"),
        (None, None) => "was killed".to_owned(),
    };
    format!(
        "{program} {how}; the ALTER was not applied (the engine removes its copy and triggers \
         as it stops; the next run checks)\n  its last lines:\n    {}",
        last.join("\n    ")
    )
}

async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}
