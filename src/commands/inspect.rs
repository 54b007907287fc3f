//! The read-only migrate commands: migrate:status, migrate:validate, migrate:unlock. They take
//! no lock and create nothing.

use crate::commands::Context;
use crate::commands::migrate::discover;
use crate::commands::session::{Session, block_on};
use crate::db::ledger;
use crate::db::lock::Holder;
use crate::error::{Error, Result};
use crate::plan;
use crate::report::{HolderOut, LockOut, MigrationsOut, StatusOut, ValidateOut};

pub(crate) fn holder_out(h: &Holder) -> HolderOut {
    HolderOut {
        connection_id: h.connection_id,
        user: h.user.clone(),
        host: h.host.clone(),
        seconds: h.seconds,
        state: h.state.clone(),
    }
}

/// migrate:status. Exit 5 with `--exit-code` when anything is pending.
pub(crate) fn status(ctx: &Context, exit_code: bool) -> Result<u8> {
    let files = discover(ctx)?;
    let (rows, holder) = block_on(async {
        let mut s = Session::open(ctx).await?;
        let rows = ledger::read_migrations(&mut s.db, &s.tables).await;
        let holder = s.db.lock_holder(&s.lock).await;
        s.close().await;
        let holder = holder.map_err(|e| Error::db("checking the lock", e))?;
        Ok((rows?.unwrap_or_default(), holder))
    })?;
    let entries = plan::entries(&files, &rows, false);
    let target = ctx.config.connection().ok();
    ctx.report.print(&StatusOut {
        environment: ctx.config.environment.clone(),
        database: target.and_then(|c| c.database.clone()),
        url: target.map(|c| c.to_string()),
        migrations: MigrationsOut::new(&entries),
        lock: holder.as_ref().map(holder_out),
        color: ctx.report.term.stdout_color,
    });
    let pending = entries.iter().any(|e| e.status.is_pending());
    Ok(if exit_code && pending { 5 } else { 0 })
}

/// migrate:validate: every file readable and splittable, applied ones unchanged. Exit 3 on
/// drift.
pub(crate) fn validate(ctx: &Context) -> Result<u8> {
    let files = discover(ctx)?;
    // Every up and down file must split (unterminated quotes, bad DELIMITER lines).
    for f in &files {
        for sql_file in std::iter::once(&f.up).chain(f.down.iter()) {
            crate::runner::split_file(&sql_file.read()?, &sql_file.display)?;
        }
    }
    let rows = block_on(async {
        let mut s = Session::open(ctx).await?;
        let rows = ledger::read_migrations(&mut s.db, &s.tables).await;
        s.close().await;
        Ok(rows?.unwrap_or_default())
    })?;
    let entries = plan::entries(&files, &rows, false);
    let drift = plan::drift(&entries);
    ctx.report.print(&ValidateOut {
        valid: drift.is_none(),
        migrations: MigrationsOut::new(&entries),
    });
    match drift {
        Some(d) => Err(Error::Plan(plan::PlanError::Drift(d))),
        None => Ok(0),
    }
}

/// migrate:unlock: who holds the lock.
pub(crate) fn unlock(ctx: &Context) -> Result<u8> {
    let (name, holder) = block_on(async {
        let mut s = Session::open(ctx).await?;
        let h = s.db.lock_holder(&s.lock).await;
        let name = s.lock.clone();
        s.close().await;
        Ok((name, h.map_err(|e| Error::db("checking the lock", e))?))
    })?;
    ctx.report.print(&LockOut {
        lock: name,
        holder: holder.as_ref().map(holder_out),
    });
    Ok(0)
}
