//! Alembic's revision scripts (`alembic/versions/*.py`), read without running Python: each
//! script's module-level `revision = "…"` and `down_revision = "…"` assignments (with or without
//! a type annotation, as `alembic revision` writes them), found by line matching outside
//! triple-quoted strings. The scripts then form the chain, base first.
//!
//! `--write-mapping` reads only a straight chain: a merge (`down_revision` a tuple of several
//! revisions), a branch (two revisions revising the same one) or several bases are reported,
//! naming the file, since no single order of them is the one the user wants; such a mapping is
//! written by hand. The import reads merges too: [`ancestors`] says which revisions a head
//! stands for, whatever the shape of the history.

use std::collections::{HashMap, HashSet};

/// One revision script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Revision {
    pub(crate) id: String,
    /// The revisions it revises: none for a base, several for a merge.
    pub(crate) downs: Vec<String>,
    /// The script's path as shown in messages.
    pub(crate) path: String,
    /// The line of its `revision =` assignment.
    pub(crate) line: usize,
    /// The line of its `down_revision =` assignment.
    pub(crate) down_line: usize,
    /// The first line of its docstring (`alembic revision -m` puts the message there).
    pub(crate) title: String,
}

/// The script's module-level `revision` and `down_revision` assignments: (line, value) of each.
type Assigned = (Option<(usize, String)>, Option<(usize, Vec<String>)>);

/// Finds the two assignments, outside triple-quoted strings and at column 0 (module level).
fn assignments(path: &str, text: &str) -> Result<Assigned, String> {
    let (mut revision, mut down): Assigned = (None, None);
    let lines: Vec<&str> = text.lines().collect();
    let mut in_string: Option<&str> = None;
    let mut i = 0;
    while i < lines.len() {
        let (line, n) = (lines[i], i + 1);
        i += 1;
        if let Some(q) = in_string {
            if line.contains(q) {
                in_string = None;
            }
            continue;
        }
        for (name, is_down) in [("revision", false), ("down_revision", true)] {
            let Some(value) = assigned(line, name) else {
                continue;
            };
            let first = if is_down {
                down.as_ref().map(|d| d.0)
            } else {
                revision.as_ref().map(|r| r.0)
            };
            if let Some(first) = first {
                return Err(format!(
                    "{path}:{n}: a second `{name} =` (the first is at line {first})"
                ));
            }
            // A tuple may go on over the next lines, up to its closing bracket.
            let mut value = value.to_owned();
            while value.starts_with(['(', '[']) && !closes(&value) && i < lines.len() {
                value.push(' ');
                value.push_str(strip_comment(lines[i]));
                i += 1;
            }
            let bad = || format!("{path}:{n}: `{name} = {value}` is not a quoted revision id");
            match (down_value(&value), is_down) {
                (Some(d), true) => down = Some((n, d)),
                (Some(mut ids), false) if ids.len() == 1 => revision = Some((n, ids.remove(0))),
                (_, true) => return Err(format!("{}, None or a tuple of them", bad())),
                (_, false) => return Err(bad()),
            }
        }
        in_string = opens_string(line);
    }
    Ok((revision, down))
}

/// Parses one script. `path` is only for messages; the problem names it and the line.
pub(crate) fn parse(path: &str, text: &str) -> Result<Revision, String> {
    let (revision, down) = assignments(path, text)?;
    let Some((line, id)) = revision else {
        return Err(format!(
            "{path}: no `revision = \"…\"` line: not an Alembic revision script"
        ));
    };
    let Some((down_line, down)) = down else {
        return Err(format!(
            "{path}: no `down_revision = …` line: not an Alembic revision script"
        ));
    };
    Ok(Revision {
        id,
        downs: down,
        path: path.to_owned(),
        line,
        down_line,
        title: title(text),
    })
}

/// The value assigned to `name` at module level on this line, if it is such an assignment
/// (`name = v`, `name: T = v`), without a trailing comment.
fn assigned<'l>(line: &'l str, name: &str) -> Option<&'l str> {
    let rest = line.strip_prefix(name)?;
    let rest = rest.trim_start();
    let rest = if let Some(annotated) = rest.strip_prefix(':') {
        &annotated[annotated.find('=')?..]
    } else {
        rest
    };
    let value = rest.strip_prefix('=')?;
    if value.starts_with('=') {
        return None;
    }
    Some(strip_comment(value).trim())
}

/// The line without a `#` comment (a `#` inside quotes is kept).
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Whether a bracketed value has its closing bracket.
fn closes(value: &str) -> bool {
    value.trim_end().ends_with([')', ']'])
}

/// `None` (no revision), `"id"` / `'id'`, or a tuple or list of them.
fn down_value(value: &str) -> Option<Vec<String>> {
    let value = value.trim();
    if value == "None" {
        return Some(Vec::new());
    }
    if let Some(inner) = value
        .strip_prefix('(')
        .and_then(|v| v.strip_suffix(')'))
        .or_else(|| value.strip_prefix('[').and_then(|v| v.strip_suffix(']')))
    {
        let ids: Option<Vec<String>> = inner
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| quoted(s).map(str::to_owned))
            .collect();
        return ids;
    }
    quoted(value).map(|s| vec![s.to_owned()])
}

/// The text of a simple quoted string (no escapes: revision ids have none).
fn quoted(s: &str) -> Option<&str> {
    let q = s.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let inner = s.strip_prefix(q)?.strip_suffix(q)?;
    (!inner.is_empty() && !inner.contains([q, '\\'])).then_some(inner)
}

