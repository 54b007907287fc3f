//! seed:run and seed:status.

use std::path::Path;

use crate::commands::Context;
use crate::commands::session::{Session, block_on, guard};
use crate::db::ledger::{self, Need};
use crate::error::{Result, UsageError};
use crate::files::{Mode, SeedFile, discover_migrations, discover_seeds};
use crate::plan::seeds::{Decision, SeedInfo, SeedState, decide, row_of, state};
use crate::plan::{self};
use crate::report::{SeedRunLine, SeedRunOut, SeedStatusLine, SeedStatusOut, ms};
use crate::rows::SeedRow;
use crate::runner::{self, SeedDone};

/// Finds the seeds `--specific` names: a path (relative to the working directory or the seeds
/// folder) or a bare name with or without `.sql`. Returns their keys, in path order.
fn resolve_specific(ctx: &Context, seeds: &[SeedFile], names: &[String]) -> Result<Vec<String>> {
    let mut chosen: Vec<String> = Vec::new();
    for name in names {
        let as_path = ctx.cwd.join(name);
        let found = seeds.iter().find(|s| {
            s.key == *name
                || s.key == format!("{name}.sql")
                || Path::new(&s.key)
                    .file_stem()
                    .is_some_and(|st| st == name.as_str())
                || Path::new(&s.key)
                    .file_name()
                    .is_some_and(|f| f == name.as_str())
                || s.file.path == as_path
                || s.file.display == *name
        });
        let Some(s) = found else {
            let available = if seeds.is_empty() {
                "none".to_owned()
            } else {
                seeds
                    .iter()
                    .map(|s| s.key.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(UsageError::UnknownSeed {
                name: name.clone(),
                dir: ctx.paths.display(&ctx.config.seeds_dir),
                available,
            }
            .into());
        };
        if !chosen.contains(&s.key) {
            chosen.push(s.key.clone());
        }
    }
    chosen.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(chosen)
}

/// Reads each seed's mode, and its checksum when `need_checksum` says deciding needs it.
fn infos(seeds: &[SeedFile], need_checksum: impl Fn(Mode) -> bool) -> Result<Vec<SeedInfo>> {
    seeds
        .iter()
        .map(|s| {
            let mode = s.mode()?;
            let checksum = if need_checksum(mode) {
                Some(s.checksum()?)
            } else {
                None
            };
            Ok(SeedInfo {
                seed: s.clone(),
                mode,
                checksum,
            })
        })
        .collect()
}

/// seed:run.
pub(crate) fn run(ctx: &Context, specific: &[String], changed: bool, dry_run: bool) -> Result<u8> {
    if !dry_run {
        guard(ctx, "seed:run")?;
    }
    let seeds = discover_seeds(&ctx.config.seeds_dir, &ctx.paths)?;
    let named = if specific.is_empty() {
        None
    } else {
        Some(resolve_specific(ctx, &seeds, specific)?)
    };
    // Checksums are needed before the run only to decide; otherwise they are computed while
    // the seed streams to the server.
    let infos = infos(&seeds, |mode| {
        named.is_none() && (changed || mode == Mode::OnChange)
    })?;
    let migrations = discover_migrations(&ctx.config.migrations_dir, &ctx.paths).ok();
    block_on(async {
        let mut s = Session::open(ctx).await?;
        let result = run_in(
            ctx,
            &mut s,
            &infos,
            named.as_deref(),
            changed,
            dry_run,
            migrations,
        )
        .await;
        s.close().await;
        result
    })
}

/// Seeds usually target the latest schema: says so when it is not.
async fn warn_about_migrations(
    s: &mut Session,
    files: Vec<crate::files::MigrationFile>,
) -> Result<()> {
    let rows = ledger::read_migrations(&mut s.db, &s.tables)
        .await?
        .unwrap_or_default();
    let entries = plan::entries(&files, &rows, false);
    let pending = entries.iter().filter(|e| e.status.is_pending()).count();
    let broken = entries.iter().filter(|e| e.status.is_broken()).count();
    if pending > 0 {
        tracing::warn!(
            "{pending} migration(s) pending: seeds usually expect the latest schema \
             (run `dbtool migrate:latest` first); running the seeds anyway"
        );
    }
    if broken > 0 {
        tracing::warn!(
            "{broken} migration(s) modified, missing or failed (see `dbtool migrate:status`); \
             running the seeds anyway"
        );
    }
    Ok(())
}

async fn run_in(
    ctx: &Context,
    s: &mut Session,
    infos: &[SeedInfo],
    named: Option<&[String]>,
    changed: bool,
    dry_run: bool,
    migrations: Option<Vec<crate::files::MigrationFile>>,
) -> Result<u8> {
    if let Some(files) = migrations {
        warn_about_migrations(s, files).await?;
    }
    let rows = ledger::read_seeds(&mut s.db, &s.tables)
        .await?
        .unwrap_or_default();
    if dry_run {
        let decisions = decide(infos, &rows, named, changed);
        ctx.report.print(&run_out(infos, &decisions, true, &[]));
        return Ok(0);
    }
    s.lock(ctx, "seed:run").await?;
    ledger::ensure(&mut s.db, &s.tables, Need::Seeds).await?;
    // Decide on what the ledger says now that we hold the lock.
    let rows = ledger::read_seeds(&mut s.db, &s.tables)
        .await?
        .unwrap_or_default();
    let decisions = decide(infos, &rows, named, changed);
    let mut done = Vec::new();
    for (info, d) in infos.iter().zip(&decisions) {
        if *d != Decision::Run {
            continue;
        }
        let size = std::fs::metadata(&info.seed.file.path)
            .map(|m| m.len())
            .unwrap_or(0);
        let bar = ctx.report.byte_bar(size, &info.seed.key);
        let row_exists = row_of(&rows, &info.seed).is_some();
        let mut on_progress = |bytes: u64, _statements: u32| {
            if bytes > 0 {
                bar.set_position(bytes);
            }
        };
        let tables = s.tables.clone();
        let first = done.is_empty();
        let result = runner::run_seed(
            &mut s.conns(),
            &tables,
            &info.seed,
            row_exists,
            first,
            &mut on_progress,
        )
        .await;
        bar.finish_and_clear();
        match result {
            Ok(d) => {
                tracing::debug!(
                    "ran {} ({} statements, {} ms)",
                    d.key,
                    d.statements,
                    d.duration.as_millis()
                );
                done.push(d);
            }
            Err(e) => {
                if !done.is_empty() {
                    ctx.report
                        .partial(&run_out(infos, &decisions, false, &done));
                }
                return Err(e);
            }
        }
    }
    finish(ctx, s, run_out(infos, &decisions, false, &done))
}

/// The end of a run of seeds: its report, or, when a signal came as its last seed ran, the
/// interruption (with what ran).
fn finish(ctx: &Context, s: &mut Session, out: SeedRunOut) -> Result<u8> {
    if let Some(e) = s.conns().stop_at_end() {
        if out.seeds.iter().any(|l| l.ran) {
            ctx.report.partial(&out);
        }
        return Err(e);
    }
    ctx.report.print(&out);
    Ok(0)
}

fn run_out(
    infos: &[SeedInfo],
    decisions: &[Decision],
    dry_run: bool,
    done: &[SeedDone],
) -> SeedRunOut {
    SeedRunOut {
        dry_run,
        seeds: infos
            .iter()
            .zip(decisions)
            .map(|(i, d)| {
                let ran = done.iter().find(|x| x.key == i.seed.key);
                SeedRunLine {
                    seed: i.seed.key.clone(),
                    mode: i.mode.as_str(),
                    decision: d.reason(),
                    ran: ran.is_some(),
                    statements: ran.map(|r| r.statements),
                    duration_ms: ran.map(|r| ms(r.duration)),
                    checksum: ran.map(|r| r.checksum.to_string()),
                    runs: *d == Decision::Run,
                }
            })
            .collect(),
    }
}

/// seed:status.
pub(crate) fn status(ctx: &Context) -> Result<u8> {
    let seeds = discover_seeds(&ctx.config.seeds_dir, &ctx.paths)?;
    let infos = infos(&seeds, |_| true)?;
    let rows = block_on(async {
        let mut s = Session::open(ctx).await?;
        let rows = ledger::read_seeds(&mut s.db, &s.tables).await;
        s.close().await;
        Ok(rows?.unwrap_or_default())
    })?;
    let line =
        |key: &str, mode: Option<Mode>, st: SeedState, row: Option<&SeedRow>| SeedStatusLine {
            seed: key.to_owned(),
            mode: mode.map(Mode::as_str),
            state: st.as_str(),
            run_count: row.map_or(0, |r| r.run_count),
            last_run_at: row.map(|r| r.last_run_at.clone()),
            checksum: row.map(|r| r.checksum.to_string()),
        };
    let mut lines: Vec<SeedStatusLine> = infos
        .iter()
        .map(|i| {
            let row = row_of(&rows, &i.seed);
            line(&i.seed.key, Some(i.mode), state(i, row), row)
        })
        .collect();
    for r in &rows {
        if !infos.iter().any(|i| i.seed.key == r.path) {
            lines.push(line(&r.path, None, SeedState::Missing, Some(r)));
        }
    }
    lines.sort_by(|a, b| a.seed.as_bytes().cmp(b.seed.as_bytes()));
    ctx.report.print(&SeedStatusOut {
        environment: ctx.config.environment.clone(),
        seeds: lines,
        url: ctx
            .config
            .connection()
            .map(|c| c.to_string())
            .unwrap_or_default(),
        color: ctx.report.term.stdout_color,
    });
    Ok(0)
}
