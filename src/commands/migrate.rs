//! migrate:latest, migrate:up, migrate:rollback, migrate:down: read the files and the ledger,
//! plan (pure), and hand the plan to the runner under the lock.

use std::collections::HashMap;

use crate::commands::Context;
use crate::commands::session::{Session, block_on, guard};
use crate::db::ledger::{self, Need};
use crate::error::{Error, Result, UsageError};
use crate::files::checksum::prefix_checksum;
use crate::files::{Checksum, Direction, MigrationFile, Version, discover_migrations};
use crate::plan::{self, Plan, Request, Scope};
use crate::report::{DoneOut, DryRun, DryStatement, DryStep, RunOut, ms};
use crate::rows::{MigrationRow, RowState};
use crate::runner::{self, Done, Prepared, Stopped};

/// A migration named on the command line: its version, or its file name as Knex users give
/// it (`20261201093000_add_email`, `20261201093000_add_email.up.sql`, a path to the file).
pub(crate) fn version(s: &str) -> Result<Version> {
    let name = s.rsplit(['/', '\\']).next().unwrap_or(s);
    let name = name
        .strip_suffix(".up.sql")
        .or_else(|| name.strip_suffix(".down.sql"))
        .unwrap_or(name);
    let digits = name.split_once('_').map_or(name, |(v, _)| v);
    digits
        .parse()
        .map_err(|_| UsageError::BadVersion(s.to_owned()).into())
}

pub(crate) fn discover(ctx: &Context) -> Result<Vec<MigrationFile>> {
    Ok(discover_migrations(&ctx.config.migrations_dir, &ctx.paths)?)
}

