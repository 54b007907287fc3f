//! seed:run and seed:status.

use std::path::Path;

use crate::commands::Context;
use crate::commands::session::{Session, block_on, guard};
use crate::db::ledger::SeedRow;
use crate::engine::BATCH_BYTES;
use crate::error::{Error, Result};
use crate::files::{SeedFile, discover_migrations, discover_seeds};
use crate::plan::{self, Status};
use crate::seeds::{self, Mode, SeedInfo};

/// Why a seed runs or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Run,
    /// `once`, and it ran before.
    SkipOnce,
    /// `on-change`, and its file is unchanged.
    SkipUnchanged,
    /// `--changed`, and its file is unchanged.
    SkipNotChanged,
    /// Not among `--specific`.
    SkipNotNamed,
}

/// The state seed:status shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedState {
    New,
    Changed,
    Unchanged,
    Missing,
}

impl SeedState {
    pub fn as_str(self) -> &'static str {
        match self {
            SeedState::New => "new",
            SeedState::Changed => "changed",
            SeedState::Unchanged => "unchanged",
            SeedState::Missing => "missing",
        }
    }
}

fn state(info: &SeedInfo, row: Option<&SeedRow>) -> SeedState {
    match (row, info.checksum) {
        (None, _) => SeedState::New,
        (Some(r), Some(c)) if r.checksum == c => SeedState::Unchanged,
        (Some(_), _) => SeedState::Changed,
    }
}

/// Finds the seeds `--specific` names: a path (relative to the working directory or the seeds
/// folder) or a bare name with or without `.sql`.
fn resolve_specific<'a>(
    ctx: &Context,
    seeds: &'a [SeedFile],
    names: &[String],
) -> Result<Vec<&'a SeedFile>> {
    let mut chosen = Vec::new();
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
        match found {
            Some(s) => {
                if !chosen.iter().any(|c: &&SeedFile| c.key == s.key) {
                    chosen.push(s);
                }
            }
            None => {
                let available = if seeds.is_empty() {
                    "none".to_owned()
                } else {
                    seeds
                        .iter()
                        .map(|s| s.key.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                return Err(Error::Plan(format!(
                    "no seed `{name}` in {}; available seeds: {available}",
                    ctx.paths.display(&ctx.config.seeds_dir)
                )));
            }
        }
    }
    chosen.sort_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()));
    Ok(chosen)
}

/// Decides for every seed (in path order) whether it runs.
pub fn decide(
    infos: &[SeedInfo],
    rows: &[SeedRow],
    specific: Option<&[&SeedFile]>,
    changed: bool,
) -> Vec<Decision> {
    infos
        .iter()
        .map(|info| {
            let row = rows.iter().find(|r| r.path == info.seed.key);
            if let Some(named) = specific {
                return if named.iter().any(|n| n.key == info.seed.key) {
                    Decision::Run
                } else {
                    Decision::SkipNotNamed
                };
            }
            let st = state(info, row);
            if changed && st == SeedState::Unchanged {
                return Decision::SkipNotChanged;
            }
            match info.mode {
                Mode::Always => Decision::Run,
                Mode::Once if row.is_some() => Decision::SkipOnce,
                Mode::Once => Decision::Run,
                Mode::OnChange if st == SeedState::Unchanged => Decision::SkipUnchanged,
                Mode::OnChange => Decision::Run,
            }
        })
        .collect()
}

fn infos(seeds: &[SeedFile], need_checksums: impl Fn(Mode) -> bool) -> Result<Vec<SeedInfo>> {
    seeds
        .iter()
        .map(|s| {
            let mode = seeds::mode_of(s)?;
            let checksum = if need_checksums(mode) {
                Some(seeds::checksum_of(s)?)
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
pub fn run(ctx: &Context, specific: &[String], changed: bool, dry_run: bool) -> Result<u8> {
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

async fn run_in(
    ctx: &Context,
    s: &mut Session,
    infos: &[SeedInfo],
    named: Option<&[&SeedFile]>,
    changed: bool,
    dry_run: bool,
    migrations: Option<Vec<crate::files::MigrationFile>>,
) -> Result<u8> {
    // Seeds usually target the latest schema: say so when it is not.
    if let Some(files) = migrations {
        let rows = s.db.read_migrations(&s.tables).await?.unwrap_or_default();
        let entries = plan::entries(&files, &rows);
        let pending = entries
            .iter()
            .filter(|e| matches!(e.status, Status::Pending | Status::OutOfOrder))
            .count();
        let drifted = entries
            .iter()
            .filter(|e| {
                matches!(
                    e.status,
                    Status::Modified { .. } | Status::Missing | Status::Failed { .. }
                )
            })
            .count();
        if pending > 0 {
            tracing::warn!(
                "{pending} migration(s) pending: seeds usually expect the latest schema \
                 (run `dbtool migrate:latest` first); running the seeds anyway"
            );
        }
        if drifted > 0 {
            tracing::warn!(
                "{drifted} migration(s) modified, missing or failed (see `dbtool migrate:status`); \
                 running the seeds anyway"
            );
        }
    }
    let rows = s.db.read_seeds(&s.tables).await?.unwrap_or_default();
    if dry_run {
        let decisions = decide(infos, &rows, named, changed);
        ctx.report.seed_plan(infos, &decisions, true, &[]);
        return Ok(0);
    }
    s.lock(ctx).await?;
    s.db.ensure_ledger(&s.tables, true).await?;
    // Decide on what the ledger says now that we hold the lock.
    let rows = s.db.read_seeds(&s.tables).await?.unwrap_or_default();
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
        let row_exists = rows.iter().any(|r| r.path == info.seed.key);
        let mut on_progress = |bytes: u64, n: u32| {
            if bytes > 0 {
                bar.set_position(bytes);
            }
            bar.set_message(format!("{n} statements"));
        };
        let result = seeds::run_seed(
            &mut s.db,
            &s.tables,
            &info.seed,
            row_exists,
            BATCH_BYTES,
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
                    ctx.report.seed_plan(infos, &decisions, false, &done);
                }
                return Err(e);
            }
        }
    }
    ctx.report.seed_plan(infos, &decisions, false, &done);
    Ok(0)
}

/// seed:status.
pub fn status(ctx: &Context) -> Result<u8> {
    let seeds = discover_seeds(&ctx.config.seeds_dir, &ctx.paths)?;
    let infos = infos(&seeds, |_| true)?;
    let rows = block_on(async {
        let mut s = Session::open(ctx).await?;
        let rows = s.db.read_seeds(&s.tables).await;
        s.close().await;
        Ok(rows?.unwrap_or_default())
    })?;
    let mut lines: Vec<(String, Option<Mode>, SeedState, Option<&SeedRow>)> = infos
        .iter()
        .map(|i| {
            let row = rows.iter().find(|r| r.path == i.seed.key);
            (i.seed.key.clone(), Some(i.mode), state(i, row), row)
        })
        .collect();
    for r in &rows {
        if !infos.iter().any(|i| i.seed.key == r.path) {
            lines.push((r.path.clone(), None, SeedState::Missing, Some(r)));
        }
    }
    lines.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    ctx.report.seed_status(&ctx.config, &lines);
    Ok(0)
}
