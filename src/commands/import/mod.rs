//! migrate:import: moving to dbtool from another tool. Its ledger table (read only, never
//! changed) says which migrations it applied; each is matched to dbtool's file of the same
//! version and recorded applied without running, logged as `imported` with the tool's name for
//! it. Every disagreement (an entry with no file, a failed or dirty entry, a version dbtool
//! cannot read, a migration dbtool's ledger has as failed) is listed, and then nothing is
//! recorded.
//!
//! Alembic's table holds only its head revision ids: a mapping file (module `alembic`) says
//! which migration each revision is, and a head stands for its entry and every one before it.

mod alembic;

use std::path::Path;

use crate::cli::ImportFrom;
use crate::commands::Context;
use crate::commands::baseline::{Item, read};
use crate::commands::migrate::discover;
use crate::commands::session::{Session, block_on, guard};
use crate::config::Ident;
use crate::db::foreign::{self, Entry, Tool};
use crate::db::ledger::{self, Need, write::Baselined};
use crate::error::{Error, ImportError, Result};
use crate::files::{MigrationFile, Version};
use crate::report::{ImportOut, ImportedOut};
use crate::rows::{Action, RowState};

/// What `migrate:import` was asked.
pub(crate) struct Request<'a> {
    pub(crate) from: ImportFrom,
    pub(crate) table: Option<&'a str>,
    pub(crate) dry_run: bool,
    /// Alembic's mapping file, when not the default one.
    pub(crate) mapping: Option<&'a Path>,
    pub(crate) write_mapping: bool,
    pub(crate) alembic_dir: Option<&'a Path>,
}

pub(crate) fn import(ctx: &Context, req: &Request<'_>) -> Result<u8> {
    let tool = match req.from {
        ImportFrom::Knex => Tool::Knex,
        ImportFrom::Flyway => Tool::Flyway,
        ImportFrom::GolangMigrate => Tool::GolangMigrate,
        ImportFrom::Dbmate => Tool::Dbmate,
        ImportFrom::Sqlx => Tool::Sqlx,
        ImportFrom::Alembic => Tool::Alembic,
    };
    if tool != Tool::Alembic {
        let given = [
            ("--mapping", req.mapping.is_some()),
            ("--write-mapping", req.write_mapping),
            ("--alembic-dir", req.alembic_dir.is_some()),
        ];
        if let Some((flag, _)) = given.into_iter().find(|(_, g)| *g) {
            return Err(ImportError::AlembicOnly { flag }.into());
        }
    }
    if req.write_mapping {
        return alembic::write_mapping(ctx, req);
    }
    if !req.dry_run {
        guard(ctx, "migrate:import")?;
    }
    let table = Ident::table(req.table.unwrap_or(tool.default_table())).map_err(|e| {
        Error::Config(crate::config::ConfigError::Invalid {
            at: "--table".into(),
            problem: e.to_string(),
        })
    })?;
    let files = discover(ctx)?;
    // Read before connecting: a missing or broken mapping is known without the database.
    let mapping = match tool {
        Tool::Alembic => Some(alembic::load(ctx, req)?),
        _ => None,
    };
    block_on(async {
        let mut s = Session::open(ctx).await?;
        let source = Source {
            tool,
            table: &table,
            mapping: mapping.as_ref(),
        };
        let result = import_in(ctx, &mut s, &files, &source, req.dry_run).await;
        s.close().await;
        result
    })
}

/// Where the imported entries come from: the tool, its table and (Alembic) the mapping.
struct Source<'a> {
    tool: Tool,
    table: &'a Ident,
    mapping: Option<&'a alembic::Mapping>,
}

async fn import_in(
    ctx: &Context,
    s: &mut Session,
    files: &[MigrationFile],
    source: &Source<'_>,
    dry_run: bool,
) -> Result<u8> {
    let (tool, table) = (source.tool, source.table);
    if !dry_run {
        s.lock(ctx, "migrate:import").await?;
    }
    let entries = read_entries(s, tool, table).await?;
    let rows = ledger::read_migrations(&mut s.db, &s.tables)
        .await?
        .unwrap_or_default();
    let (wanted, mut problems) = match source.mapping {
        Some(m) => m.applied(&entries, files, &table.to_string()),
        None => matched(tool, &entries, files),
    };
    let mut todo = Vec::new();
    let mut already = 0;
    for (f, label) in wanted {
        match rows.iter().find(|r| r.version == f.version) {
            Some(r) if r.state == RowState::Applied => already += 1,
            Some(_) => problems.push(format!(
                "{}: dbtool's ledger has it stopped part-way; settle it with `dbtool \
                 migrate:resolve {}` first",
                f.id(),
                f.version
            )),
            None => todo.push((read(f)?, label)),
        }
    }
    if !problems.is_empty() {
        return Err(ImportError::Disagree {
            tool: tool.name(),
            problems,
        }
        .into());
    }
    // Only now that nothing stands in the way: a refused import leaves no table behind.
    if !dry_run {
        ledger::ensure(&mut s.db, &s.tables, Need::Migrations).await?;
    }
    let batch = ledger::last_batch(&mut s.db, &s.tables)
        .await
        .map_err(|e| Error::db("reading the ledger", e))?
        + 1;
    if !dry_run && !todo.is_empty() {
        let items: Vec<Baselined<'_>> = todo
            .iter()
            .map(|(i, label): &(Item<'_>, String)| {
                let outcome = format!("imported from {} ({label})", tool.name());
                i.record(Action::Imported, outcome)
            })
            .collect();
        ledger::baseline(&mut s.db, &s.tables, &items, batch)
            .await
            .map_err(|e| Error::db("writing the ledger", e))?;
    }
    ctx.report.print(&ImportOut {
        dry_run,
        from: tool.name(),
        table: table.to_string(),
        batch,
        imported: todo
            .iter()
            .map(|(i, label)| ImportedOut {
                migration: i.file.id(),
                entry: label.clone(),
            })
            .collect(),
        already_applied: already,
    });
    Ok(0)
}

