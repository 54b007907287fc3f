//! The migrate:* commands. Each reads the files and the ledger, builds a plan (pure), and hands
//! it to the engine under the lock; read-only ones take no lock and create nothing.

use std::collections::HashMap;

use mysql_async::Value;
use mysql_async::prelude::Queryable;

use crate::commands::Context;
use crate::commands::session::{Session, block_on, guard};
use crate::db::ledger::{Direction, LedgerRow, State, TOOL_VERSION};
use crate::engine::{self, Prepared, Stopped};
use crate::error::{Error, Result, UsageError};
use crate::files::checksum::prefix_checksum;
use crate::files::{Checksum, MigrationFile, Version, discover_migrations};
use crate::plan::{self, Plan, Prefixes, Request, Scope, Status};
use crate::report::{Outcome, RunKind};

/// Computes prefix checksums by reading and splitting files (cached per file).
#[derive(Default)]
struct FilePrefixes {
    cache: HashMap<(String, bool), Vec<String>>,
}

impl Prefixes for FilePrefixes {
    type Error = Error;

    fn prefix(&mut self, file: &MigrationFile, d: Direction, k: u32) -> Result<Checksum> {
        let down = d == Direction::Down;
        let sql_file = file.sql(down);
        let key = (sql_file.display.clone(), down);
        if !self.cache.contains_key(&key) {
            let (stmts, _) = engine::split_text(&sql_file.read()?, &sql_file.display)?;
            self.cache.insert(
                key.clone(),
                stmts.iter().map(|s| s.sql().to_owned()).collect(),
            );
        }
        let stmts = &self.cache[&key];
        Ok(prefix_checksum(
            stmts.iter().take(k as usize).map(String::as_str),
        ))
    }
}

fn version(s: &str) -> Result<Version> {
    s.parse()
        .map_err(|_| UsageError::BadVersion(s.to_owned()).into())
}

fn discover(ctx: &Context) -> Result<Vec<MigrationFile>> {
    Ok(discover_migrations(&ctx.config.migrations_dir, &ctx.paths)?)
}

fn make_plan(
    ctx: &Context,
    files: &[MigrationFile],
    rows: &[LedgerRow],
    req: &Request,
    last_batch: u32,
) -> Result<Plan> {
    let options = plan::Options {
        out_of_order: ctx.config.out_of_order,
        last_batch,
    };
    Ok(plan::plan(
        files,
        rows,
        req,
        options,
        &mut FilePrefixes::default(),
    )?)
}

/// migrate:latest, migrate:up, migrate:rollback, migrate:down.
pub fn migrate(ctx: &Context, req: Request, dry_run: bool) -> Result<u8> {
    let (kind, command) = match &req {
        Request::Latest { .. } => (RunKind::Apply, "migrate:latest"),
        Request::Up { .. } => (RunKind::Apply, "migrate:up"),
        Request::Rollback(_) => (RunKind::Revert, "migrate:rollback"),
        Request::Down { .. } => (RunKind::Revert, "migrate:down"),
    };
    if kind == RunKind::Revert && !dry_run {
        guard(ctx, command)?;
    }
    let files = discover(ctx)?;
    block_on(async {
        let mut s = Session::open(ctx).await?;
        let result = migrate_in(ctx, &mut s, &files, &req, kind, dry_run).await;
        s.close().await;
        result
    })
}

