//! schema:dump and schema:load: the database's schema as a deterministic SQL file read from the
//! server (no mysqldump), with dbtool's migrations ledger rows so that a database loaded from
//! it knows its state; and loading such a file into an empty database (fast test databases).

mod snapshot;
pub(crate) use snapshot::Change;
mod text;

use std::path::PathBuf;

use crate::commands::Context;
use crate::commands::session::{Session, block_on, guard};
use crate::db::ledger;
use crate::error::{Error, Result, SchemaError};
use crate::report::{DriftOut, SchemaOut};
use crate::runner::split_file;

/// Where the schema file is: the option's path, else `db/schema.sql` beside the migrations.
fn file(ctx: &Context, given: Option<&std::path::Path>) -> PathBuf {
    ctx.beside_migrations(given, "schema.sql")
}

/// schema:dump: writes the schema file (the same bytes for the same schema, run after run).
pub(crate) fn dump(ctx: &Context, output: Option<&std::path::Path>) -> Result<u8> {
    let path = file(ctx, output);
    let shown = ctx.paths.display(&path);
    let (sql, out) = block_on(async {
        let mut s = Session::open(ctx).await?;
        let result = dump_in(&mut s, &shown).await;
        s.close().await;
        result
    })?;
    std::fs::write(&path, sql).map_err(|e| Error::io(&shown, e))?;
    ctx.report.print(&out);
    Ok(0)
}

async fn dump_in(s: &mut Session, shown: &str) -> Result<(String, SchemaOut)> {
    // The snapshots of migrate:drift belong to this database's history, not to its schema.
    let snapshots = ledger::snapshot::table_name(&s.tables);
    let objects: Vec<_> = crate::db::schema::show_create_all(&mut s.db)
        .await
        .map_err(|e| Error::db("reading the schema", e))?
        .into_iter()
        .filter(|o| !(o.kind == "table" && o.name == snapshots))
        .collect();
    let has_ledger = objects
        .iter()
        .any(|o| o.kind == "table" && o.name == s.tables.migrations_name.as_str());
    let rows = if has_ledger {
        ledger::dump_rows(&mut s.db, &s.tables)
            .await
            .map_err(|e| Error::db("reading the ledger", e))?
    } else {
        Vec::new()
    };
    let sql = text::render(&objects, &rows, s.tables.database.as_str());
    let out = SchemaOut::new(false, shown, &objects, rows.len());
    Ok((sql, out))
}

/// schema:load: creates the schema file's objects and ledger rows in the configured database,
/// which must be empty.
pub(crate) fn load(ctx: &Context, input: Option<&std::path::Path>) -> Result<u8> {
    guard(ctx, "schema:load")?;
    let path = file(ctx, input);
    let shown = ctx.paths.display(&path);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&shown, e))?;
    let statements = split_file(&text, &shown)?;
    block_on(async {
        let mut s = Session::open(ctx).await?;
        let result = load_in(ctx, &mut s, &shown, &statements).await;
        s.close().await;
        result
    })
}

async fn load_in(
    ctx: &Context,
    s: &mut Session,
    shown: &str,
    statements: &[crate::sql::Statement],
) -> Result<u8> {
    s.lock(ctx, "schema:load").await?;
    let present = crate::db::schema::objects(&mut s.db)
        .await
        .map_err(|e| Error::db("reading the schema", e))?;
    if !present.is_empty() {
        let names: Vec<String> = present
            .iter()
            .take(5)
            .map(|(k, n)| format!("{k} `{n}`"))
            .collect();
        return Err(SchemaError::NotEmpty {
            database: s.tables.database.to_string(),
            count: present.len(),
            some: names.join(", "),
        }
        .into());
    }
    use mysql_async::prelude::Queryable;
    for st in statements {
        if let Err(e) = s.db.conn.query_drop(st.sql()).await {
            return Err(SchemaError::LoadFailed {
                path: shown.to_owned(),
                line: st.line,
                number: st.number,
                error: e.into(),
            }
            .into());
        }
    }
    let objects = crate::db::schema::show_create_all(&mut s.db)
        .await
        .map_err(|e| Error::db("reading the schema", e))?;
    let rows = statements
        .iter()
        .filter(|st| st.sql().starts_with("INSERT INTO "))
        .count();
    ctx.report
        .print(&SchemaOut::new(true, shown, &objects, rows));
    Ok(0)
}

/// After a run that changed the schema: the snapshot migrate:drift compares with, and with
/// `dump_schema` the schema file.
pub(crate) async fn after_a_change(ctx: &Context, s: &mut Session) {
    take_snapshot(s).await;
    if let Some(path) = &ctx.config.dump_schema {
        dump_after(ctx, s, path).await;
    }
}

/// With `dump_schema` set: writes the schema file, as schema:dump would. A failure to do so is
/// a warning; the run itself succeeded.
async fn dump_after(ctx: &Context, s: &mut Session, path: &std::path::Path) {
    let shown = ctx.paths.display(path);
    let written = match dump_in(s, &shown).await {
        Ok((sql, _)) => std::fs::write(path, sql).map_err(|e| Error::io(&shown, e)),
        Err(e) => Err(e),
    };
    match written {
        Ok(()) => tracing::info!("wrote {shown} (dump_schema)"),
        Err(e) => tracing::warn!("could not write the schema file (dump_schema): {e}"),
    }
}

/// After a run that changed the schema: stores it as the snapshot migrate:drift compares with.
/// A failure to do so is a warning; the run itself succeeded.
async fn take_snapshot(s: &mut Session) {
    let taken = async {
        let live = snapshot::live(&mut s.db, &s.tables).await?;
        let (body, hash) = snapshot::body(&live);
        ledger::snapshot::record(&mut s.db, &s.tables, &body, &hash).await
    };
    if let Err(e) = taken.await {
        tracing::warn!("could not store the schema snapshot for migrate:drift: {e}");
    }
}

/// The live schema against the snapshot of the last run that changed it.
pub(crate) async fn drift_of(s: &mut Session) -> Result<DriftOut> {
    let last = ledger::snapshot::last(&mut s.db, &s.tables)
        .await
        .map_err(|e| Error::db("reading the schema snapshot", e))?;
    let Some((at, body)) = last else {
        return Ok(DriftOut {
            snapshot_at: None,
            changes: Vec::new(),
        });
    };
    let live = snapshot::live(&mut s.db, &s.tables)
        .await
        .map_err(|e| Error::db("reading the schema", e))?;
    let before: Vec<snapshot::Object> = serde_json::from_str(&body).unwrap_or_default();
    Ok(DriftOut {
        snapshot_at: Some(at),
        changes: snapshot::diff(&before, &live),
    })
}

/// migrate:drift: the live schema against the snapshot of the last run that changed it; exit 3
/// on drift.
pub(crate) fn drift(ctx: &Context) -> Result<u8> {
    let out = block_on(async {
        let mut s = Session::open(ctx).await?;
        let result = drift_of(&mut s).await;
        s.close().await;
        result
    })?;
    let code = if out.changes.is_empty() { 0 } else { 3 };
    ctx.report.print(&out);
    Ok(code)
}
