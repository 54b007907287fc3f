//! `migrate:latest --dry-run --explain` (and `migrate:up`): for every ALTER TABLE, CREATE INDEX
//! and DROP INDEX the plan would run, the server's own verdict — INSTANT, INPLACE with the
//! least lock it allows, or COPY — found by trying the statement on an empty copy of its table,
//! with the live table's size and rows and what that means for it.
//!
//! How: a scratch schema (`dbtool_explain_<pid>_<n>`, dropped at the end, also after an error)
//! gets empty copies of the live tables the plan's statements name, and of the tables linked to
//! them by foreign keys; then the plan's statements are replayed there in order, so a migration
//! that alters a table an earlier one creates or alters is explained on the table as the run
//! would leave it. Data changes are left out (the copies stay empty); the session is reset
//! between files, as the real run does. Each explained statement is tried with `ALGORITHM=` and
//! `LOCK=` options in the order the server itself prefers (see [`probe`]); the first that the
//! server accepts is the verdict, and it is what the copy now holds for the next statements.
//!
//! What an empty copy cannot show: failures that depend on the rows (a duplicate under a new
//! UNIQUE key, a NULL under a new NOT NULL). MySQL's limit of row versions (instant ADD/DROP
//! COLUMNs since the last rebuild: 64, 255 from 9.1) depends on the live table's history, so a
//! copy gets the live table's count (`db::explain::add_row_versions`) when the run could reach
//! the limit, and the server then answers for the copy as for the live table.

mod probe;
mod replay;

use std::collections::BTreeSet;

use crate::commands::Context;
use crate::commands::session::connect_timeout;
use crate::db::Db;
use crate::db::explain::{self as scratch, Live};
use crate::error::{Error, Result};
use crate::report::{DryRun, ExplainRun};
use crate::runner::Prepared;
use crate::sql::alter::{self, Action};

/// The least instant changes MySQL allows a table (64 before 9.1, then 255): a run that cannot
/// reach it needs no copy with the live table's row versions.
const LEAST_ROW_VERSIONS: u64 = 64;

/// One statement of the plan, as `--explain` treats it.
#[derive(Debug)]
enum Planned {
    Skip,
    /// It writes to another database: never run in the scratch schema.
    Elsewhere {
        schema: String,
        explained: bool,
    },
    Run {
        sql: String,
        action: Action,
    },
}

/// Where a table of the scratch schema comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    Live(String),
    New,
}

/// Explains the statements of `prepared` into `out`.
pub(crate) async fn explain(ctx: &Context, prepared: &[Prepared], out: &mut DryRun) -> Result<()> {
    let conn = ctx.config.connection()?;
    let mut db = Db::connect(conn, connect_timeout(ctx)).await?;
    let live = scratch::read_live(&mut db)
        .await
        .map_err(|e| Error::db("--explain: reading the live tables", e))?;
    for left in scratch::leftovers(&mut db).await {
        tracing::warn!(
            "explain: the schema `{left}` exists: the scratch schema of another --explain \
             running now, or one left by a run that was killed (then drop it: DROP DATABASE \
             `{left}`)"
        );
    }
    let planned = plan(prepared, &live);
    let name = scratch_name();
    scratch::create_scratch(&mut db, &name, &live)
        .await
        .map_err(|e| {
            Error::db(
                "--explain: creating its scratch schema (it needs CREATE and DROP on databases \
                 named dbtool_explain_*)",
                e,
            )
        })?;
    let result = replay::replay(&mut db, &name, &live, &planned).await;
    let dropped = match scratch::drop_scratch(&mut db, &name).await {
        // A connection lost on the way: the schema is dropped from a new one.
        Err(e) if e.is_lost() => match Db::connect(conn, connect_timeout(ctx)).await {
            Ok(again) => {
                db.close().await;
                db = again;
                scratch::drop_scratch(&mut db, &name).await
            }
            Err(_) => Err(e),
        },
        other => other,
    };
    if let Err(e) = dropped {
        tracing::warn!(
            "explain: could not drop the scratch schema `{name}` ({e}): drop it by hand"
        );
    }
    db.close().await;
    let (verdicts, copied) =
        result.map_err(|e| Error::db("--explain: in the scratch schema", e))?;
    for (step, verdicts) in out.steps.iter_mut().zip(verdicts) {
        for (s, v) in step.statements.iter_mut().zip(verdicts) {
            s.explain = v;
        }
    }
    out.explain = Some(ExplainRun {
        server: live.version.clone(),
        scratch_schema: name,
        tables_copied: copied,
    });
    Ok(())
}

/// A name no other run uses at the same time: this process's id, and a counter that also
/// tells apart runs of different hosts that share the id.
fn scratch_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "dbtool_explain_{}_{}",
        std::process::id(),
        nanos % 1_000_000
    )
}

/// What to do with each statement still to run, step by step.
fn plan(prepared: &[Prepared], live: &Live) -> Vec<Vec<Planned>> {
    let mut out = Vec::new();
    for p in prepared {
        let mut step = Vec::new();
        for s in p.remaining() {
            let planned = planned(s.sql(), &live.database);
            if let Planned::Elsewhere {
                schema,
                explained: false,
            } = &planned
            {
                tracing::warn!(
                    "explain: {}:{}: statement {} names the database `{schema}`: it is not run \
                     in the scratch schema, so verdicts on the tables it changes may be off",
                    p.path(),
                    s.line,
                    s.number
                );
            }
            step.push(planned);
        }
        out.push(step);
    }
    out
}

fn planned(sql: &str, database: &str) -> Planned {
    let action = alter::read(sql);
    match action {
        Action::Skip => Planned::Skip,
        // The scratch schema's name is not known yet; the statement is rewritten for it when
        // it runs. (A SET too: `SET @a = other.f()` would run a function of another database.)
        Action::Session | Action::Explain(_) | Action::Replay(_) => {
            match alter::in_scratch(sql, database, "") {
                Ok(_) => Planned::Run {
                    sql: sql.to_owned(),
                    action,
                },
                Err(schema) => Planned::Elsewhere {
                    schema,
                    explained: matches!(action, Action::Explain(_)),
                },
            }
        }
    }
}

/// The live tables worth copying: those the statements name, and every table linked to one by
/// a foreign key, through any number of links (an ALTER that rebuilds a child checks its
/// parents; dropping a column may be refused for a child's key).
fn tables_to_copy(planned: &[Vec<Planned>], live: &Live) -> Vec<String> {
    let mut named: BTreeSet<String> = BTreeSet::new();
    for p in planned.iter().flatten() {
        if let Planned::Run { sql, .. } = p {
            for n in alter::names(sql) {
                if live.table(&n).is_some() {
                    named.insert(n);
                }
            }
        }
    }
    loop {
        let before = named.len();
        for (child, parent) in &live.references {
            if named.contains(child) || named.contains(parent) {
                named.insert(child.clone());
                named.insert(parent.clone());
            }
        }
        if named.len() == before {
            break;
        }
    }
    named.into_iter().collect()
}
