//! Finding the migration and seed files of a project (SPEC §2), before any database work.
//!
//! Discovery reports every problem in a folder at once, each with its path, so a user fixes
//! them in one go: two files with one version, a `.down.sql` without its `.up.sql`, a `.sql`
//! file whose name fits no pattern, a file that is not UTF-8, a symlink loop. Non-`.sql` files
//! are ignored.

pub mod checksum;
pub mod name;
pub mod seed;
mod walk;

use walk::walk;

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

pub use checksum::{Checksum, checksum};
use name::{BadName, parse_migration_name};
pub use name::{Direction, Version};
pub use seed::{Mode, SeedFile};

/// The line `migrate:make` writes in its templates; a file that still has it and no statement
/// was never edited.
pub const TEMPLATE_MARK: &str = "dbtool:template";

/// Whether a file with no statement is still a template `migrate:make` wrote (its marker, or
/// the first line of the templates of dbtool 0.1).
pub fn is_template(text: &str) -> bool {
    text.contains(TEMPLATE_MARK)
        || text.contains("-- Statements end with `;`. Use `DELIMITER $$`")
        || text.contains("(down): undo the up migration, newest change first.")
}

/// A file as the user knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlFile {
    /// The path to open.
    pub path: PathBuf,
    /// The path shown in messages: relative to the working directory when the file is under
    /// it, as users wrote it in their config otherwise.
    pub display: String,
}

impl SqlFile {
    /// Reads the file as UTF-8 text.
    pub fn read(&self) -> Result<String, FileProblem> {
        let bytes = fs::read(&self.path).map_err(|e| self.problem(Problem::Unreadable(e)))?;
        String::from_utf8(bytes).map_err(|e| {
            self.problem(Problem::InvalidUtf8 {
                offset: e.utf8_error().valid_up_to() as u64,
            })
        })
    }

    pub fn problem(&self, what: Problem) -> FileProblem {
        FileProblem {
            path: self.display.clone(),
            what,
        }
    }
}

impl fmt::Display for SqlFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

/// One migration on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationFile {
    pub version: Version,
    pub name: String,
    pub up: SqlFile,
    pub down: Option<SqlFile>,
    /// Checksum of the up file (SPEC §3).
    pub checksum: Checksum,
}

impl MigrationFile {
    /// The file that runs in `direction`: the up file, or the down file if there is one.
    pub fn file(&self, direction: Direction) -> Option<&SqlFile> {
        match direction {
            Direction::Up => Some(&self.up),
            Direction::Down => self.down.as_ref(),
        }
    }

    /// `<version>_<name>`, as shown in lists.
    pub fn id(&self) -> String {
        format!("{}_{}", self.version, self.name)
    }
}

/// What is wrong with one file or folder.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error("misnamed migration file: {0}")]
    BadName(BadName),
    #[error("misnamed seed file: seed files end in `.sql` (lowercase)")]
    BadSeedName,
    #[error("version {version} is also used by {other}")]
    DuplicateVersion { version: String, other: String },
    #[error("down file without its up file (expected {expected})")]
    OrphanDown { expected: String },
    #[error("not valid UTF-8 (first bad byte at offset {offset})")]
    InvalidUtf8 { offset: u64 },
    #[error("cannot read: {0}")]
    Unreadable(io::Error),
    #[error("symlink loop (it leads back to {ancestor})")]
    SymlinkLoop { ancestor: String },
    #[error("folder does not exist{hint}")]
    MissingFolder { hint: &'static str },
    #[error("is not a folder")]
    NotAFolder,
}

/// A problem with its path.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {what}")]
pub struct FileProblem {
    pub path: String,
    pub what: Problem,
}

/// Every problem found in a folder.
#[derive(Debug)]
pub struct FileProblems(pub Vec<FileProblem>);

