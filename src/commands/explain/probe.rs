//! Trying one ALTER on its empty copy, with the options the server itself would pick first.
//!
//! Without `ALGORITHM=` and `LOCK=`, both servers take the cheapest algorithm the change
//! allows (INSTANT, then INPLACE, then COPY) and, with it, the least lock (NONE, then SHARED,
//! then EXCLUSIVE). So the statement is tried as `ALGORITHM=INSTANT`, then `INPLACE, LOCK=NONE`,
//! `INPLACE, LOCK=SHARED`, `INPLACE, LOCK=EXCLUSIVE`, `COPY, LOCK=NONE` (MariaDB 11.2+ copies
//! online), `COPY, LOCK=SHARED` and `COPY, LOCK=EXCLUSIVE`: the server refuses each it cannot
//! do, before it changes anything, and the first it accepts is what it would do with the
//! statement as written. An option the statement gives itself stays, and only the others are
//! tried. When it accepts none, the statement runs as written: if that fails too, the real run
//! would fail there.

use crate::db::explain::{table_ids, table_versions};
use crate::db::{Db, DbError, ServerError};
use crate::report::{Explain, Target, Took};
use crate::sql::alter::{self, Alter};

/// MySQL's ER_INNODB_MAX_ROW_VERSION: no more instant ADD/DROP COLUMN on this table.
const MAX_ROW_VERSIONS: u16 = 4092;
/// ER_PARSE_ERROR: the statement takes no such option there.
const PARSE_ERROR: u16 = 1064;

/// What trying a statement found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    /// The server took it with this algorithm and lock.
    Took {
        algorithm: String,
        lock: Option<String>,
        /// The copy got new InnoDB table ids (None: the server does not show them).
        rebuilt: Option<bool>,
        /// MySQL's row versions of the copy, before and after.
        versions: Option<(u64, u64)>,
        /// INSTANT was refused because the copy is at the limit of row versions.
        at_limit: bool,
    },
    /// The server took no option, but ran the statement as written.
    AsWritten { refused: ServerError },
    /// The statement fails on the copy.
    Fails(ServerError),
}

impl Outcome {
    /// Whether the copy now holds the statement's change.
    pub(super) fn ran(&self) -> bool {
        !matches!(self, Outcome::Fails(_))
    }
}

/// One try: the algorithm and lock it stands for, and the options it adds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Attempt {
    algorithm: String,
    lock: Option<String>,
    add_algorithm: Option<&'static str>,
    add_lock: Option<&'static str>,
}

/// The server's own order of preference.
const ORDER: [(&str, Option<&str>); 7] = [
    ("INSTANT", None),
    ("INPLACE", Some("NONE")),
    ("INPLACE", Some("SHARED")),
    ("INPLACE", Some("EXCLUSIVE")),
    ("COPY", Some("NONE")),
    ("COPY", Some("SHARED")),
    ("COPY", Some("EXCLUSIVE")),
];

fn family(algorithm: &str) -> &str {
    match algorithm {
        "NOCOPY" => "INPLACE",
        other => other,
    }
}

/// The tries for `a`, in order.
fn attempts(a: &Alter) -> Vec<Attempt> {
    let algorithm = a
        .algorithm
        .as_ref()
        .filter(|g| g.chooses())
        .map(|g| g.value.as_str());
    let lock = a
        .lock
        .as_ref()
        .filter(|g| g.chooses())
        .map(|g| g.value.as_str());
    let mut out: Vec<Attempt> = Vec::new();
    for (alg, lk) in ORDER {
        if algorithm.is_some_and(|given| family(given) != alg) {
            continue;
        }
        if let (Some(given), Some(lk)) = (lock, lk)
            && given != lk
        {
            continue;
        }
        let attempt = Attempt {
            algorithm: algorithm.unwrap_or(alg).to_owned(),
            lock: if alg == "INSTANT" {
                None
            } else {
                lock.or(lk).map(str::to_owned)
            },
            add_algorithm: if algorithm.is_some() { None } else { Some(alg) },
            add_lock: if lock.is_some() { None } else { lk },
        };
        if !out.contains(&attempt) {
            out.push(attempt);
        }
    }
    out
}

pub(super) async fn exec(db: &mut Db, sql: &str) -> Result<(), DbError> {
    use mysql_async::prelude::Queryable;
    db.conn.query_drop(sql).await.map_err(Into::into)
}

