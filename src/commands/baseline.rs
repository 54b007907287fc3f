//! migrate:baseline: adopting a database whose schema already holds what the migrations up to
//! a version create (built by hand, or by another tool): those migrations are recorded as
//! applied without running, in one transaction, each logged as `baselined`. `--check` first
//! compares the tables, views, routines, triggers and events their files create (less what
//! later files up to the version drop or rename) with the live schema, and records nothing if
//! one is missing.

use crate::commands::Context;
use crate::commands::migrate::{discover, version};
use crate::commands::session::{Session, block_on, guard};
use crate::db::ledger::{self, Need, write::Baselined};
use crate::error::{BaselineError, Result};
use crate::files::{Checksum, MigrationFile, Version, checksum};
use crate::report::BaselineOut;
use crate::rows::{Action, MigrationRow, RowState};
use crate::runner::split_file;
use crate::sql::objects::{created, dropped, renamed};

pub(crate) fn baseline(ctx: &Context, to: &str, check: bool, dry_run: bool) -> Result<u8> {
    if !dry_run {
        guard(ctx, "migrate:baseline")?;
    }
    let v = version(to)?;
    let files = discover(ctx)?;
    if !files.iter().any(|f| f.version == v) {
        return Err(BaselineError::UnknownVersion {
            version: v.to_string(),
            dir: ctx.paths.display(&ctx.config.migrations_dir),
        }
        .into());
    }
    let upto: Vec<&MigrationFile> = files.iter().filter(|f| f.version <= v).collect();
    block_on(async {
        let mut s = Session::open(ctx).await?;
        let result = baseline_in(ctx, &mut s, &upto, &v, (check, dry_run)).await;
        s.close().await;
        result
    })
}

/// One migration to record, read from its files.
pub(super) struct Item<'a> {
    pub(super) file: &'a MigrationFile,
    total: u32,
    prefix: Checksum,
    down: Option<Checksum>,
}

impl Item<'_> {
    /// Its ledger record as `action` (baselined or imported).
    pub(super) fn record(&self, action: Action, outcome: String) -> Baselined<'_> {
        Baselined {
            action,
            key: self.file.version.canonical(),
            name: &self.file.name,
            checksum: &self.file.checksum,
            down_checksum: self.down.as_ref(),
            total: self.total,
            prefix: &self.prefix,
            outcome,
        }
    }
}

async fn baseline_in(
    ctx: &Context,
    s: &mut Session,
    upto: &[&MigrationFile],
    v: &Version,
    (check, dry_run): (bool, bool),
) -> Result<u8> {
    if !dry_run {
        s.lock(ctx, "migrate:baseline").await?;
    }
    let rows = ledger::read_migrations(&mut s.db, &s.tables)
        .await?
        .unwrap_or_default();
    let row = |f: &MigrationFile| -> Option<&MigrationRow> {
        rows.iter().find(|r| r.version == f.version)
    };
    let failed: Vec<String> = upto
        .iter()
        .filter(|f| row(f).is_some_and(|r| r.state == RowState::Failed))
        .map(|f| f.id())
        .collect();
    if !failed.is_empty() {
        return Err(BaselineError::Failed { ids: failed }.into());
    }
    if check {
        let missing = missing_objects(s, upto).await?;
        if !missing.is_empty() {
            return Err(BaselineError::Missing {
                to: v.to_string(),
                missing,
            }
            .into());
        }
    }
    let todo: Vec<Item<'_>> = upto
        .iter()
        .filter(|f| row(f).is_none())
        .map(|f| read(f))
        .collect::<Result<_>>()?;
    // Only now that nothing stands in the way: a refused baseline leaves no table behind.
    if !dry_run {
        ledger::ensure(&mut s.db, &s.tables, Need::Migrations).await?;
    }
    let batch = ledger::last_batch(&mut s.db, &s.tables)
        .await
        .map_err(|e| crate::error::Error::db("reading the ledger", e))?
        + 1;
    let out = BaselineOut {
        dry_run,
        to: v.to_string(),
        batch,
        baselined: todo.iter().map(|i| i.file.id()).collect(),
        already_applied: upto.len() - todo.len(),
        checked: check,
    };
    if !dry_run && !todo.is_empty() {
        let outcome = format!("recorded applied without running (migrate:baseline --to {v})");
        let items: Vec<Baselined<'_>> = todo
            .iter()
            .map(|i| i.record(Action::Baselined, outcome.clone()))
            .collect();
        ledger::baseline(&mut s.db, &s.tables, &items, batch)
            .await
            .map_err(|e| crate::error::Error::db("writing the ledger", e))?;
    }
    ctx.report.print(&out);
    Ok(0)
}

/// A migration's statement count and checksums, as an apply would record them.
pub(super) fn read(f: &MigrationFile) -> Result<Item<'_>> {
    let text = f.up.read()?;
    let statements = split_file(&text, &f.up.display)?;
    let prefix = crate::files::checksum::prefix_checksum(statements.iter().map(|s| s.sql()));
    let down = match &f.down {
        Some(d) => Some(checksum(d.read()?.as_bytes())),
        None => None,
    };
    Ok(Item {
        file: f,
        total: statements.len() as u32,
        prefix,
        down,
    })
}

/// What the files up to the version create and the live schema lacks, as
/// "table `t` (file:line)". Indexes are not checked (they go with their tables).
async fn missing_objects(s: &mut Session, upto: &[&MigrationFile]) -> Result<Vec<String>> {
    // (kind, name, where) in file order, less what later statements drop or rename.
    let mut expected: Vec<(&'static str, String, String)> = Vec::new();
    for f in upto {
        let text = f.up.read()?;
        for st in split_file(&text, &f.up.display)? {
            if let Some((kind, name, _)) = created(st.sql())
                && kind != "index"
            {
                expected.push((kind, name, format!("{}:{}", f.up.display, st.line)));
            }
            for (kind, name) in dropped(st.sql()) {
                expected.retain(|(k, n, _)| !(*k == kind && n.eq_ignore_ascii_case(&name)));
            }
            for (from, to) in renamed(st.sql()) {
                for e in expected
                    .iter_mut()
                    .filter(|e| e.0 == "table" && e.1.eq_ignore_ascii_case(&from))
                {
                    e.1 = to.clone();
                }
            }
        }
    }
    let live = crate::db::schema::objects(&mut s.db)
        .await
        .map_err(|e| crate::error::Error::db("reading the schema", e))?;
    Ok(expected
        .into_iter()
        .filter(|(kind, name, _)| {
            !live
                .iter()
                .any(|(k, n)| k == kind && n.eq_ignore_ascii_case(name))
        })
        .map(|(kind, name, at)| format!("{kind} `{name}` (created at {at})"))
        .collect())
}