/// Discovers the migration files on a thread of their own while `work` (connecting, reading
/// the ledger) runs: reading and hashing a few hundred files takes about as long as a
/// connection's start-up, and the two need different resources. A problem with the files is
/// reported first, as when they were read before connecting, and as soon as it is known (the
/// connection, which may be waiting for a server with `--wait`, is abandoned).
pub(crate) async fn discover_beside<T>(
    ctx: &Context,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<(Vec<MigrationFile>, T)> {
    let (dir, paths) = (ctx.config.migrations_dir.clone(), ctx.paths.clone());
    let mut files = tokio::task::spawn_blocking(move || discover_migrations(&dir, &paths));
    let joined = |r: std::result::Result<_, tokio::task::JoinError>| -> Result<Vec<MigrationFile>> {
        let found =
            r.map_err(|e| Error::io("the thread reading the files", std::io::Error::other(e)))?;
        Ok(found?)
    };
    tokio::pin!(work);
    tokio::select! {
        found = &mut files => {
            let found = joined(found)?;
            Ok((found, work.await?))
        }
        out = &mut work => {
            let found = joined(files.await)?;
            Ok((found, out?))
        }
    }
}

/// Parses the rollback flags into a request.
pub(crate) fn rollback_request(all: bool, step: Option<u32>, to: Option<&str>) -> Result<Request> {
    Ok(Request::Rollback(match (all, step, to) {
        (true, _, _) => Scope::All,
        (_, Some(0), _) => return Err(UsageError::ZeroStep.into()),
        (_, Some(n), _) => Scope::Step(n),
        (_, _, Some(v)) => Scope::To(version(v)?),
        _ => Scope::LastBatch,
    }))
}

pub(crate) fn latest_request(to: Option<&str>) -> Result<Request> {
    Ok(Request::Latest {
        to: to.map(version).transpose()?,
    })
}

pub(crate) fn up_request(target: Option<&str>) -> Result<Request> {
    Ok(Request::Up {
        target: target.map(version).transpose()?,
    })
}

pub(crate) fn down_request(target: Option<&str>) -> Result<Request> {
    Ok(Request::Down {
        target: target.map(version).transpose()?,
    })
}

/// For each failed row with statements done: the checksum of those statements as its file
/// holds them now (what the planner compares with the row's `prefix_checksum`).
fn prefixes(files: &[MigrationFile], rows: &[MigrationRow]) -> Result<HashMap<String, Checksum>> {
    let mut out = HashMap::new();
    for r in rows {
        if r.state != RowState::Failed || r.statements_done == 0 {
            continue;
        }
        let Some(sql) = files
            .iter()
            .find(|f| f.version == r.version)
            .and_then(|f| f.file(r.direction))
        else {
            continue; // the planner reports the missing file
        };
        let (stmts, _) = runner::split_text(&sql.read()?, &sql.display)?;
        let k = r.statements_done as usize;
        out.insert(
            r.version.canonical().to_owned(),
            prefix_checksum(stmts.iter().take(k).map(|s| s.sql())),
        );
    }
    Ok(out)
}

/// Plans `req` over the files and what the ledger says.
pub(crate) fn make_plan(
    ctx: &Context,
    files: &[MigrationFile],
    rows: &[MigrationRow],
    req: &Request,
    last_batch: u32,
) -> Result<Plan> {
    let options = plan::Options {
        out_of_order: ctx.config.out_of_order,
        last_batch,
        prefixes: prefixes(files, rows)?,
    };
    let entries = plan::entries(files, rows, false);
    Ok(plan::plan(&entries, req, &options)?)
}

/// migrate:latest, migrate:up, migrate:rollback, migrate:down.
pub(crate) fn migrate(ctx: &Context, req: Request, dry_run: bool) -> Result<u8> {
    migrate_explained(ctx, req, dry_run, false)
}

/// The same, where a dry run may `--explain` its ALTERs (see [`crate::commands::explain`]).
pub(crate) fn migrate_explained(
    ctx: &Context,
    req: Request,
    dry_run: bool,
    explain: bool,
) -> Result<u8> {
    if req.direction() == Direction::Down && !dry_run {
        guard(ctx, req.command())?;
    }
    block_on(async {
        let (files, (mut s, rows)) = discover_beside(ctx, async {
            let mut s = Session::open(ctx).await?;
            // Plan without the lock first: when there is nothing to do (the common case on
            // every deploy), one read of the ledger is all it costs.
            let rows = ledger::read_migrations(&mut s.db, &s.tables).await?;
            Ok((s, rows.unwrap_or_default()))
        })
        .await?;
        let rows = if !dry_run && rows.iter().any(runner::marked) {
            match s.settle_checked(ctx, req.command(), &files).await {
                Ok(rows) => rows,
                Err(e) => {
                    s.close().await;
                    return Err(e);
                }
            }
        } else {
            rows
        };
        let result = migrate_in(ctx, &mut s, &files, &rows, &req, (dry_run, explain)).await;
        s.close().await;
        result
    })
}

async fn migrate_in(
    ctx: &Context,
    s: &mut Session,
    files: &[MigrationFile],
    rows: &[MigrationRow],
    req: &Request,
    (dry_run, explain): (bool, bool),
) -> Result<u8> {
    let plan = make_plan(ctx, files, rows, req, 0)?;
    for w in &plan.warnings {
        tracing::warn!("{w}");
    }
    let tables = s.tables.clone();
    let names = tables.names();
    let guarded = runner::guarded(&tables, &names, true);
    if dry_run {
        return dry_run_of(ctx, &plan, &guarded, explain).await;
    }
    if plan.steps.is_empty() {
        ctx.report.print(&run_out(&plan, files, rows, &[]));
        return Ok(0);
    }
    // Read and check every file of the plan before taking the lock or writing anything.
    let first = runner::prepare(&plan, &guarded)?;

    s.lock(ctx, req.command()).await?;
    ledger::ensure(&mut s.db, &s.tables, Need::Migrations).await?;
    // Another process may have run meanwhile: plan again on what the ledger says now.
    let rows = ledger::read_migrations(&mut s.db, &s.tables)
        .await?
        .unwrap_or_default();
    let last_batch = ledger::last_batch(&mut s.db, &s.tables)
        .await
        .map_err(|e| Error::db("reading the log", e))?;
    let again = make_plan(ctx, files, &rows, req, last_batch)?;
    // Usually nothing changed meanwhile and the files read above serve.
    let prepared: Vec<Prepared> = if again.steps == plan.steps {
        first
    } else {
        runner::prepare(&again, &guarded)?
    };
    // The run needs the steps once, in `prepared`: the plans' copies go (a plan of hundreds of
    // steps is a few hundred KiB, a tenth of what the whole run needs).
    drop(plan);
    let plan = Plan {
        steps: Vec::new(),
        ..again
    };
    let bar = ctx.report.progress_bar(prepared.len() as u64, "migrations");
    let result = runner::run_migrations(&mut s.conns(), &tables, &plan, &prepared, |d| {
        bar.inc(1);
        tracing::debug!(
            "{} {} ({} ms)",
            match d.direction {
                Direction::Up => "applied",
                Direction::Down => "rolled back",
            },
            d.id(),
            d.duration.as_millis()
        );
    })
    .await;
    bar.finish_and_clear();
    match result {
        Ok(done) => {
            if !done.is_empty() {
                crate::commands::schema::after_a_change(ctx, s).await;
            }
            ctx.report.print(&run_out(&plan, files, &rows, &done));
            Ok(0)
        }
        Err(Stopped { done, error }) => {
            if !done.is_empty() {
                ctx.report.partial(&run_out(&plan, files, &rows, &done));
            }
            Err(error)
        }
    }
}

/// The newest applied migration in the ledger `rows` read before the run, and after what it
/// `done` (a fleet's matrix shows the two).
fn versions(
    files: &[MigrationFile],
    rows: &[MigrationRow],
    done: &[Done],
) -> (Option<String>, Option<String>) {
    // As the file names it, as every list shows versions.
    let shown = |v: &Version| {
        files
            .iter()
            .find(|f| f.version == *v)
            .map_or(v.canonical(), |f| f.version.as_str())
            .to_owned()
    };
    let mut applied: std::collections::BTreeSet<Version> = rows
        .iter()
        .filter(|r| r.state == RowState::Applied)
        .map(|r| r.version.clone())
        .collect();
    let before = applied.last().map(shown);
    for d in done {
        let Ok(v) = d.version.parse::<Version>() else {
            continue;
        };
        match d.direction {
            Direction::Up => applied.insert(v),
            Direction::Down => applied.remove(&v),
        };
    }
    (before, applied.last().map(shown))
}

fn run_out(plan: &Plan, files: &[MigrationFile], rows: &[MigrationRow], done: &[Done]) -> RunOut {
    let (from_version, to_version) = versions(files, rows, done);
    RunOut {
        direction: plan.direction,
        batch: plan.batch,
        from_version,
        to_version,
        done: done
            .iter()
            .map(|d| DoneOut {
                version: d.version.clone(),
                name: d.name.clone(),
                statements: d.statements,
                resumed_at_statement: d.resumed_at,
                duration_ms: ms(d.duration),
            })
            .collect(),
    }
}

/// A dry run: the plan as a script on stdout; for migrations to apply, what `dbtool lint`
/// finds in them on stderr (the script stays one the client can run).
async fn dry_run_of(
    ctx: &Context,
    plan: &Plan,
    guarded: &crate::sql::hazard::Guarded<'_>,
    explain: bool,
) -> Result<u8> {
    let prepared = runner::prepare(plan, guarded)?;
    if plan.direction == Direction::Up {
        let severities = crate::lint::Severities::from_settings(&ctx.config.lint)?;
        for step in &plan.steps {
            for f in crate::lint::migration(&step.migration, &severities)? {
                tracing::warn!("lint: {f}");
            }
        }
    }
    let mut out = dry_run_out(plan, &prepared);
    if explain && plan.direction == Direction::Up {
        crate::commands::explain::explain(ctx, &prepared, &mut out).await?;
    }
    ctx.report.print(&out);
    Ok(0)
}

fn dry_run_out(plan: &Plan, steps: &[Prepared]) -> DryRun {
    DryRun {
        direction: plan.direction,
        batch: plan.batch,
        steps: steps
            .iter()
            .map(|p| DryStep {
                version: p.step.migration.version.to_string(),
                name: p.step.migration.name.clone(),
                direction: p.step.direction.as_str(),
                file: p.path().to_owned(),
                atomic: p.atomic,
                start_at_statement: p.step.start() + 1,
                statements: p
                    .remaining()
                    .iter()
                    .map(|s| DryStatement {
                        number: s.number,
                        line: s.line,
                        sql: s.sql().to_owned(),
                        delimited: !s.default_delimiter,
                        explain: None,
                    })
                    .collect(),
                describe: runner::describe(p),
            })
            .collect(),
        explain: None,
    }
}
