//! The lint rules: each reads a file's statements (as the splitter and classifier see them)
//! and says where a migration or seed is risky. They read words outside quotes and comments
//! (the checks of `sql::hazard` do the same), never a full parse: no Rust parser reads MySQL's
//! DDL whole, and a rule that guesses wrong must guess on the quiet side.

use crate::files::seed::Mode;
use crate::sql::classify::write_target;
use crate::sql::hazard::{clauses, words};
use crate::sql::objects::{created, skip_if_not_exists};
use crate::sql::{Kind, Statement};

use super::{Hit, RuleId};

/// The marker that says a destructive statement is intended (a comment before it).
const DESTRUCTIVE_MARK: &str = "dbtool:destructive";

/// The findings of one migration: its up file's statements and, if it has one, its down's.
pub(crate) fn migration(up: &[Statement], down: Option<&[Statement]>) -> Vec<Hit> {
    let mut hits = Vec::new();
    for st in up {
        let w = words(st.sql());
        let u: Vec<String> = w.iter().map(|x| x.to_ascii_uppercase()).collect();
        if let Some(what) = destructive(&u, &w)
            && !marked(st)
        {
            hits.push(Hit::new(RuleId::Destructive, st.line, what));
        }
        if u.first().map(String::as_str) == Some("LOCK")
            && matches!(u.get(1).map(String::as_str), Some("TABLE" | "TABLES"))
        {
            hits.push(Hit::new(RuleId::LockTables, st.line, "LOCK TABLES".into()));
        }
        for column in not_null_without_default(st.sql()) {
            hits.push(Hit::new(
                RuleId::NotNullWithoutDefault,
                st.line,
                format!("column `{column}` is added NOT NULL without a DEFAULT"),
            ));
        }
        if let Some(what) = rename(&u, &w) {
            hits.push(Hit::new(RuleId::Rename, st.line, what));
        }
        if let Some(table) = table_without_primary_key(&u, &w) {
            hits.push(Hit::new(
                RuleId::NoPrimaryKey,
                st.line,
                format!("table `{table}` has no primary key"),
            ));
        }
    }
    if let Some(hit) = mixed(up) {
        hits.push(hit);
    }
    match down {
        None => hits.push(Hit::new(
            RuleId::MissingDown,
            1,
            "no .down.sql file: this migration cannot be rolled back".into(),
        )),
        Some(down) => hits.extend(down_leaves(up, down)),
    }
    hits
}

/// The findings of one seed, given its run mode.
pub(crate) fn seed(statements: &[Statement], mode: Mode) -> Vec<Hit> {
    if mode == Mode::Once {
        return Vec::new();
    }
    let mut cleared: Vec<String> = Vec::new();
    let mut reported: Vec<String> = Vec::new();
    let mut hits = Vec::new();
    for st in statements {
        let u: Vec<String> = words(st.sql())
            .iter()
            .map(|x| x.to_ascii_uppercase())
            .collect();
        let first = u.first().map(String::as_str);
        if first == Some("TRUNCATE") {
            if let Some(t) = u.iter().skip(1).find(|w| *w != "TABLE") {
                cleared.push(t.clone());
            }
            continue;
        }
        let Some(target) = write_target(st.sql()).map(|t| last_part(&t).to_ascii_uppercase())
        else {
            continue;
        };
        match first {
            Some("DELETE") => cleared.push(target),
            Some("INSERT")
                if !u.iter().any(|w| w == "IGNORE" || w == "DUPLICATE")
                    && !cleared.contains(&target)
                    && !reported.contains(&target) =>
            {
                hits.push(Hit::new(
                    RuleId::SeedNotIdempotent,
                    st.line,
                    format!(
                        "INSERT into `{}` is not idempotent: a second run inserts its rows again \
                         or fails on a duplicate key",
                        last_part(&write_target(st.sql()).unwrap_or_default())
                    ),
                ));
                reported.push(target);
            }
            _ => {}
        }
    }
    hits
}

fn last_part(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name).trim_matches('`')
}

/// Whether a `-- dbtool:destructive` comment comes before the statement.
fn marked(st: &Statement) -> bool {
    st.raw[..st.body.start]
        .to_ascii_lowercase()
        .contains(DESTRUCTIVE_MARK)
}