/// The entries of the tool's table, once its layout is the tool's.
async fn read_entries(s: &mut Session, tool: Tool, table: &Ident) -> Result<Vec<Entry>> {
    check_layout(s, tool, table).await?;
    Ok(foreign::entries(&mut s.db, tool, table)
        .await
        .map_err(|e| Error::db("reading the other tool's ledger", e))?
        .ok_or_else(|| ImportError::NoTable {
            tool: tool.name(),
            table: table.to_string(),
        })?)
}

/// Refuses a table that is not laid out as the tool's (golang-migrate and dbmate share the name
/// `schema_migrations`: reading one as the other would import the wrong migrations).
async fn check_layout(s: &mut Session, tool: Tool, table: &Ident) -> Result<()> {
    let have = foreign::columns_of(&mut s.db, table.as_str())
        .await
        .map_err(|e| Error::db("reading the other tool's ledger", e))?;
    if have.is_empty() {
        return Err(ImportError::NoTable {
            tool: tool.name(),
            table: table.to_string(),
        }
        .into());
    }
    let (needed, tell) = tool.columns();
    let missing: Vec<&str> = needed
        .iter()
        .copied()
        .filter(|c| !have.iter().any(|h| h == c))
        .collect();
    let shared = |other: &str| Some(format!("it looks like {other}'s: use --from {other}"));
    let not_its = |problem: String, hint: Option<String>| ImportError::NotItsTable {
        tool: tool.name(),
        table: table.to_string(),
        problem,
        hint,
    };
    if !missing.is_empty() {
        let hint = (tool == Tool::GolangMigrate && have.iter().any(|h| h == "version"))
            .then(|| shared("dbmate"))
            .flatten()
            .or_else(|| Some("give its ledger with --table NAME".to_owned()));
        return Err(not_its(format!("it has no column {}", missing.join(", ")), hint).into());
    }
    if let Some((column, false)) = tell
        && have.iter().any(|h| h == column)
    {
        return Err(not_its(
            format!("it has a `{column}` column"),
            shared("golang-migrate"),
        )
        .into());
    }
    Ok(())
}

/// The files the entries stand for (each with the tool's name for it), and the problems.
fn matched<'f>(
    tool: Tool,
    entries: &[Entry],
    files: &'f [MigrationFile],
) -> (Vec<(&'f MigrationFile, String)>, Vec<String>) {
    let mut wanted: Vec<(&MigrationFile, String)> = Vec::new();
    let mut problems = Vec::new();
    for e in entries {
        let label = if e.label.is_empty() {
            &e.version
        } else {
            &e.label
        };
        if !e.succeeded {
            problems.push(format!(
                "{label}: {} records it as failed (or dirty); settle it there or by hand first",
                tool.name()
            ));
            continue;
        }
        // Knex names its entries by file name: the version is the name's leading digits.
        let text = match tool {
            Tool::Knex => e
                .label
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap_or(""),
            _ => e.version.as_str(),
        };
        let Ok(v) = text.parse::<Version>() else {
            problems.push(format!(
                "{label}: `{}` is not a version dbtool can match (digits only)",
                e.version
            ));
            continue;
        };
        if !files.iter().any(|f| f.version == v) {
            problems.push(format!("{label}: no migration file has version {v}"));
            continue;
        }
        let covered = files.iter().filter(|f| {
            if e.up_to {
                f.version <= v
            } else {
                f.version == v
            }
        });
        for f in covered {
            if !wanted.iter().any(|(w, _)| w.version == f.version) {
                wanted.push((f, label.to_owned()));
            }
        }
    }
    wanted.sort_by(|a, b| a.0.version.cmp(&b.0.version));
    (wanted, problems)
}
