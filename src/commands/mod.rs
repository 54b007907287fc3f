//! One small module per command family. Each builds what it needs from the [`Context`], runs
//! it through the shared machinery, and hands the outcome to the report.

pub mod database;
pub mod migrate;
pub mod scaffold;
pub mod seed;
pub mod session;

use std::path::PathBuf;

use crate::config::Config;
use crate::files::Paths;
use crate::report::Report;

/// What every command gets: the resolved config and where to report.
pub struct Context {
    pub config: Config,
    pub cwd: PathBuf,
    pub paths: Paths,
    pub report: Report,
    /// `--yes` was given.
    pub yes: bool,
}
