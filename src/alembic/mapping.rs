//! The mapping file (`db/alembic-map.toml`): which dbtool migration each Alembic revision is.
//! Alembic's ledger (`alembic_version`) holds only the head revision id, and its history lives
//! in Python scripts dbtool does not run, so the user states the correspondence once, in order:
//!
//! ```toml
//! [[revision]]
//! alembic = "ae1027a6acf"
//! version = "20240101000000"
//! ```
//!
//! The entries are Alembic's chain, base first: a head stands for its own entry and every one
//! before it. `--write-mapping` writes a starting point ([`render`]) for the user to review.

use std::collections::HashSet;

use serde::Deserialize;

use super::scripts::Revision;
use crate::files::{MigrationFile, Version};

/// One `[[revision]]` entry, with the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) alembic: String,
    pub(crate) version: String,
    pub(crate) line: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(default)]
    revision: Vec<toml::Spanned<RawEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    alembic: String,
    version: String,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The entries of a mapping file, or the line and message of what makes it no mapping.
pub(crate) fn parse(text: &str) -> Result<Vec<Entry>, (usize, String)> {
    let doc: Document = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        (line, e.message().trim().to_owned())
    })?;
    Ok(doc
        .revision
        .into_iter()
        .map(|s| {
            let line = line_of(text, s.span().start);
            let e = s.into_inner();
            Entry {
                alembic: e.alembic,
                version: e.version,
                line,
            }
        })
        .collect())
}

/// One entry that names a revision and a version once: its index, the version, and the
/// migration file of that version (None: there is none, a problem already listed).
struct Mapped<'e, 'f> {
    index: usize,
    entry: &'e Entry,
    version: Version,
    file: Option<&'f MigrationFile>,
}

/// The entries checked against each other and the files: those usable, and every problem.
fn checked<'e, 'f>(
    entries: &'e [Entry],
    files: &'f [MigrationFile],
    shown: &str,
    problems: &mut Vec<String>,
) -> Vec<Mapped<'e, 'f>> {
    let at = |e: &Entry| format!("{shown}:{}", e.line);
    let mut mapped: Vec<Mapped<'_, '_>> = Vec::new();
    for (index, e) in entries.iter().enumerate() {
        if let Some(first) = entries[..index].iter().find(|o| o.alembic == e.alembic) {
            problems.push(format!(
                "{}: revision {} is mapped twice (also at line {})",
                at(e),
                e.alembic,
                first.line
            ));
            continue;
        }
        let Ok(version) = e.version.parse::<Version>() else {
            problems.push(format!(
                "{}: version `{}` of revision {} is not a version (1 to 32 digits)",
                at(e),
                e.version,
                e.alembic
            ));
            continue;
        };
        if let Some(first) = mapped.iter().find(|m| m.version == version) {
            problems.push(format!(
                "{}: version {version} is mapped twice (to revision {} here, to {} at line {})",
                at(e),
                e.alembic,
                first.entry.alembic,
                first.entry.line
            ));
            continue;
        }
        let file = files.iter().find(|f| f.version == version);
        if file.is_none() {
            problems.push(format!(
                "{}: revision {}: no migration file has version {version}",
                at(e),
                e.alembic
            ));
        }
        if let Some(before) = mapped.last()
            && version < before.version
        {
            problems.push(format!(
                "{}: version {version} comes after version {} (line {}): dbtool runs \
                 migrations in version order, so the versions must increase along Alembic's \
                 chain",
                at(e),
                before.version,
                before.entry.line
            ));
        }
        mapped.push(Mapped {
            index,
            entry: e,
            version,
            file,
        });
    }
    mapped
}