/// Tries `sql` (read as `a`) on the copy in `scratch`.
pub(super) async fn probe(
    db: &mut Db,
    scratch: &str,
    sql: &str,
    a: &Alter,
) -> Result<Outcome, DbError> {
    let after = a.renamed_to.as_deref().unwrap_or(&a.table);
    let (mut refused, mut at_limit) = (None, false);
    for t in attempts(a) {
        let ids = table_ids(db, scratch, &a.table).await;
        let versions = table_versions(db, scratch, &a.table).await;
        match exec(db, &a.with(sql, t.add_algorithm, t.add_lock)).await {
            Ok(()) => {
                let now = table_ids(db, scratch, after).await;
                let rebuilt = match (ids, now) {
                    (Some(before), Some(now)) => Some(before != now),
                    _ => None,
                };
                let versions = match (versions, table_versions(db, scratch, after).await) {
                    (Some(b), Some(n)) => Some((b, n)),
                    _ => None,
                };
                return Ok(Outcome::Took {
                    algorithm: t.algorithm,
                    lock: t.lock,
                    rebuilt,
                    versions,
                    at_limit,
                });
            }
            Err(DbError::Server(e)) => {
                at_limit |= e.code == MAX_ROW_VERSIONS;
                // The first refusal that is not a syntax error says most.
                if refused
                    .as_ref()
                    .is_none_or(|r: &ServerError| r.code == PARSE_ERROR)
                {
                    refused = Some(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
    match exec(db, sql).await {
        Ok(()) => Ok(Outcome::AsWritten {
            refused: refused.unwrap_or_else(|| ServerError {
                code: 0,
                state: String::new(),
                message: "no option was tried".into(),
            }),
        }),
        Err(DbError::Server(e)) => Ok(Outcome::Fails(e)),
        Err(e) => Err(e),
    }
}

/// The verdict to report. `offset`: the row versions the live table has that its copy lacks.
pub(super) fn verdict(o: &Outcome, a: &Alter, sql: &str, target: &Target, offset: u64) -> Explain {
    match o {
        Outcome::Took {
            algorithm,
            lock,
            rebuilt,
            versions,
            at_limit,
        } => {
            let mut notes = Vec::new();
            let given: Vec<String> = [("ALGORITHM", &a.algorithm), ("LOCK", &a.lock)]
                .into_iter()
                .filter_map(|(k, g)| {
                    g.as_ref()
                        .filter(|g| g.chooses())
                        .map(|g| format!("{k}={}", g.value))
                })
                .collect();
            if !given.is_empty() {
                notes.push(format!("as the statement asks ({})", given.join(", ")));
            }
            if *at_limit {
                notes.push(format!(
                    "not INSTANT: the table is at the server's limit of row versions ({} on the \
                     copy, as on the live table); the ALTER must rebuild it",
                    versions.map_or(0, |(b, _)| b) + offset
                ));
            }
            if let (Some((before, after)), "INSTANT") = (versions, algorithm.as_str())
                && after > before
            {
                notes.push(format!(
                    "adds row version {} of the table (MySQL allows 64, 255 from 9.1; then an \
                     ADD or DROP COLUMN rebuilds it)",
                    after + offset
                ));
            }
            if algorithm != "INSTANT" {
                notes.extend(data_dependent(sql, algorithm, target));
            }
            let note = (!notes.is_empty()).then(|| notes.join("; "));
            let took = Took {
                algorithm,
                lock: lock.as_deref(),
                rebuilds: *rebuilt,
                builds_index: builds_index(sql),
            };
            Explain::verdict(took, target, note)
        }
        Outcome::AsWritten { refused } if refused.code == PARSE_ERROR => Explain::unexplained(
            format!("the server takes no ALGORITHM or LOCK clause in this statement ({refused})"),
            target,
            None,
        ),
        Outcome::AsWritten { refused } => Explain::unexplained(
            format!("the server refused every ALGORITHM and LOCK tried, the last with {refused}"),
            target,
            None,
        ),
        Outcome::Fails(e) => Explain::unexplained(
            format!("it fails on the empty copy, as it would in the run: {e}"),
            target,
            None,
        ),
    }
}

/// Whether `sql` adds an index (`ADD INDEX`, `ADD UNIQUE`, `ADD FULLTEXT KEY`, `CREATE INDEX`,
/// …): built from every row even when the table is not rebuilt.
fn builds_index(sql: &str) -> bool {
    const KINDS: [&str; 7] = [
        "INDEX",
        "KEY",
        "UNIQUE",
        "FULLTEXT",
        "SPATIAL",
        "PRIMARY",
        "CONSTRAINT",
    ];
    let words: Vec<String> = alter::names(sql)
        .iter()
        .map(|w| w.to_ascii_uppercase())
        .collect();
    words.first().is_some_and(|w| w == "CREATE")
        || words
            .windows(2)
            .any(|p| p[0] == "ADD" && KINDS.contains(&p[1].as_str()))
}

/// What an empty copy cannot check: the live rows against a new unique key, or (when the
/// server checks them, which it does in a COPY with FOREIGN_KEY_CHECKS on) a new foreign key.
fn data_dependent(sql: &str, algorithm: &str, target: &Target) -> Option<String> {
    let Target::Live { rows, .. } = target else {
        return None;
    };
    if *rows == 0 {
        return None;
    }
    let words: Vec<String> = alter::names(sql)
        .iter()
        .map(|w| w.to_ascii_uppercase())
        .collect();
    let pair = |a: &str, b: &str| words.windows(2).any(|p| p[0] == a && p[1] == b);
    let what = if words.iter().any(|w| w == "UNIQUE") || pair("PRIMARY", "KEY") {
        "duplicates"
    } else if pair("FOREIGN", "KEY") && algorithm == "COPY" {
        "rows without a parent"
    } else {
        return None;
    };
    Some(format!(
        "the copy is empty: {what} among the live rows can still make it fail"
    ))
}

#[cfg(test)]
mod tests;
