//! CREATE TABLE, DROP TABLE and RENAME TABLE: the tables they create, drop and rename.

use super::{Change, name_at, skip_if};
use crate::sql::tokens::{Tok, Token};

/// CREATE TABLE, DROP TABLE, RENAME TABLE.
pub(super) fn tables(sql: &str, t: &[Token]) -> Option<Change> {
    let first = t.first()?;
    let table_at = t.iter().take(5).position(|x| x.is_word(sql, "TABLE"));
    if first.is_word(sql, "CREATE") {
        let at = table_at?;
        // CREATE [OR REPLACE] [TEMPORARY] TABLE: nothing else may come before TABLE.
        let ok = t[1..at].iter().all(|x| {
            ["OR", "REPLACE", "TEMPORARY"]
                .iter()
                .any(|w| x.is_word(sql, w))
        });
        return ok
            .then(|| name_at(sql, t, skip_if(sql, t, at + 1)))
            .flatten()
            .map(|(n, _)| Change::Create(n));
    }
    if first.is_word(sql, "DROP") {
        let at = t
            .iter()
            .take(3)
            .position(|x| x.is_word(sql, "TABLE") || x.is_word(sql, "TABLES"))?;
        let mut i = skip_if(sql, t, at + 1);
        let mut names = Vec::new();
        while let Some((n, next)) = name_at(sql, t, i) {
            if ["RESTRICT", "CASCADE"]
                .iter()
                .any(|w| n.eq_ignore_ascii_case(w))
            {
                break;
            }
            names.push(n);
            if !t.get(next).is_some_and(|x| x.tok == Tok::Punct(b',')) {
                break;
            }
            i = next + 1;
        }
        return Some(Change::Drop(names));
    }
    if first.is_word(sql, "RENAME") && table_at == Some(1) {
        let mut pairs = Vec::new();
        let mut i = 2;
        while let Some((from, next)) = name_at(sql, t, i) {
            if !t.get(next).is_some_and(|x| x.is_word(sql, "TO")) {
                break;
            }
            let Some((to, after)) = name_at(sql, t, next + 1) else {
                break;
            };
            pairs.push((from, to));
            if !t.get(after).is_some_and(|x| x.tok == Tok::Punct(b',')) {
                break;
            }
            i = after + 1;
        }
        return Some(Change::Rename(pairs));
    }
    None
}
