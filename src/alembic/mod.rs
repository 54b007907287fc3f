//! Alembic, for `migrate:import --from alembic`: its revision scripts read as a chain
//! ([`scripts`]) and the mapping file that says which dbtool migration each revision is
//! ([`mapping`]). Plain functions over files and text; the database side (reading
//! `alembic_version`) is in `db::foreign`.

pub(crate) mod mapping;
pub(crate) mod scripts;
#[cfg(test)]
mod tests;

use std::path::Path;

use crate::files::Paths;
pub(crate) use scripts::Revision;

/// Every revision script in `dir` as one chain, base first; or every problem.
pub(crate) fn read_chain(dir: &Path, paths: &Paths) -> Result<Vec<Revision>, Vec<String>> {
    scripts::chain(read_all(dir, paths)?, &paths.display(dir))
}

/// Every revision script in `dir` (not its sub-folders, as Alembic reads a versions folder
/// unless `recursive_version_locations` is set); or every problem. Like Alembic,
/// `__init__.py` and editor lock files (`.#…`) are not scripts.
pub(crate) fn read_all(dir: &Path, paths: &Paths) -> Result<Vec<Revision>, Vec<String>> {
    let shown = paths.display(dir);
    let listing = std::fs::read_dir(dir).map_err(|e| {
        vec![format!(
            "{shown}: {e} (give the folder of Alembic's revision scripts with --alembic-dir)"
        )]
    })?;
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for entry in listing {
        let path = match entry {
            Ok(e) => e.path(),
            Err(e) => {
                problems.push(format!("{shown}: {e}"));
                continue;
            }
        };
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !path.is_file()
            || !name.ends_with(".py")
            || name == "__init__.py"
            || name.starts_with(".#")
        {
            continue;
        }
        found.push(path);
    }
    found.sort();
    let mut revisions = Vec::new();
    for path in found {
        let display = paths.display(&path);
        match std::fs::read(&path) {
            Err(e) => problems.push(format!("{display}: {e}")),
            Ok(bytes) => match String::from_utf8(bytes) {
                Err(e) => problems.push(format!(
                    "{display}: not valid UTF-8 at byte {}",
                    e.utf8_error().valid_up_to()
                )),
                Ok(text) => match scripts::parse(&display, &text) {
                    Ok(r) => revisions.push(r),
                    Err(p) => problems.push(p),
                },
            },
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(revisions)
}
