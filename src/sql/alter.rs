//! What `--explain` reads of a migration's statements: which it explains (ALTER TABLE,
//! CREATE INDEX, DROP INDEX), which it replays in its scratch schema so that later statements
//! find their tables as the run would leave them (CREATE, DROP and RENAME TABLE, and SETs of
//! session variables such as `FOREIGN_KEY_CHECKS`), and which it leaves out (data changes,
//! views, routines, grants: nothing an ALTER's algorithm depends on). For an explained
//! statement: its table, the `ALGORITHM=` and `LOCK=` it gives itself, and where such options
//! can be added so the server still accepts it.
//!
//! Where the options go: an ALTER TABLE takes them as items of its comma list, so they go right
//! after the table name (`ALTER TABLE t ALGORITHM=INSTANT, ADD …`), which also suits MySQL's
//! partition commands (`ALTER TABLE t ALGORITHM=INPLACE, ADD PARTITION …`); partition options
//! (`PARTITION BY`, `REMOVE PARTITIONING`) follow the list without a comma, so before them the
//! options end the list. CREATE INDEX and DROP INDEX take them at their end, without commas.
//! Where a server takes no options (MariaDB's `ADD PARTITION`), it says so with a syntax error,
//! and `--explain` reports that it could not explain the statement.

use std::ops::Range;

use super::tokens::{Tok, Token, tokens};

mod qualified;
mod tables;
pub(crate) use qualified::{in_scratch, names};
use tables::tables;

/// What `--explain` does with a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// An ALTER TABLE, CREATE INDEX or DROP INDEX: explained.
    Explain(Alter),
    /// Changes which tables exist: replayed, not explained.
    Replay(Change),
    /// A SET of session variables: replayed (FOREIGN_KEY_CHECKS changes what ADD FOREIGN KEY
    /// can do).
    Session,
    /// Left out.
    Skip,
}

/// A change to which tables exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    Create(String),
    Drop(Vec<String>),
    Rename(Vec<(String, String)>),
}

/// An explained statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Alter {
    pub(crate) table: String,
    /// The new name, for `ALTER TABLE t RENAME [TO] u`.
    pub(crate) renamed_to: Option<String>,
    /// The `ALGORITHM=` the statement gives (upper case).
    pub(crate) algorithm: Option<Given>,
    /// The `LOCK=` the statement gives (MariaDB's `ALTER ONLINE TABLE` gives `NONE`).
    pub(crate) lock: Option<Given>,
    /// The statement to try instead, when the statement itself takes no options but one that
    /// does the same does (`DROP INDEX i ON t` is `ALTER TABLE t DROP INDEX i`).
    pub(crate) probe_as: Option<String>,
    place: Place,
}

/// An option the statement gives itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Given {
    pub(crate) value: String,
    /// The value's span (None for `ONLINE`).
    span: Option<Range<usize>>,
}

impl Given {
    /// `DEFAULT` leaves the choice to the server, as no option does.
    pub(crate) fn chooses(&self) -> bool {
        self.value != "DEFAULT"
    }
}

/// Where added options go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    /// In an ALTER TABLE's comma list, at `at`.
    List {
        at: usize,
        comma_before: bool,
        comma_after: bool,
    },
    /// At the end of a CREATE or DROP INDEX (the end of its last token), space-separated.
    End { at: usize },
}

/// What `--explain` does with `sql`.
pub(crate) fn read(sql: &str) -> Action {
    let t = tokens(sql);
    let word = |i: usize, w: &str| t.get(i).is_some_and(|x| x.is_word(sql, w));
    if word(0, "ALTER") {
        return alter_table(sql, &t).map_or(Action::Skip, Action::Explain);
    }
    if word(0, "SET") {
        const SERVER_WIDE: [&str; 7] = [
            "GLOBAL",
            "PERSIST",
            "PERSIST_ONLY",
            "PASSWORD",
            "ROLE",
            "RESOURCE",
            "STATEMENT",
        ];
        let wide = t
            .iter()
            .any(|x| SERVER_WIDE.iter().any(|w| x.is_word(sql, w)));
        return if wide { Action::Skip } else { Action::Session };
    }
    if let Some(a) = index(sql, &t) {
        return Action::Explain(a);
    }
    tables(sql, &t).map_or(Action::Skip, Action::Replay)
}

