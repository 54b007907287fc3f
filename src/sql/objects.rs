//! The schema objects SQL statements create, drop and rename, read from their words (outside
//! quotes and comments): what lint checks a down file against, and what `migrate:baseline
//! --check` looks for in the live schema.

use super::hazard::words;

/// What a CREATE statement creates: its kind, its name, and for an index or trigger the
/// table it is on.
pub(crate) fn created(sql: &str) -> Option<(&'static str, String, Option<String>)> {
    let w = words(sql);
    let u: Vec<String> = w.iter().map(|x| x.to_ascii_uppercase()).collect();
    if u.first().map(String::as_str) != Some("CREATE") || u.iter().any(|x| x == "TEMPORARY") {
        return None;
    }
    const KINDS: [(&str, &str); 8] = [
        ("TABLE", "table"),
        ("VIEW", "view"),
        ("INDEX", "index"),
        ("PROCEDURE", "procedure"),
        ("FUNCTION", "function"),
        ("TRIGGER", "trigger"),
        ("EVENT", "event"),
        ("SEQUENCE", "sequence"),
    ];
    // The kind comes within the first words (after OR REPLACE, ALGORITHM=…, DEFINER=…,
    // UNIQUE, …); DEFINER's user@host is two or three words.
    let (at, kind) = u
        .iter()
        .enumerate()
        .take(12)
        .find_map(|(i, x)| KINDS.iter().find(|(k, _)| k == x).map(|(_, n)| (i, *n)))?;
    let name = skip_if_not_exists(&u, at + 1);
    let on = match kind {
        "index" | "trigger" => u
            .iter()
            .position(|x| x == "ON")
            .and_then(|i| w.get(i + 1))
            .map(|t| t.to_string()),
        _ => None,
    };
    Some((kind, w.get(name)?.to_string(), on))
}

/// The index of the name after `IF NOT EXISTS` at `i`, if those words are there.
pub(crate) fn skip_if_not_exists(u: &[String], i: usize) -> usize {
    if u.get(i).map(String::as_str) == Some("IF") {
        i + 3
    } else {
        i
    }
}

/// The objects a DROP statement drops (kind, name): `DROP TABLE [IF EXISTS] a, b`, `DROP VIEW v`,
/// `DROP PROCEDURE p`, …
pub(crate) fn dropped(sql: &str) -> Vec<(&'static str, String)> {
    let w = words(sql);
    let u: Vec<String> = w.iter().map(|x| x.to_ascii_uppercase()).collect();
    if u.first().map(String::as_str) != Some("DROP") {
        return Vec::new();
    }
    let kind = match u.get(1).map(String::as_str) {
        Some("TABLE" | "TABLES") => "table",
        Some("VIEW") => "view",
        Some("PROCEDURE") => "procedure",
        Some("FUNCTION") => "function",
        Some("TRIGGER") => "trigger",
        Some("EVENT") => "event",
        Some("SEQUENCE") => "sequence",
        _ => return Vec::new(),
    };
    let from = if u.get(2).map(String::as_str) == Some("IF") {
        4
    } else {
        2
    };
    w.iter()
        .skip(from)
        .filter(|x| !matches!(x.to_ascii_uppercase().as_str(), "RESTRICT" | "CASCADE"))
        .map(|x| (kind, x.to_string()))
        .collect()
}

/// The tables a `RENAME TABLE a TO b[, c TO d]` renames (from, to).
pub(crate) fn renamed(sql: &str) -> Vec<(String, String)> {
    let w = words(sql);
    let u: Vec<String> = w.iter().map(|x| x.to_ascii_uppercase()).collect();
    if u.first().map(String::as_str) != Some("RENAME") {
        return Vec::new();
    }
    u.iter()
        .enumerate()
        .filter(|(_, x)| *x == "TO")
        .filter_map(|(i, _)| {
            Some((
                w.get(i.checked_sub(1)?)?.to_string(),
                w.get(i + 1)?.to_string(),
            ))
        })
        .collect()
}