/// The triple quote a line leaves open, if it opens one and does not close it.
fn opens_string(line: &str) -> Option<&'static str> {
    ["\"\"\"", "'''"]
        .into_iter()
        .find(|q| line.matches(q).count() % 2 == 1)
}

/// The first line of the module docstring, or "" when there is none.
fn title(text: &str) -> String {
    let first = text.trim_start();
    ["\"\"\"", "'''"]
        .iter()
        .find_map(|q| first.strip_prefix(q))
        .and_then(|rest| rest.lines().next())
        .map(|l| l.trim().trim_end_matches(['"', '\'']).trim().to_owned())
        .unwrap_or_default()
}

/// Every revision by id, and the problems of their links: an id twice, a `down_revision`
/// naming no revision.
fn links<'r>(
    revisions: &'r [Revision],
    dir: &str,
) -> (HashMap<&'r str, &'r Revision>, Vec<String>) {
    let mut problems = Vec::new();
    let mut by_id: HashMap<&str, &Revision> = HashMap::new();
    for r in revisions {
        if let Some(first) = by_id.insert(&r.id, r) {
            problems.push(format!(
                "{}:{}: revision {} is also {}:{}",
                r.path, r.line, r.id, first.path, first.line
            ));
        }
    }
    for r in revisions {
        for d in r.downs.iter().filter(|d| !by_id.contains_key(d.as_str())) {
            problems.push(format!(
                "{}:{}: revision {} revises {d}, which no script in {dir} is",
                r.path, r.down_line, r.id
            ));
        }
    }
    (by_id, problems)
}

/// The revisions `head` stands for: itself and every revision it revises, through merges.
pub(crate) fn ancestors(
    revisions: &[Revision],
    head: &str,
    dir: &str,
) -> Result<HashSet<String>, Vec<String>> {
    let (by_id, problems) = links(revisions, dir);
    if !problems.is_empty() {
        return Err(problems);
    }
    if !by_id.contains_key(head) {
        return Err(vec![format!("head revision {head} is no script in {dir}")]);
    }
    let mut seen = HashSet::new();
    let mut todo = vec![head];
    while let Some(id) = todo.pop() {
        if seen.insert(id.to_owned())
            && let Some(r) = by_id.get(id)
        {
            todo.extend(r.downs.iter().map(String::as_str));
        }
    }
    Ok(seen)
}

/// What keeps the revisions from being one chain (`children` by parent, None for bases).
fn forks(children: &HashMap<Option<&str>, Vec<&Revision>>) -> Vec<String> {
    let by_hand = "write the mapping by hand, every revision once, in the order dbtool should run \
                   them";
    let mut forks: Vec<_> = children.iter().filter(|(_, c)| c.len() > 1).collect();
    forks.sort_by_key(|(parent, _)| *parent);
    forks
        .into_iter()
        .map(|(parent, kids)| {
            let named: Vec<String> = kids
                .iter()
                .map(|k| format!("{} ({})", k.id, k.path))
                .collect();
            let which = if kids.len() == 2 { "both" } else { "all" };
            match parent {
                None => format!(
                    "several bases (down_revision = None): {}; branches are not supported by \
                     --write-mapping: {by_hand}",
                    named.join(", ")
                ),
                Some(p) => format!(
                    "a branch: {} {which} revise {p}; branches are not supported by \
                     --write-mapping: {by_hand}",
                    named.join(", ")
                ),
            }
        })
        .collect()
}

/// The revisions as one chain, base first; every problem otherwise (duplicates, a
/// `down_revision` naming no revision, a merge, several bases, a branch, a revision not reached
/// from the base).
pub(crate) fn chain(revisions: Vec<Revision>, dir: &str) -> Result<Vec<Revision>, Vec<String>> {
    if revisions.is_empty() {
        return Err(vec![format!(
            "{dir}: no Alembic revision scripts (*.py) here"
        )]);
    }
    let (_, mut problems) = links(&revisions, dir);
    let mut children: HashMap<Option<&str>, Vec<&Revision>> = HashMap::new();
    for r in &revisions {
        match r.downs.as_slice() {
            [] => children.entry(None).or_default().push(r),
            [d] => children.entry(Some(d.as_str())).or_default().push(r),
            many => problems.push(format!(
                "{}:{}: revision {} merges {}: merges are not supported by --write-mapping; \
                 write the mapping by hand, every revision once, in the order dbtool should \
                 run them",
                r.path,
                r.down_line,
                r.id,
                many.join(", ")
            )),
        }
    }
    problems.extend(forks(&children));
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut ordered: Vec<Revision> = Vec::with_capacity(revisions.len());
    let mut next = children.get(&None).and_then(|c| c.first().copied());
    while let Some(r) = next {
        ordered.push(r.clone());
        next = children
            .get(&Some(r.id.as_str()))
            .and_then(|c| c.first().copied());
    }
    if ordered.len() < revisions.len() {
        let lost: Vec<String> = revisions
            .iter()
            .filter(|r| !ordered.iter().any(|o| o.id == r.id))
            .map(|r| format!("{} ({})", r.id, r.path))
            .collect();
        return Err(vec![format!(
            "{} not reached from the base (a cycle of down_revision): {}",
            if lost.len() == 1 {
                "a revision is"
            } else {
                "revisions are"
            },
            lost.join(", ")
        )]);
    }
    Ok(ordered)
}