/// The name at `t[i]` (`t` or `db`.`t`: the table's part), and the index after it.
fn name_at(sql: &str, t: &[Token], i: usize) -> Option<(String, usize)> {
    let first = t.get(i).filter(|x| x.is_name())?;
    match (t.get(i + 1), t.get(i + 2)) {
        (Some(dot), Some(second)) if dot.tok == Tok::Punct(b'.') && second.is_name() => {
            Some((second.name(sql), i + 3))
        }
        _ => Some((first.name(sql), i + 1)),
    }
}

/// Skips `IF EXISTS` / `IF NOT EXISTS` at `i`.
fn skip_if(sql: &str, t: &[Token], i: usize) -> usize {
    if !t.get(i).is_some_and(|x| x.is_word(sql, "IF")) {
        return i;
    }
    if t.get(i + 1).is_some_and(|x| x.is_word(sql, "NOT")) {
        i + 3
    } else {
        i + 2
    }
}

fn alter_table(sql: &str, t: &[Token]) -> Option<Alter> {
    let mut i = 1;
    let mut online = false;
    while let Some(x) = t.get(i) {
        if x.is_word(sql, "ONLINE") {
            online = true;
        } else if !(x.is_word(sql, "IGNORE") || x.is_word(sql, "OFFLINE")) {
            break;
        }
        i += 1;
    }
    if !t.get(i)?.is_word(sql, "TABLE") {
        return None;
    }
    let (table, mut i) = name_at(sql, t, skip_if(sql, t, i + 1))?;
    if t.get(i).is_some_and(|x| x.is_word(sql, "NOWAIT")) {
        i += 1;
    } else if t.get(i).is_some_and(|x| x.is_word(sql, "WAIT")) {
        i += 2;
    }
    let header_end = t.get(i - 1).map_or(sql.len(), |x| x.span.end);
    let rest = &t[i.min(t.len())..];
    let (algorithm, mut lock) = given(sql, rest);
    if online && lock.is_none() {
        lock = Some(Given {
            value: "NONE".into(),
            span: None,
        });
    }
    let partition = rest.iter().enumerate().position(|(k, x)| {
        x.depth == 0
            && ((x.is_word(sql, "PARTITION")
                && rest.get(k + 1).is_some_and(|y| y.is_word(sql, "BY")))
                || (x.is_word(sql, "REMOVE")
                    && rest
                        .get(k + 1)
                        .is_some_and(|y| y.is_word(sql, "PARTITIONING"))))
    });
    let place = match partition {
        Some(k) => Place::List {
            at: rest[k].span.start,
            comma_before: k > 0,
            comma_after: false,
        },
        None => Place::List {
            at: header_end,
            comma_before: false,
            comma_after: !rest.is_empty(),
        },
    };
    Some(Alter {
        table,
        renamed_to: renamed_to(sql, rest),
        probe_as: None,
        algorithm,
        lock,
        place,
    })
}

/// The `ALGORITHM [=] value` and `LOCK [=] value` options among `t` (outside parentheses).
fn given(sql: &str, t: &[Token]) -> (Option<Given>, Option<Given>) {
    const ALGORITHMS: [&str; 5] = ["DEFAULT", "INSTANT", "INPLACE", "NOCOPY", "COPY"];
    const LOCKS: [&str; 4] = ["DEFAULT", "NONE", "SHARED", "EXCLUSIVE"];
    let (mut algorithm, mut lock) = (None, None);
    for (k, x) in t.iter().enumerate() {
        let (slot, values) = if x.is_word(sql, "ALGORITHM") {
            (&mut algorithm, &ALGORITHMS[..])
        } else if x.is_word(sql, "LOCK") {
            (&mut lock, &LOCKS[..])
        } else {
            continue;
        };
        if x.depth != 0 {
            continue;
        }
        let v = match t.get(k + 1) {
            Some(eq) if eq.tok == Tok::Punct(b'=') => t.get(k + 2),
            other => other,
        };
        if let Some(v) = v.filter(|v| values.iter().any(|w| v.is_word(sql, w))) {
            *slot = Some(Given {
                value: sql[v.span.clone()].to_ascii_uppercase(),
                span: Some(v.span.clone()),
            });
        }
    }
    (algorithm, lock)
}