async fn migrate_in(
    ctx: &Context,
    s: &mut Session,
    files: &[MigrationFile],
    req: &Request,
    kind: RunKind,
    dry_run: bool,
) -> Result<u8> {
    // Plan without the lock first: when there is nothing to do (the common case on every
    // deploy), one read of the ledger is all it costs.
    let rows = s.db.read_migrations(&s.tables).await?.unwrap_or_default();
    let plan = make_plan(ctx, files, &rows, req, 0)?;
    for w in &plan.warnings {
        tracing::warn!("{w}");
    }
    if dry_run {
        let prepared = engine::prepare(&plan)?;
        ctx.report.dry_run(kind, &plan, &prepared);
        return Ok(0);
    }
    if plan.steps.is_empty() {
        ctx.report.outcome(&Outcome {
            kind,
            batch: plan.batch,
            done: &[],
        });
        return Ok(0);
    }
    // Read and check every file of the plan before taking the lock or writing anything.
    let first = engine::prepare(&plan)?;

    s.lock(ctx).await?;
    s.db.ensure_ledger(&s.tables, false).await?;
    // Another process may have run meanwhile: plan again on what the ledger says now.
    let rows = s.db.read_migrations(&s.tables).await?.unwrap_or_default();
    let last_batch =
        s.db.last_batch(&s.tables)
            .await
            .map_err(|e| Error::db("reading the log", e))?;
    let again = make_plan(ctx, files, &rows, req, last_batch)?;
    // Usually nothing changed meanwhile and the files read above serve.
    let prepared: Vec<Prepared> = if again.steps == plan.steps {
        first
    } else {
        engine::prepare(&again)?
    };
    let plan = again;
    let bar = ctx.report.progress_bar(prepared.len() as u64, "migrations");
    let result = engine::run(&mut s.db, &s.tables, &plan, &prepared, |d| {
        bar.inc(1);
        tracing::debug!(
            "{} {} ({} ms)",
            if d.down { "rolled back" } else { "applied" },
            d.id,
            d.duration.as_millis()
        );
    })
    .await;
    bar.finish_and_clear();
    match result {
        Ok(done) => {
            ctx.report.outcome(&Outcome {
                kind,
                batch: plan.batch,
                done: &done,
            });
            Ok(0)
        }
        Err(Stopped { done, error }) => {
            if !done.is_empty() {
                ctx.report.outcome(&Outcome {
                    kind,
                    batch: plan.batch,
                    done: &done,
                });
            }
            Err(error)
        }
    }
}

/// Parses the rollback flags into a request.
pub fn rollback_request(all: bool, step: Option<u32>, to: Option<&str>) -> Result<Request> {
    Ok(Request::Rollback(match (all, step, to) {
        (true, _, _) => Scope::All,
        (_, Some(0), _) => return Err(UsageError::Invalid("--step must be 1 or more").into()),
        (_, Some(n), _) => Scope::Step(n),
        (_, _, Some(v)) => Scope::To(version(v)?),
        _ => Scope::LastBatch,
    }))
}

pub fn latest_request(to: Option<&str>) -> Result<Request> {
    Ok(Request::Latest {
        to: to.map(version).transpose()?,
    })
}

pub fn up_request(target: Option<&str>) -> Result<Request> {
    Ok(Request::Up {
        target: target.map(version).transpose()?,
    })
}

pub fn down_request(target: Option<&str>) -> Result<Request> {
    Ok(Request::Down {
        target: target.map(version).transpose()?,
    })
}

/// migrate:status. Exit 5 with `--exit-code` when anything is pending.
pub fn status(ctx: &Context, exit_code: bool) -> Result<u8> {
    let files = discover(ctx)?;
    let (rows, holder) = block_on(async {
        let mut s = Session::open(ctx).await?;
        let rows = s.db.read_migrations(&s.tables).await;
        let holder = s.db.lock_holder(&s.lock).await;
        s.close().await;
        let holder = holder.map_err(|e| Error::db("checking the lock", e))?;
        Ok((rows?.unwrap_or_default(), holder))
    })?;
    let entries = plan::entries(&files, &rows);
    ctx.report.status(&ctx.config, &entries, holder.as_ref());
    let pending = entries
        .iter()
        .any(|e| matches!(e.status, Status::Pending | Status::OutOfOrder));
    Ok(if exit_code && pending { 5 } else { 0 })
}