impl fmt::Display for FileProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} problems with the project's SQL files:", many.len())?;
                for p in many {
                    write!(f, "\n  {p}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for FileProblems {}

/// Where paths are shown relative to.
#[derive(Debug, Clone)]
pub struct Paths {
    pub cwd: PathBuf,
}

impl Paths {
    pub fn display(&self, path: &Path) -> String {
        path.strip_prefix(&self.cwd)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    fn file(&self, path: PathBuf) -> SqlFile {
        SqlFile {
            display: self.display(&path),
            path,
        }
    }
}

/// The versions of the migration files under `dir`, ignoring anything odd (for `migrate:make`,
/// which only needs to avoid a taken version).
pub fn list_versions(dir: &Path) -> std::collections::BTreeSet<Version> {
    WalkDir::new(dir)
        .follow_links(true)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter_map(|e| parse_migration_name(e.file_name().to_str()?).ok().flatten())
        .map(|m| m.version)
        .collect()
}

/// Up files by version (with their names), and down files, as found.
type Ups = BTreeMap<Version, (String, SqlFile)>;
type Downs = Vec<(Version, String, SqlFile)>;

/// Finds the migrations under `dir`, ordered by version, and hashes their up files.
pub fn discover_migrations(dir: &Path, paths: &Paths) -> Result<Vec<MigrationFile>, FileProblems> {
    let mut problems = Vec::new();
    let found = walk(
        dir,
        paths,
        " (create it, set migrations_dir in knexfile.toml, or run `dbtool init`)",
        &mut problems,
    );
    let (ups, downs) = sort_names(found, paths, &mut problems);
    let mut down_of = pair_downs(&ups, downs, &mut problems);
    let mut migrations = Vec::with_capacity(ups.len());
    for (version, (name, up)) in ups {
        let bytes = match fs::read(&up.path) {
            Err(e) => {
                problems.push(up.problem(Problem::Unreadable(e)));
                continue;
            }
            Ok(bytes) => bytes,
        };
        if let Err(e) = std::str::from_utf8(&bytes) {
            problems.push(up.problem(Problem::InvalidUtf8 {
                offset: e.valid_up_to() as u64,
            }));
            continue;
        }
        let down = down_of.remove(&version);
        migrations.push(MigrationFile {
            checksum: checksum(&bytes),
            version,
            name,
            up,
            down,
        });
    }
    if problems.is_empty() {
        Ok(migrations)
    } else {
        problems.sort_by(|a, b| a.path.cmp(&b.path));
        Err(FileProblems(problems))
    }
}

/// Reads the names of the files found: up files by version (a second up file of a version is
/// a problem), down files, misnamed `.sql` files as problems.
fn sort_names(found: Vec<PathBuf>, paths: &Paths, problems: &mut Vec<FileProblem>) -> (Ups, Downs) {
    let mut ups = Ups::new();
    let mut downs = Downs::new();
    for path in found {
        let file = paths.file(path);
        let Some(file_name) = file
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
        else {
            continue;
        };
        match parse_migration_name(&file_name) {
            Ok(None) => {}
            Err(bad) => problems.push(file.problem(Problem::BadName(bad))),
            Ok(Some(m)) => match m.direction {
                Direction::Up => {
                    if let Some((_, other)) = ups.get(&m.version) {
                        let (first, second) = ordered(other.clone(), file);
                        problems.push(second.problem(Problem::DuplicateVersion {
                            version: m.version.number().to_owned(),
                            other: first.display,
                        }));
                    } else {
                        ups.insert(m.version, (m.name, file));
                    }
                }
                Direction::Down => downs.push((m.version, m.name, file)),
            },
        }
    }
    (ups, downs)
}

/// Each down file with its up file (same version and name); the others are problems.
fn pair_downs(
    ups: &Ups,
    mut downs: Downs,
    problems: &mut Vec<FileProblem>,
) -> BTreeMap<Version, SqlFile> {
    let mut down_of: BTreeMap<Version, SqlFile> = BTreeMap::new();
    downs.sort_by(|a, b| a.2.display.cmp(&b.2.display));
    for (version, name, file) in downs {
        match ups.get(&version) {
            Some((up_name, _)) if *up_name == name => {
                if let Some(other) = down_of.get(&version) {
                    problems.push(file.problem(Problem::DuplicateVersion {
                        version: version.number().to_owned(),
                        other: other.display.clone(),
                    }));
                } else {
                    down_of.insert(version, file);
                }
            }
            _ => {
                let expected = file.display.replace(".down.sql", ".up.sql");
                problems.push(file.problem(Problem::OrphanDown { expected }));
            }
        }
    }
    down_of
}

/// The two files in path order, so reports do not depend on the order of directory entries.
fn ordered(a: SqlFile, b: SqlFile) -> (SqlFile, SqlFile) {
    if a.display <= b.display {
        (a, b)
    } else {
        (b, a)
    }
}

/// Finds the seeds under `dir` in byte order of their path relative to it.
pub fn discover_seeds(dir: &Path, paths: &Paths) -> Result<Vec<SeedFile>, FileProblems> {
    let mut problems = Vec::new();
    let found = walk(
        dir,
        paths,
        " (create it, set seeds_dir in knexfile.toml, or run `dbtool init`)",
        &mut problems,
    );
    let mut seeds: Vec<SeedFile> = found
        .into_iter()
        .map(|path| {
            let rel = path.strip_prefix(dir).unwrap_or(&path);
            let key = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            SeedFile {
                key,
                file: paths.file(path),
            }
        })
        .collect();
    for s in &seeds {
        if !s.key.ends_with(".sql") {
            problems.push(s.file.problem(Problem::BadSeedName));
        }
    }
    seeds.sort_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()));
    if problems.is_empty() {
        Ok(seeds)
    } else {
        Err(FileProblems(problems))
    }
}

#[cfg(test)]
mod tests;
