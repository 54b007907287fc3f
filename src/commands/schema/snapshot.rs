//! The schema as a snapshot (every object but dbtool's own tables, normalised as schema:dump
//! writes them), and what differs between a snapshot and the live schema, in words.

use serde::{Deserialize, Serialize};

use super::text::normalise;
use crate::db::Db;
use crate::db::ledger::Tables;

/// One object of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Object {
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) sql: String,
}

/// The live schema, without dbtool's tables.
pub(crate) async fn live(db: &mut Db, t: &Tables) -> Result<Vec<Object>, crate::db::DbError> {
    let ours = [
        t.migrations_name.as_str().to_owned(),
        t.seeds_name.as_str().to_owned(),
        t.log_name.as_str().to_owned(),
        crate::db::ledger::snapshot::table_name(t),
    ];
    let all = crate::db::schema::show_create_all(db).await?;
    Ok(all
        .into_iter()
        .filter(|o| !(o.kind == "table" && ours.contains(&o.name)))
        .map(|o| Object {
            kind: o.kind.to_owned(),
            sql: normalise(o.kind, &o.sql, t.database.as_str()),
            name: o.name,
        })
        .collect())
}

/// The snapshot's body and its hash.
pub(crate) fn body(objects: &[Object]) -> (String, String) {
    let body = serde_json::to_string(objects).unwrap_or_default();
    let hash = crate::files::checksum(body.as_bytes()).to_string();
    (body, hash)
}

/// One difference, in words: `table `orders`: column `note` added by hand`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Change {
    pub(crate) object: String,
    pub(crate) change: String,
    /// The definition line concerned (for a table), or the object's statement.
    pub(crate) detail: String,
}

/// What the live schema has that the snapshot had not, and the other way round.
pub(crate) fn diff(snapshot: &[Object], live: &[Object]) -> Vec<Change> {
    let label = |o: &Object| format!("{} `{}`", o.kind, o.name);
    let mut out = Vec::new();
    for s in snapshot {
        match live.iter().find(|l| l.kind == s.kind && l.name == s.name) {
            None => out.push(Change {
                object: label(s),
                change: "dropped by hand".into(),
                detail: first_line(&s.sql),
            }),
            Some(l) if l.sql != s.sql => {
                if s.kind == "table" {
                    out.extend(table_changes(&label(s), &s.sql, &l.sql));
                } else {
                    out.push(Change {
                        object: label(s),
                        change: "changed by hand".into(),
                        detail: first_line(&l.sql),
                    });
                }
            }
            Some(_) => {}
        }
    }
    for l in live {
        if !snapshot
            .iter()
            .any(|s| s.kind == l.kind && s.name == l.name)
        {
            out.push(Change {
                object: label(l),
                change: "created by hand".into(),
                detail: first_line(&l.sql),
            });
        }
    }
    out
}

fn first_line(sql: &str) -> String {
    sql.lines().next().unwrap_or("").to_owned()
}

/// A table's lines that differ, each named as a column, an index, a constraint or an option.
fn table_changes(object: &str, before: &str, after: &str) -> Vec<Change> {
    let lines = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| l.trim().trim_end_matches(',').to_owned())
            .collect()
    };
    let (b, a) = (lines(before), lines(after));
    let mut out = Vec::new();
    let removed: Vec<&String> = b.iter().filter(|l| !a.contains(l)).collect();
    let added: Vec<&String> = a.iter().filter(|l| !b.contains(l)).collect();
    for r in &removed {
        let this = part(r);
        let what = &this.0;
        match added.iter().find(|x| part(x) == this) {
            Some(x) => out.push(Change {
                object: object.to_owned(),
                change: format!("{what} changed by hand"),
                detail: format!("{r} → {x}"),
            }),
            None => out.push(Change {
                object: object.to_owned(),
                change: format!("{what} dropped by hand"),
                detail: (*r).clone(),
            }),
        }
    }
    for x in &added {
        let this = part(x);
        let what = &this.0;
        if !removed.iter().any(|r| part(r) == this) {
            out.push(Change {
                object: object.to_owned(),
                change: format!("{what} added by hand"),
                detail: (*x).clone(),
            });
        }
    }
    out
}

/// What a line of a CREATE TABLE defines: (`column `note``, its name) and so on.
fn part(line: &str) -> (String, String) {
    let word = |s: &str| s.split('`').nth(1).unwrap_or("").to_owned();
    let upper = line.to_ascii_uppercase();
    if line.starts_with('`') {
        let n = word(line);
        (format!("column `{n}`"), n)
    } else if upper.starts_with("PRIMARY KEY") {
        ("primary key".into(), String::new())
    } else if upper.starts_with("CONSTRAINT") {
        let n = word(line);
        (format!("constraint `{n}`"), n)
    } else if upper.contains("KEY ") || upper.starts_with("INDEX") {
        let n = word(line);
        (format!("index `{n}`"), n)
    } else {
        ("table options".into(), String::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(sql: &str) -> Object {
        Object {
            kind: "table".into(),
            name: "orders".into(),
            sql: sql.into(),
        }
    }

    #[test]
    fn changes_by_hand_are_named_by_object_and_part() {
        let before = table(
            "CREATE TABLE `orders` (\n  `id` int NOT NULL,\n  `account` int DEFAULT NULL,\n  PRIMARY KEY (`id`),\n  KEY `account` (`account`)\n) ENGINE=InnoDB",
        );
        let after = table(
            "CREATE TABLE `orders` (\n  `id` int NOT NULL,\n  `account` bigint DEFAULT NULL,\n  `note` text,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB",
        );
        let got: Vec<(String, String)> = diff(&[before], &[after])
            .into_iter()
            .map(|c| (c.object, c.change))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "table `orders`".into(),
                    "column `account` changed by hand".into()
                ),
                (
                    "table `orders`".into(),
                    "index `account` dropped by hand".into()
                ),
                (
                    "table `orders`".into(),
                    "column `note` added by hand".into()
                ),
            ]
        );
    }
}