/// migrate:validate: every file readable and splittable, applied ones unchanged. Exit 3 on
/// drift.
pub fn validate(ctx: &Context) -> Result<u8> {
    let files = discover(ctx)?;
    // Every up and down file must split (unterminated quotes, bad DELIMITER lines).
    for f in &files {
        for sql_file in std::iter::once(&f.up).chain(f.down.iter()) {
            engine::split_file(&sql_file.read()?, &sql_file.display)?;
        }
    }
    let rows = block_on(async {
        let mut s = Session::open(ctx).await?;
        let rows = s.db.read_migrations(&s.tables).await;
        s.close().await;
        Ok(rows?.unwrap_or_default())
    })?;
    let entries = plan::entries(&files, &rows);
    let drift = plan::drift(&entries);
    ctx.report.validate(&entries, drift.as_ref());
    match drift {
        Some(d) => Err(Error::Drift(d)),
        None => Ok(0),
    }
}

/// migrate:repair: accept modified files (re-record their checksums) and forget migrations
/// whose files are gone. Shows each change; logs each.
pub fn repair(ctx: &Context) -> Result<u8> {
    guard(ctx, "migrate:repair")?;
    let files = discover(ctx)?;
    block_on(async {
        let mut s = Session::open(ctx).await?;
        let result = repair_in(ctx, &mut s, &files).await;
        s.close().await;
        result
    })
}

async fn repair_in(ctx: &Context, s: &mut Session, files: &[MigrationFile]) -> Result<u8> {
    s.lock(ctx).await?;
    let Some(rows) = s.db.read_migrations(&s.tables).await? else {
        ctx.report.repaired(&[]);
        return Ok(0);
    };
    s.db.ensure_ledger(&s.tables, false).await?;
    let entries = plan::entries(files, &rows);
    let mut changes = Vec::new();
    let t = s.tables.clone();
    for e in &entries {
        let row = match e.row {
            Some(r) if r.state == State::Applied => r,
            _ => continue,
        };
        let (outcome, sql, params): (String, String, Vec<Value>) = match &e.status {
            Status::Modified { ledger, file } => (
                format!("checksum {} -> {}", ledger.short(), file.short()),
                format!(
                    "UPDATE {} SET checksum = ?, name = ? WHERE version = ?",
                    t.migrations
                ),
                vec![
                    Value::from(file.to_string()),
                    Value::from(e.name.as_str()),
                    Value::from(row.version.as_str()),
                ],
            ),
            Status::Missing => (
                "file gone: forgotten (its schema changes stay in the database)".to_owned(),
                format!("DELETE FROM {} WHERE version = ?", t.migrations),
                vec![Value::from(row.version.as_str())],
            ),
            _ => continue,
        };
        s.db.conn
            .query_drop("START TRANSACTION")
            .await
            .map_err(|e| Error::db("repairing the ledger", e.into()))?;
        log_action(s, "repaired", row, &outcome).await?;
        s.db.exec(&sql, params)
            .await
            .map_err(|e| Error::db("repairing the ledger", e))?;
        s.db.conn
            .query_drop("COMMIT")
            .await
            .map_err(|e| Error::db("repairing the ledger", e.into()))?;
        changes.push((e.id(), outcome));
    }
    ctx.report.repaired(&changes);
    Ok(0)
}

/// Appends a `dbtool_log` row about a ledger row (bound parameters).
async fn log_action(s: &mut Session, action: &str, row: &LedgerRow, outcome: &str) -> Result<()> {
    s.db.exec(
        &format!(
            "INSERT INTO {} (at, action, version, name, seed, checksum, batch, outcome, \
             duration_ms, actor, tool_version) VALUES (UTC_TIMESTAMP(6), ?, ?, ?, NULL, ?, ?, ?, \
             NULL, USER(), ?)",
            s.tables.log
        ),
        vec![
            Value::from(action),
            Value::from(row.version.as_str()),
            Value::from(row.name.as_str()),
            Value::from(row.checksum.to_string()),
            Value::from(row.batch),
            Value::from(outcome),
            Value::from(TOOL_VERSION),
        ],
    )
    .await
    .map_err(|e| Error::db("writing the log", e))
}