/// The new name of `ALTER TABLE t … RENAME [TO|AS] u`.
fn renamed_to(sql: &str, t: &[Token]) -> Option<String> {
    let k = t
        .iter()
        .position(|x| x.depth == 0 && x.is_word(sql, "RENAME"))?;
    let next = t.get(k + 1)?;
    if ["COLUMN", "INDEX", "KEY"]
        .iter()
        .any(|w| next.is_word(sql, w))
    {
        return None;
    }
    let at = if next.is_word(sql, "TO") || next.is_word(sql, "AS") {
        k + 2
    } else {
        k + 1
    };
    name_at(sql, t, at).map(|(n, _)| n)
}

/// `CREATE [UNIQUE|FULLTEXT|SPATIAL] INDEX i ON t …` and `DROP INDEX i ON t`.
fn index(sql: &str, t: &[Token]) -> Option<Alter> {
    let first = t.first()?;
    if !(first.is_word(sql, "CREATE") || first.is_word(sql, "DROP")) {
        return None;
    }
    let at = t.iter().take(6).position(|x| x.is_word(sql, "INDEX"))?;
    if t[..at].iter().any(|x| x.is_word(sql, "TABLE")) {
        return None;
    }
    let on = t
        .iter()
        .position(|x| x.depth == 0 && x.is_word(sql, "ON"))?;
    let (table, after) = name_at(sql, t, on + 1)?;
    let (algorithm, lock) = given(sql, t);
    let probe_as = if first.is_word(sql, "DROP") {
        // MariaDB's DROP INDEX takes no ALGORITHM or LOCK; the ALTER TABLE … DROP INDEX it
        // stands for does, on both servers.
        let from = skip_if(sql, t, at + 1);
        let exists = if from > at + 1 { "IF EXISTS " } else { "" };
        let mut text = format!(
            "ALTER TABLE {} DROP INDEX {exists}{}",
            &sql[t[on + 1].span.start..t[after - 1].span.end],
            &sql[t.get(from)?.span.clone()]
        );
        for (key, g) in [("ALGORITHM", &algorithm), ("LOCK", &lock)] {
            if let Some(g) = g {
                text.push_str(&format!(", {key}={}", g.value));
            }
        }
        Some(text)
    } else {
        None
    };
    Some(Alter {
        table,
        renamed_to: None,
        algorithm,
        lock,
        probe_as,
        place: Place::End {
            at: t.last().map_or(sql.len(), |x| x.span.end),
        },
    })
}

impl Alter {
    /// `sql` (the statement this was read from) with `ALGORITHM=algorithm` and `LOCK=lock`
    /// added where it gives neither, or in place of its `DEFAULT`; an option it gives a value of
    /// its own keeps it.
    pub(crate) fn with(&self, sql: &str, algorithm: Option<&str>, lock: Option<&str>) -> String {
        let mut edits: Vec<(Range<usize>, String)> = Vec::new();
        let mut added = Vec::new();
        for (given, key, value) in [
            (&self.algorithm, "ALGORITHM", algorithm),
            (&self.lock, "LOCK", lock),
        ] {
            let Some(value) = value else { continue };
            match given {
                None => added.push(format!("{key}={value}")),
                Some(Given {
                    value: v,
                    span: Some(span),
                }) if v == "DEFAULT" => edits.push((span.clone(), value.to_owned())),
                Some(_) => {}
            }
        }
        if !added.is_empty() {
            let (at, text) = match self.place {
                Place::List {
                    at,
                    comma_before,
                    comma_after,
                } => {
                    let before = if comma_before { ", " } else { " " };
                    let after = if comma_after { ", " } else { " " };
                    (at, format!("{before}{}{after}", added.join(", ")))
                }
                Place::End { at } => (at, format!(" {}", added.join(" "))),
            };
            edits.push((at..at, text));
        }
        edits.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
        let mut out = sql.to_owned();
        for (r, text) in edits {
            out.replace_range(r, &text);
        }
        out
    }
}

#[cfg(test)]
mod tests;