/// What a statement destroys, if it removes rows or columns for good.
fn destructive(u: &[String], w: &[&str]) -> Option<String> {
    let at = |i: usize| u.get(i).map(String::as_str);
    let name = |i: usize| w.get(i).copied().unwrap_or("?");
    match at(0)? {
        "DROP" => match at(1)? {
            "TABLE" | "TABLES" => Some(format!("DROP TABLE {}", name(skip_if_exists(u, 2)))),
            "DATABASE" | "SCHEMA" => Some(format!("DROP DATABASE {}", name(skip_if_exists(u, 2)))),
            _ => None,
        },
        "TRUNCATE" => {
            let i = if at(1) == Some("TABLE") { 2 } else { 1 };
            Some(format!("TRUNCATE {}", name(i)))
        }
        "DELETE" if !u.iter().any(|x| x == "WHERE") => {
            let from = u.iter().position(|x| x == "FROM").map_or(1, |p| p + 1);
            Some(format!("DELETE FROM {} without WHERE", name(from)))
        }
        "ALTER" if at(1) == Some("TABLE") || at(2) == Some("TABLE") => {
            let table = u.iter().position(|x| x == "TABLE").map_or(2, |p| p + 1);
            for i in 0..u.len() {
                if u[i] != "DROP" {
                    continue;
                }
                match at(i + 1) {
                    Some("COLUMN") => {
                        return Some(format!(
                            "ALTER TABLE {} DROP COLUMN {}",
                            name(table),
                            name(skip_if_exists(u, i + 2))
                        ));
                    }
                    Some("PARTITION") => {
                        return Some(format!(
                            "ALTER TABLE {} DROP PARTITION {}",
                            name(table),
                            name(i + 2)
                        ));
                    }
                    Some(k) if !NOT_A_COLUMN.contains(&k) => {
                        return Some(format!(
                            "ALTER TABLE {} DROP COLUMN {}",
                            name(table),
                            name(i + 1)
                        ));
                    }
                    _ => {}
                }
            }
            None
        }
        _ => None,
    }
}

/// What may follow `DROP` in an ALTER TABLE without naming a column.
const NOT_A_COLUMN: &[&str] = &[
    "INDEX",
    "KEY",
    "PRIMARY",
    "FOREIGN",
    "CONSTRAINT",
    "CHECK",
    "DEFAULT",
    "UNIQUE",
    "FULLTEXT",
    "SPATIAL",
    "SYSTEM",
    "PERIOD",
    "NOT",
];

fn skip_if_exists(u: &[String], i: usize) -> usize {
    if u.get(i).map(String::as_str) == Some("IF") {
        i + 2
    } else {
        i
    }
}

/// The columns an ALTER TABLE adds as NOT NULL with no DEFAULT (nor AUTO_INCREMENT, nor
/// generated).
fn not_null_without_default(sql: &str) -> Vec<String> {
    let u0: Vec<String> = words(sql)
        .iter()
        .take(3)
        .map(|x| x.to_ascii_uppercase())
        .collect();
    if u0.first().map(String::as_str) != Some("ALTER") || !u0.iter().any(|x| x == "TABLE") {
        return Vec::new();
    }
    let mut out = Vec::new();
    for clause in clauses(sql) {
        let w = words(clause);
        let u: Vec<String> = w.iter().map(|x| x.to_ascii_uppercase()).collect();
        let Some(add) = u.iter().position(|x| x == "ADD") else {
            continue;
        };
        let mut i = add + 1;
        if u.get(i).map(String::as_str) == Some("COLUMN") {
            i += 1;
        }
        if u.get(i).map(String::as_str) == Some("IF") {
            i += 3;
        }
        let Some(first) = u.get(i) else { continue };
        if NOT_A_COLUMN.contains(&first.as_str()) || first == "PARTITION" {
            continue;
        }
        let rest = &u[i..];
        let not_null = rest.windows(2).any(|p| p[0] == "NOT" && p[1] == "NULL");
        let filled = rest.iter().any(|x| {
            matches!(
                x.as_str(),
                "DEFAULT" | "AUTO_INCREMENT" | "AS" | "GENERATED" | "SERIAL"
            )
        });
        if not_null && !filled {
            out.push(w[i].to_owned());
        }
    }
    out
}