/// migrate:resolve V --applied | --rolled-back: settles a failed migration by hand.
pub fn resolve(ctx: &Context, target: &str, applied: bool) -> Result<u8> {
    guard(ctx, "migrate:resolve")?;
    let v = version(target)?;
    let files = discover(ctx)?;
    block_on(async {
        let mut s = Session::open(ctx).await?;
        let result = resolve_in(ctx, &mut s, &files, &v, applied).await;
        s.close().await;
        result
    })
}

async fn resolve_in(
    ctx: &Context,
    s: &mut Session,
    files: &[MigrationFile],
    v: &Version,
    applied: bool,
) -> Result<u8> {
    s.lock(ctx).await?;
    let rows = s.db.read_migrations(&s.tables).await?.unwrap_or_default();
    let Some(row) = rows.iter().find(|r| &r.version == v) else {
        return Err(Error::Plan(format!(
            "migration {v} has no ledger row: only a failed migration can be resolved \
             (see `dbtool migrate:status`)"
        )));
    };
    if row.state != State::Failed {
        return Err(Error::Plan(format!(
            "migration {v} is {}, not failed: only a failed migration can be resolved",
            row.state.as_str()
        )));
    }
    s.db.ensure_ledger(&s.tables, false).await?;
    let file = files.iter().find(|f| &f.version == v);
    let t = s.tables.clone();
    let (action, outcome, sql, params) = if applied {
        let checksum = file.map_or(row.checksum, |f| f.checksum);
        let batch = rows
            .iter()
            .filter(|r| r.state == State::Applied)
            .map(|r| r.batch)
            .max()
            .map_or(row.batch, |b| b.max(row.batch));
        (
            "resolved_applied",
            format!(
                "marked applied by hand ({} of {} {} statements had run)",
                row.statements_done,
                row.statements_total,
                row.direction.as_str()
            ),
            format!(
                "UPDATE {} SET state = 'applied', direction = 'up', error = NULL, checksum = ?, \
                 batch = ?, statements_done = statements_total, applied_by = USER() \
                 WHERE version = ?",
                t.migrations
            ),
            vec![
                Value::from(checksum.to_string()),
                Value::from(batch),
                Value::from(row.version.as_str()),
            ],
        )
    } else {
        (
            "resolved_rolled_back",
            format!(
                "marked rolled back by hand ({} of {} {} statements had run)",
                row.statements_done,
                row.statements_total,
                row.direction.as_str()
            ),
            format!("DELETE FROM {} WHERE version = ?", t.migrations),
            vec![Value::from(row.version.as_str())],
        )
    };
    let wrap = |e: mysql_async::Error| Error::db("resolving the migration", e.into());
    s.db.conn
        .query_drop("START TRANSACTION")
        .await
        .map_err(wrap)?;
    log_action(s, action, row, &outcome).await?;
    s.db.exec(&sql, params)
        .await
        .map_err(|e| Error::db("resolving the migration", e))?;
    s.db.conn.query_drop("COMMIT").await.map_err(wrap)?;
    let id = format!("{}_{}", row.version, row.name);
    ctx.report.resolved(&id, applied, &outcome);
    Ok(0)
}

/// migrate:unlock: who holds the lock.
pub fn unlock(ctx: &Context) -> Result<u8> {
    let holder = block_on(async {
        let mut s = Session::open(ctx).await?;
        let h = s.db.lock_holder(&s.lock).await;
        let name = s.lock.clone();
        s.close().await;
        Ok((name, h.map_err(|e| Error::db("checking the lock", e))?))
    })?;
    ctx.report.lock(&holder.0, holder.1.as_ref());
    Ok(0)
}