/// What the mapping says Alembic applied, given its heads: for each migration, the revision it
/// is; and every problem (`shown` names the mapping file in them, `table` Alembic's table).
pub(crate) fn applied<'f>(
    entries: &[Entry],
    heads: &[String],
    files: &'f [MigrationFile],
    (shown, table): (&str, &str),
) -> (Vec<(&'f MigrationFile, String)>, Vec<String>) {
    let mut problems = Vec::new();
    let mapped = checked(entries, files, shown, &mut problems);
    let head = match heads {
        [] => {
            problems.push(format!(
                "{table} is empty: Alembic has applied no revision in this database (it is at \
                 its base), so there is nothing to import"
            ));
            None
        }
        [one] => Some(one),
        many => {
            problems.push(format!(
                "{table} has {} heads ({}): Alembic's branches are not supported; merge them \
                 (`alembic merge heads`, then `alembic upgrade head`) and map the merge revision",
                many.len(),
                many.join(", ")
            ));
            None
        }
    };
    let mut wanted = Vec::new();
    for h in heads {
        match entries.iter().position(|e| e.alembic == *h) {
            None => problems.push(format!(
                "head revision {h} (in {table}) is not in {shown}: add its entry \
                 ([[revision]] alembic = \"{h}\", version = \"…\")"
            )),
            Some(pos) if head == Some(h) => wanted.extend(
                mapped
                    .iter()
                    .filter(|m| m.index <= pos)
                    .filter_map(|m| Some((m.file?, format!("revision {}", m.entry.alembic)))),
            ),
            Some(_) => {}
        }
    }
    (wanted, problems)
}

/// The mapping against Alembic's history (its scripts in `dir`): the entries up to `head` must
/// be exactly the revisions the head stands for (`ancestors`, itself included), since those
/// are the ones Alembic applied; every difference is a problem.
pub(crate) fn against_history(
    entries: &[Entry],
    head: &str,
    (revisions, ancestors): (&[Revision], &HashSet<String>),
    (shown, dir): (&str, &str),
) -> Vec<String> {
    let Some(pos) = entries.iter().position(|e| e.alembic == head) else {
        return Vec::new(); // already a problem of its own
    };
    let mut problems = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let stands_for = ancestors.contains(&e.alembic);
        if i < pos && !stands_for {
            problems.push(format!(
                "{shown}:{}: revision {} comes before head {head} in the mapping, but by the \
                 scripts in {dir} the head does not stand for it: Alembic has not applied it \
                 here (bring the database to a revision after it, or fix the mapping's order)",
                e.line, e.alembic
            ));
        } else if i > pos && stands_for {
            problems.push(format!(
                "{shown}:{}: revision {} comes after head {head} in the mapping, but by the \
                 scripts in {dir} Alembic applied it before the head: list the entries in \
                 Alembic's order",
                e.line, e.alembic
            ));
        }
    }
    for r in revisions {
        if ancestors.contains(&r.id) && !entries.iter().any(|e| e.alembic == r.id) {
            problems.push(format!(
                "revision {} ({}) was applied by Alembic before head {head} but is not in \
                 {shown}: give it a migration and an entry",
                r.id, r.path
            ));
        }
    }
    problems
}

/// A TOML basic string (the ids and paths are the user's: quote them properly).
fn string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// The starting point `--write-mapping` writes: the chain (base first) paired in order with
/// the migrations (in version order); revisions left over are written commented out, and the
/// migrations left over are listed in a comment (they stay pending).
pub(crate) fn render(chain: &[Revision], files: &[MigrationFile], scripts_dir: &str) -> String {
    let mut out = format!(
        "# Which dbtool migration each Alembic revision is, for `dbtool migrate:import --from \
         alembic`.\n\
         # Written by `dbtool migrate:import --from alembic --write-mapping` from {scripts_dir} \
         (its\n\
         # chain, base first) and dbtool's migrations (in version order), paired in order:\n\
         # review every pair before importing. Keep the entries in Alembic's order, base first:\n\
         # the head recorded in alembic_version stands for its entry and every one above it.\n"
    );
    // `# alembic/versions/ae10_create_a.py: create a`
    let about = |r: &Revision| match r.title.as_str() {
        "" => r.path.clone(),
        t => format!("{}: {t}", r.path),
    };
    for (r, f) in chain.iter().zip(files) {
        out.push_str(&format!(
            "\n[[revision]]\nalembic = {}  # {}\nversion = {}  # {}\n",
            string(&r.id),
            about(r),
            string(f.version.as_str()),
            f.up.display
        ));
    }
    if chain.len() > files.len() {
        out.push_str(
            "\n# No dbtool migration was left to pair with these revisions: give each a \
             migration of its\n# own (the same schema change, as SQL), then its version here, \
             and uncomment the entry.\n",
        );
        for r in &chain[files.len()..] {
            out.push_str(&format!(
                "# [[revision]]\n# alembic = {}  # {}\n# version = \"\"\n",
                string(&r.id),
                about(r)
            ));
        }
    }
    if files.len() > chain.len() {
        out.push_str(
            "\n# dbtool migrations paired with no Alembic revision (after the import they are \
             pending,\n# for `dbtool migrate:latest`):\n",
        );
        for f in &files[chain.len()..] {
            out.push_str(&format!("#   {}\n", f.up.display));
        }
    }
    out
}
