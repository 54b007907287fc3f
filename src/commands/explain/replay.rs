//! Replaying the plan in the scratch schema: copies first, then each statement in order,
//! explained or only run, with the session reset between files as the real run resets it.

use std::collections::HashMap;

use super::{LEAST_ROW_VERSIONS, Origin, Planned, probe, tables_to_copy};
use crate::db::explain::{self as scratch, Live};
use crate::db::{Db, DbError};
use crate::report::{Explain, Target};
use crate::sql::alter::{self, Action, Alter, Change};

/// The verdicts, step by step and statement by statement, and how many tables were copied.
pub(super) type Verdicts = (Vec<Vec<Option<Explain>>>, usize);

pub(super) async fn replay(
    db: &mut Db,
    name: &str,
    live: &Live,
    planned: &[Vec<Planned>],
) -> std::result::Result<Verdicts, DbError> {
    scratch::reset(db, name).await?;
    let copy = tables_to_copy(planned, live);
    let failed: HashMap<String, DbError> = scratch::copy_tables(db, live, &copy)
        .await?
        .into_iter()
        .collect();
    let mut origins: HashMap<String, Origin> = copy
        .iter()
        .filter(|t| !failed.contains_key(*t))
        .map(|t| (t.clone(), Origin::Live(t.clone())))
        .collect();
    let explained = planned
        .iter()
        .flatten()
        .filter(|p| {
            matches!(
                p,
                Planned::Run {
                    action: Action::Explain(_),
                    ..
                }
            )
        })
        .count() as u64;
    let padded = pad_row_versions(db, live, &copy, explained).await?;
    let mut run = Run {
        db,
        name,
        live,
        failed: &failed,
        origins: &mut origins,
        padded: &padded,
    };
    let mut verdicts = Vec::new();
    for step in planned {
        // Each file starts in a new session, as in the real run.
        scratch::reset(run.db, name).await?;
        let mut out = Vec::new();
        for p in step {
            out.push(run.statement(p).await?);
        }
        verdicts.push(out);
    }
    Ok((verdicts, copy.len().saturating_sub(failed.len())))
}

/// On MySQL, gives each copy of a table whose row versions the run could take to the server's
/// limit as many as the live table has. Returns the tables that got them.
async fn pad_row_versions(
    db: &mut Db,
    live: &Live,
    copied: &[String],
    explained: u64,
) -> std::result::Result<Vec<String>, DbError> {
    let mut padded = Vec::new();
    for t in copied {
        let Some(versions) = live.table(t).and_then(|t| t.versions) else {
            continue;
        };
        if versions < 2 || versions + explained < LEAST_ROW_VERSIONS {
            continue;
        }
        match scratch::add_row_versions(db, t, versions).await {
            Ok(()) => padded.push(t.clone()),
            Err(e) if e.is_lost() => return Err(e),
            Err(e) => tracing::warn!(
                "explain: could not give the copy of `{t}` the live table's {versions} row \
                 versions ({e}); its INSTANT verdicts ignore the server's limit"
            ),
        }
    }
    Ok(padded)
}

/// The replay's state.
struct Run<'a> {
    db: &'a mut Db,
    name: &'a str,
    live: &'a Live,
    /// Tables whose copy failed, with the server's error.
    failed: &'a HashMap<String, DbError>,
    origins: &'a mut HashMap<String, Origin>,
    /// Copies given the live table's row versions.
    padded: &'a [String],
}

impl Run<'_> {
    /// Replays one statement; its verdict when it is explained.
    async fn statement(&mut self, p: &Planned) -> std::result::Result<Option<Explain>, DbError> {
        let (sql, action) = match p {
            Planned::Skip => return Ok(None),
            Planned::Elsewhere { schema, explained } => {
                return Ok(explained.then(|| {
                    Explain::unexplained(
                        format!(
                            "it names the database `{schema}`; --explain runs statements only in \
                             its scratch copy of this one"
                        ),
                        &Target::Unknown(None),
                        None,
                    )
                }));
            }
            Planned::Run { sql, action } => (sql, action),
        };
        let sql =
            alter::in_scratch(sql, &self.live.database, self.name).unwrap_or_else(|_| sql.clone());
        match action {
            Action::Skip => Ok(None),
            Action::Session => {
                self.quiet(&sql).await?;
                Ok(None)
            }
            Action::Replay(change) => {
                if self.quiet(&sql).await? {
                    self.changed(change);
                }
                Ok(None)
            }
            Action::Explain(_) => {
                // Read again: the rewritten text has other offsets.
                let Action::Explain(a) = alter::read(&sql) else {
                    return Ok(None);
                };
                match &a.probe_as {
                    Some(text) => match alter::read(text) {
                        Action::Explain(b) => self.explained(text, &b).await.map(Some),
                        _ => Ok(None),
                    },
                    None => self.explained(&sql, &a).await.map(Some),
                }
            }
        }
    }

    /// Runs a statement that is replayed, not explained; says whether it succeeded.
    async fn quiet(&mut self, sql: &str) -> std::result::Result<bool, DbError> {
        match probe::exec(self.db, sql).await {
            Ok(()) => Ok(true),
            Err(e) if e.is_lost() => Err(e),
            Err(e) => {
                tracing::debug!("explain: in the scratch schema, {sql}: {e}");
                Ok(false)
            }
        }
    }

    fn changed(&mut self, change: &Change) {
        match change {
            Change::Create(t) => {
                self.origins.insert(t.clone(), Origin::New);
            }
            Change::Drop(ts) => {
                for t in ts {
                    self.origins.remove(t);
                }
            }
            Change::Rename(pairs) => {
                for (from, to) in pairs {
                    if let Some(o) = self.origins.remove(from) {
                        self.origins.insert(to.clone(), o);
                    }
                }
            }
        }
    }

    /// The live table an explained statement changes.
    fn target(&self, table: &str) -> Target {
        match self.origins.get(table) {
            Some(Origin::Live(name)) => {
                let t = self.live.table(name);
                Target::Live {
                    name: name.clone(),
                    rows: t.map_or(0, |t| t.rows),
                    bytes: t.map_or(0, |t| t.bytes),
                }
            }
            Some(Origin::New) => Target::New(table.to_owned()),
            None => Target::Unknown(Some(table.to_owned())),
        }
    }

    async fn explained(&mut self, sql: &str, a: &Alter) -> std::result::Result<Explain, DbError> {
        let target = self.target(&a.table);
        if let Some(e) = self.failed.get(&a.table) {
            return Ok(Explain::unexplained(
                format!(
                    "the empty copy of `{}` could not be made as the live table is: {e}",
                    a.table
                ),
                &target,
                None,
            ));
        }
        let origin = self.origins.get(&a.table).cloned();
        let offset = match &origin {
            Some(Origin::Live(n)) if !self.padded.contains(n) => {
                self.live.table(n).and_then(|t| t.versions).unwrap_or(0)
            }
            _ => 0,
        };
        let outcome = probe::probe(self.db, self.name, sql, a).await?;
        let explain = probe::verdict(&outcome, a, sql, &target, offset);
        if outcome.ran()
            && let Some(to) = &a.renamed_to
            && let Some(o) = self.origins.remove(&a.table)
        {
            self.origins.insert(to.clone(), o);
        }
        Ok(explain)
    }
}