/// A rename that breaks the code still reading the old name.
fn rename(u: &[String], w: &[&str]) -> Option<String> {
    let at = |i: usize| u.get(i).map(String::as_str);
    match at(0)? {
        "RENAME" if matches!(at(1), Some("TABLE" | "TABLES")) => Some(format!(
            "RENAME TABLE {} TO {}",
            w.get(2).unwrap_or(&"?"),
            w.get(4).unwrap_or(&"?")
        )),
        "ALTER" if u.iter().take(3).any(|x| x == "TABLE") => {
            for (i, word) in u.iter().enumerate() {
                match (word.as_str(), at(i + 1)) {
                    ("RENAME", Some("COLUMN")) => {
                        return Some(format!(
                            "RENAME COLUMN {} TO {}",
                            w.get(i + 2).unwrap_or(&"?"),
                            w.get(i + 4).unwrap_or(&"?")
                        ));
                    }
                    ("RENAME", Some("TO" | "AS")) => {
                        return Some(format!("RENAME TO {}", w.get(i + 2).unwrap_or(&"?")));
                    }
                    ("CHANGE", _) => {
                        let j = if at(i + 1) == Some("COLUMN") {
                            i + 2
                        } else {
                            i + 1
                        };
                        let (old, new) = (w.get(j)?, w.get(j + 1)?);
                        if !old.eq_ignore_ascii_case(new) {
                            return Some(format!("CHANGE {old} {new} (a rename)"));
                        }
                    }
                    _ => {}
                }
            }
            None
        }
        _ => None,
    }
}

/// The table a CREATE TABLE makes without a primary key.
fn table_without_primary_key(u: &[String], w: &[&str]) -> Option<String> {
    if u.first().map(String::as_str) != Some("CREATE")
        || u.iter().take(3).any(|x| x == "TEMPORARY")
        || !u.iter().take(3).any(|x| x == "TABLE")
    {
        return None;
    }
    let t = u.iter().position(|x| x == "TABLE")?;
    let name = skip_if_not_exists(u, t + 1);
    let after = u.get(name + 1).map(String::as_str);
    if matches!(after, Some("LIKE")) || u.iter().any(|x| x == "SELECT" || x == "PRIMARY") {
        return None;
    }
    Some(w.get(name)?.to_string())
}

/// DDL and data changes in one file: it cannot run in one transaction.
fn mixed(up: &[Statement]) -> Option<Hit> {
    let ddl = up.iter().find(|s| s.kind == Kind::ImplicitCommit)?;
    let dml = up.iter().find(|s| s.kind == Kind::Write)?;
    Some(Hit::new(
        RuleId::MixedDdlDml,
        dml.line,
        format!(
            "a data change (statement {}) in a file with DDL (statement {}, line {})",
            dml.number, ddl.number, ddl.line
        ),
    ))
}

/// Objects the up file creates that its down file never drops.
fn down_leaves(up: &[Statement], down: &[Statement]) -> Vec<Hit> {
    let dropped: Vec<Vec<String>> = down
        .iter()
        .map(|s| {
            words(s.sql())
                .iter()
                .map(|x| x.to_ascii_uppercase())
                .collect::<Vec<_>>()
        })
        .filter(|u| u.iter().any(|x| x == "DROP"))
        .collect();
    let mut hits = Vec::new();
    for st in up {
        let Some((kind, name, on)) = created(st.sql()) else {
            continue;
        };
        // An index or trigger goes with its table.
        let gone = |x: &str| {
            let x = x.to_ascii_uppercase();
            dropped.iter().any(|u| u.contains(&x))
        };
        if !gone(&name) && !on.as_deref().is_some_and(gone) {
            hits.push(Hit::new(
                RuleId::DownLeavesObjects,
                st.line,
                format!("the up file creates {kind} `{name}`; the down file never drops it"),
            ));
        }
    }
    hits
}

#[cfg(test)]
mod tests;
