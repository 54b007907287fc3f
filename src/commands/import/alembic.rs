//! migrate:import --from alembic: the mapping file (and, when the project has them, Alembic's
//! revision scripts, to check the mapping's order against) read before anything connects, and
//! `--write-mapping`, which writes a starting point for it from the scripts and dbtool's
//! migrations (offline: it connects to no database, and never overwrites a file).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::Request;
use crate::alembic::{self, Revision, mapping, scripts};
use crate::commands::Context;
use crate::commands::migrate::discover;
use crate::error::{Error, ImportError, Result};
use crate::files::MigrationFile;
use crate::report::{MappingOut, PairOut};

/// A mapping file, read, and Alembic's revision scripts when there are some.
pub(super) struct Mapping {
    /// Its path as shown in messages.
    pub(super) shown: String,
    pub(super) entries: Vec<mapping::Entry>,
    /// The scripts' folder as shown, and the revisions in it.
    scripts: Option<(String, Vec<Revision>)>,
}

impl Mapping {
    /// The migrations Alembic applied, by its heads (`entries` of its table), and the problems:
    /// the mapping's own, and (with the scripts) where it disagrees with Alembic's history.
    pub(super) fn applied<'f>(
        &self,
        heads: &[crate::db::foreign::Entry],
        files: &'f [MigrationFile],
        table: &str,
    ) -> (Vec<(&'f MigrationFile, String)>, Vec<String>) {
        let heads: Vec<String> = heads.iter().map(|e| e.version.clone()).collect();
        let (wanted, mut problems) =
            mapping::applied(&self.entries, &heads, files, (&self.shown, table));
        if let (Some((dir, revisions)), [head]) = (&self.scripts, heads.as_slice()) {
            match scripts::ancestors(revisions, head, dir) {
                Ok(ancestors) => problems.extend(mapping::against_history(
                    &self.entries,
                    head,
                    (revisions, &ancestors),
                    (&self.shown, dir),
                )),
                Err(more) => problems.extend(more),
            }
        }
        (wanted, problems)
    }
}

/// The folder of Alembic's revision scripts: the option's, else `alembic/versions` in the
/// project (beside the knexfile), as `alembic init alembic` makes it.
fn scripts_dir(ctx: &Context, given: Option<&Path>) -> PathBuf {
    given.map_or_else(
        || ctx.config.root.join("alembic").join("versions"),
        |d| ctx.cwd.join(d),
    )
}

/// The option's path, else `alembic-map.toml` beside the migrations folder (`db/`).
fn mapping_path(ctx: &Context, given: Option<&Path>) -> PathBuf {
    ctx.beside_migrations(given, "alembic-map.toml")
}

/// Reads the mapping file: missing, or not a mapping, is exit 2 with its path (and line). The
/// scripts are read too when their folder is there (always when `--alembic-dir` names it);
/// without them the mapping's order cannot be checked, which a warning says.
pub(super) fn load(ctx: &Context, req: &Request<'_>) -> Result<Mapping> {
    let path = mapping_path(ctx, req.mapping);
    let shown = ctx.paths.display(&path);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ImportError::NoMapping { path: shown }.into());
        }
        Err(e) => return Err(Error::io(shown, e)),
    };
    let entries = mapping::parse(&text).map_err(|(line, message)| ImportError::Mapping {
        path: shown.clone(),
        line,
        message,
    })?;
    let dir = scripts_dir(ctx, req.alembic_dir);
    let dir_shown = ctx.paths.display(&dir);
    let scripts = if req.alembic_dir.is_none() && !dir.is_dir() {
        tracing::warn!(
            "no folder {dir_shown}: the mapping's order is not checked against Alembic's \
             revision scripts (give their folder with --alembic-dir DIR)"
        );
        None
    } else {
        let revisions =
            alembic::read_all(&dir, &ctx.paths).map_err(|problems| ImportError::Scripts {
                what: "cannot check the mapping against Alembic's revision scripts",
                problems,
                outcome: "nothing was recorded",
            })?;
        Some((dir_shown, revisions))
    };
    Ok(Mapping {
        shown,
        entries,
        scripts,
    })
}

/// `--write-mapping`: the revision chain paired in order with the migrations, written to a new
/// file (or, with `--dry-run`, shown).
pub(super) fn write_mapping(ctx: &Context, req: &Request<'_>) -> Result<u8> {
    let path = mapping_path(ctx, req.mapping);
    let shown = ctx.paths.display(&path);
    if path.exists() {
        return Err(Error::Exists { path: shown });
    }
    let dir = scripts_dir(ctx, req.alembic_dir);
    let scripts = ctx.paths.display(&dir);
    let chain = alembic::read_chain(&dir, &ctx.paths).map_err(|problems| ImportError::Scripts {
        what: "cannot write the mapping: Alembic's revision scripts do not form one chain",
        problems,
        outcome: "nothing was written",
    })?;
    let files = discover(ctx)?;
    let text = mapping::render(&chain, &files, &scripts);
    if !req.dry_run {
        // create_new: a file that appeared since the check above is not overwritten either.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => Error::Exists {
                    path: shown.clone(),
                },
                _ => Error::io(shown.clone(), e),
            })?;
        f.write_all(text.as_bytes())
            .map_err(|e| Error::io(shown.clone(), e))?;
    }
    ctx.report.print(&MappingOut {
        dry_run: req.dry_run,
        path: shown,
        scripts,
        pairs: chain
            .iter()
            .zip(&files)
            .map(|(r, f)| PairOut {
                alembic: r.id.clone(),
                migration: f.id(),
            })
            .collect(),
        unpaired_revisions: chain
            .iter()
            .skip(files.len())
            .map(|r| r.id.clone())
            .collect(),
        unpaired_migrations: files
            .iter()
            .skip(chain.len())
            .map(MigrationFile::id)
            .collect(),
        text,
    });
    Ok(0)
}
