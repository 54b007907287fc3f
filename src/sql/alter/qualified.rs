//! The database names a statement holds (`app`.`t`), and turning the live database's into the
//! scratch schema's, so a statement `--explain` replays never changes a live table.

use std::ops::Range;

use crate::sql::tokens::{Tok, tokens};

/// A database name before a `.` in the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Qualifier {
    schema: String,
    span: Range<usize>,
    /// Only read from: the table after `REFERENCES` or `LIKE`.
    read_only: bool,
}

/// Every `schema.` qualifier in `sql` (a database name before a `.` and a name).
fn qualifiers(sql: &str) -> Vec<Qualifier> {
    let t = tokens(sql);
    let mut out = Vec::new();
    for k in 0..t.len() {
        let (Some(dot), Some(next)) = (t.get(k + 1), t.get(k + 2)) else {
            break;
        };
        if !(t[k].is_name() && dot.tok == Tok::Punct(b'.') && next.is_name()) {
            continue;
        }
        // `@@session.x` is a variable, not a qualified name.
        if k > 0 && t[k - 1].tok == Tok::Punct(b'@') {
            continue;
        }
        let read_only =
            k > 0 && (t[k - 1].is_word(sql, "REFERENCES") || t[k - 1].is_word(sql, "LIKE"));
        out.push(Qualifier {
            schema: t[k].name(sql),
            span: t[k].span.clone(),
            read_only,
        });
    }
    out
}

/// `sql` with the qualifier `live.` turned into `scratch.` wherever it names a table; or the
/// first other database it writes to (a statement that would change another database is not
/// run in the scratch schema). Another database only read from (`REFERENCES other.t`) stays.
pub(crate) fn in_scratch(sql: &str, live: &str, scratch: &str) -> Result<String, String> {
    let mut out = sql.to_owned();
    for q in qualifiers(sql).into_iter().rev() {
        if q.schema == live {
            out.replace_range(q.span, &format!("`{}`", scratch.replace('`', "``")));
        } else if !q.read_only {
            return Err(q.schema);
        }
    }
    Ok(out)
}

/// Every word and identifier of `sql`: the names a statement may use (to pick the live tables
/// worth copying).
pub(crate) fn names(sql: &str) -> Vec<String> {
    tokens(sql)
        .iter()
        .filter(|x| x.is_name())
        .map(|x| x.name(sql))
        .collect()
}
