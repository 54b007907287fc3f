//! One small module per command family. Each builds what it needs from the [`Context`], runs
//! it through the shared machinery, and hands the result to the report.

pub(crate) mod baseline;
pub(crate) mod database;
pub(crate) mod explain;
pub(crate) mod fleet;
pub(crate) mod import;
pub(crate) mod inspect;
pub(crate) mod lint;
pub(crate) mod migrate;
pub(crate) mod repair;
pub(crate) mod scaffold;
pub(crate) mod schema;
pub(crate) mod seed;
pub(crate) mod session;

use std::path::PathBuf;

use crate::config::Config;
use crate::files::Paths;
use crate::report::Report;

/// What every command gets: the resolved config and where to report.
pub(crate) struct Context {
    pub(crate) config: Config,
    pub(crate) cwd: PathBuf,
    pub(crate) paths: Paths,
    pub(crate) report: Report,
    /// `--yes` was given.
    pub(crate) yes: bool,
}

impl Context {
    /// A file a command reads or writes: the option's path (relative to the working
    /// directory), else `name` beside the migrations folder (in `db/`).
    pub(crate) fn beside_migrations(&self, given: Option<&std::path::Path>, name: &str) -> PathBuf {
        match given {
            Some(p) => self.cwd.join(p),
            None => self
                .config
                .migrations_dir
                .parent()
                .map_or_else(|| self.cwd.join("db"), std::path::Path::to_path_buf)
                .join(name),
        }
    }
}
