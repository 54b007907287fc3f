//! Settling the ledger by hand: migrate:repair (accept the files as they are) and
//! migrate:resolve (settle a failed migration). Both take the lock and log every change.

use crate::commands::Context;
use crate::commands::migrate::{discover, version};
use crate::commands::session::{Session, block_on, guard};
use crate::db::ledger::{self, Need, Settle};
use crate::error::{Error, Result, UsageError};
use crate::files::{MigrationFile, Version};
use crate::plan::{self, Status};
use crate::report::{RepairItem, Repaired, Resolved};
use crate::rows::RowState;

/// migrate:repair: accept modified files (re-record their checksums) and forget migrations
/// whose files are gone. Shows each change; logs each.
pub(crate) fn repair(ctx: &Context, dry_run: bool) -> Result<u8> {
    if !dry_run {
        guard(ctx, "migrate:repair")?;
    }
    let files = discover(ctx)?;
    block_on(async {
        let mut s = Session::open(ctx).await?;
        let result = repair_in(ctx, &mut s, &files, dry_run).await;
        s.close().await;
        result
    })
}

async fn repair_in(
    ctx: &Context,
    s: &mut Session,
    files: &[MigrationFile],
    dry_run: bool,
) -> Result<u8> {
    if !dry_run {
        s.lock(ctx, "migrate:repair").await?;
    }
    let Some(rows) = ledger::read_migrations(&mut s.db, &s.tables).await? else {
        ctx.report.print(&Repaired {
            dry_run,
            repaired: vec![],
        });
        return Ok(0);
    };
    if !dry_run {
        ledger::ensure(&mut s.db, &s.tables, Need::Migrations).await?;
    }
    let entries = plan::entries(files, &rows, false);
    let mut repaired = Vec::new();
    let wrap = |e| Error::db("repairing the ledger", e);
    for e in &entries {
        let change = match e.status {
            Status::Modified(f, r) => {
                let change = format!("checksum {} -> {}", r.checksum.short(), f.checksum.short());
                if !dry_run {
                    ledger::repair(&mut s.db, &s.tables, r, &f.name, &f.checksum, &change)
                        .await
                        .map_err(wrap)?;
                }
                change
            }
            Status::Missing(r) if r.state == RowState::Applied => {
                let change =
                    "file gone: forgotten (its schema changes stay in the database)".to_owned();
                if !dry_run {
                    ledger::forget(&mut s.db, &s.tables, r, &change)
                        .await
                        .map_err(wrap)?;
                }
                change
            }
            _ => continue,
        };
        repaired.push(RepairItem {
            migration: e.id(),
            change,
        });
    }
    ctx.report.print(&Repaired { dry_run, repaired });
    Ok(0)
}

/// migrate:resolve V --applied | --rolled-back: settles a failed migration by hand.
pub(crate) fn resolve(ctx: &Context, target: &str, applied: bool) -> Result<u8> {
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
    s.lock(ctx, "migrate:resolve").await?;
    let rows = ledger::read_migrations(&mut s.db, &s.tables)
        .await?
        .unwrap_or_default();
    let Some(row) = rows.iter().find(|r| &r.version == v) else {
        return Err(UsageError::NothingToResolve(v.to_string()).into());
    };
    if row.state != RowState::Failed {
        return Err(UsageError::NotFailed {
            version: v.to_string(),
            state: row.state.as_str(),
        }
        .into());
    }
    ledger::ensure(&mut s.db, &s.tables, Need::Migrations).await?;
    let file = files.iter().find(|f| &f.version == v);
    let had_run = format!(
        "({} of {} {} statements had run)",
        row.statements_done,
        row.statements_total,
        row.direction.as_str()
    );
    let (settle, note, settled_as) = if applied {
        let checksum = file.map_or(row.checksum, |f| f.checksum);
        let batch = rows
            .iter()
            .filter(|r| r.state == RowState::Applied)
            .map(|r| r.batch)
            .max()
            .map_or(row.batch, |b| b.max(row.batch));
        (
            Some((checksum, batch)),
            format!("marked applied by hand {had_run}"),
            "applied",
        )
    } else {
        (
            None,
            format!("marked rolled back by hand {had_run}"),
            "rolled_back",
        )
    };
    let how = match &settle {
        Some((checksum, batch)) => Settle::Applied {
            checksum,
            batch: *batch,
        },
        None => Settle::RolledBack,
    };
    ledger::resolve(&mut s.db, &s.tables, row, how, &note)
        .await
        .map_err(|e| Error::db("resolving the migration", e))?;
    ctx.report.print(&Resolved {
        resolved: row.id(),
        settled_as,
        note,
    });
    Ok(0)
}
