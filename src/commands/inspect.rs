//! The read-only migrate commands: migrate:status, migrate:validate, migrate:unlock. They take
//! no lock and create nothing.

use crate::commands::Context;
use crate::commands::migrate::{discover, discover_beside};
use crate::commands::session::{Session, block_on};
use crate::db::ledger;
use crate::db::lock::Holder;
use crate::error::{Error, Result};
use crate::plan;
use crate::report::{HolderOut, LockOut, MigrationsOut, StatusOut, ValidateOut};
use crate::rows::RowState;

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
pub(crate) fn status(ctx: &Context, exit_code: bool, drift: bool) -> Result<u8> {
    let mut drifted = None;
    let (files, (rows, holder)) = block_on(discover_beside(ctx, async {
        let mut s = Session::open(ctx).await?;
        let rows = ledger::read_migrations(&mut s.db, &s.tables).await;
        if drift {
            drifted = Some(crate::commands::schema::drift_of(&mut s).await?);
        }
        let holder = s.db.lock_holder(&s.lock).await;
        // How long the rows in flight have run (a courtesy: none if it cannot be read).
        let running = match (&rows, &holder) {
            (Ok(Some(r)), Ok(Some(_))) if r.iter().any(|r| r.state == RowState::Failed) => {
                ledger::running_for(&mut s.db, &s.tables)
                    .await
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        };
        s.close().await;
        let holder = holder.map_err(|e| Error::db("checking the lock", e))?;
        Ok((rows?.unwrap_or_default(), (holder, running)))
    }))?;
    let (holder, running) = holder;
    // A row in flight under a lock someone holds is being applied now: running, not failed.
    let entries = plan::entries(&files, &rows, holder.is_some());
    let target = ctx.config.connection().ok();
    let mut migrations = MigrationsOut::new(&entries);
    if let Some(h) = &holder {
        for m in migrations
            .migrations
            .iter_mut()
            .filter(|m| m.state == "running")
        {
            let secs = running
                .iter()
                .find(|(v, _)| v.trim_start_matches('0') == m.version.trim_start_matches('0'))
                .map(|(_, s)| format!(", for {s} s"))
                .unwrap_or_default();
            m.state_text = format!("{} · connection {}{secs}", m.state_text, h.connection_id);
        }
    }
    let drift_found = drifted.as_ref().is_some_and(|d| !d.changes.is_empty());
    ctx.report.print(&StatusOut {
        environment: ctx.config.environment.clone(),
        database: target.and_then(|c| c.database.clone()),
        url: target.map(|c| c.to_string()),
        migrations,
        lock: holder.as_ref().map(holder_out),
        drift: drifted,
        color: ctx.report.term.stdout_color,
    });
    if !exit_code {
        return Ok(0);
    }
    // A deploy check: 3 when a migration is broken (failed, modified, missing), 5 when the
    // only thing to do is apply pending ones.
    let broken: Vec<String> = entries
        .iter()
        .filter(|e| e.status.is_broken())
        .map(|e| format!("{} ({})", e.id(), e.status.name()))
        .collect();
    if !broken.is_empty() {
        tracing::error!(
            "{} {} attention: {}",
            crate::report::plural(broken.len(), "migration", "migrations"),
            if broken.len() == 1 { "needs" } else { "need" },
            broken.join(", ")
        );
        return Ok(3);
    }
    if drift_found {
        tracing::error!("the schema was changed by hand since the last run (see migrate:drift)");
        return Ok(3);
    }
    let pending = entries.iter().any(|e| e.status.is_pending());
    Ok(if pending { 5 } else { 0 })
}

/// The migrations ledger's rows (none when it does not exist yet), on a connection of its own.
fn read_rows(ctx: &Context) -> Result<Vec<crate::rows::MigrationRow>> {
    block_on(async {
        let mut s = Session::open(ctx).await?;
        let rows = ledger::read_migrations(&mut s.db, &s.tables).await;
        s.close().await;
        Ok(rows?.unwrap_or_default())
    })
}

/// migrate:currentVersion: the newest applied migration's version (Knex's currentVersion).
pub(crate) fn current_version(ctx: &Context) -> Result<u8> {
    let files = discover(ctx)?;
    let rows = read_rows(ctx)?;
    let entries = plan::entries(&files, &rows, false);
    let current = entries
        .iter()
        .filter(|e| {
            e.row()
                .is_some_and(|r| r.state == crate::rows::RowState::Applied)
        })
        .map(|e| e.version().to_string())
        .next_back();
    ctx.report.print(&crate::report::CurrentVersion {
        current_version: current,
    });
    Ok(0)
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
    let rows = read_rows(ctx)?;
    let entries = plan::entries(&files, &rows, false);
    // Drift, and migrations stopped part-way: a database a deploy must not pass over.
    let mut problems: Vec<String> = Vec::new();
    if let Some(d) = plan::drift(&entries) {
        problems.push(d.to_string());
    }
    let unfinished: Vec<String> = entries
        .iter()
        .filter_map(|e| match e.status {
            plan::Status::Failed(_, r) => Some(format!(
                "\n  {}  failed  {} of {} {} statements applied",
                e.id(),
                r.statements_done,
                r.statements_total,
                r.direction.as_str()
            )),
            _ => None,
        })
        .collect();
    if !unfinished.is_empty() {
        problems.push(format!(
            "{} stopped part-way:{}\n  finish {} with `dbtool migrate:latest` (it resumes) or \
             settle {} with `dbtool migrate:resolve VERSION --applied|--rolled-back`.",
            crate::report::plural(unfinished.len(), "migration", "migrations"),
            unfinished.concat(),
            if unfinished.len() == 1 { "it" } else { "them" },
            if unfinished.len() == 1 { "it" } else { "them" },
        ));
    }
    let problem = (!problems.is_empty()).then(|| problems.join("\n"));
    ctx.report.print(&ValidateOut {
        valid: problem.is_none(),
        problem: problem.clone(),
        migrations: MigrationsOut::new(&entries),
    });
    match problem {
        Some(p) => {
            tracing::error!("{p}");
            Ok(3)
        }
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
