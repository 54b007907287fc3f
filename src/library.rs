//! dbtool from Rust code: the same runs as the CLI's, with the same ledger, locks and checks,
//! returning each command's JSON document (docs/JSON.md) instead of printing it.

use std::path::{Path, PathBuf};

use crate::commands::{Context, inspect, migrate, seed};
use crate::config::{self, Config, Overrides};
use crate::embed::EmbeddedFile;
use crate::output::Terminal;
use crate::report::Report;

/// Runs migrations and seeds against one database.
///
/// The calls block (each runs its own small runtime): call them before starting an async
/// runtime of your own, or from `spawn_blocking`. Warnings go through `tracing`.
///
/// ```no_run
/// let m = dbtool::Migrator::new("mysql://app@127.0.0.1:3306/app", "./")?;
/// let done = m.latest()?;
/// println!("{}", done["applied"]);
/// # Ok::<(), dbtool::MigratorError>(())
/// ```
pub struct Migrator {
    config: Config,
    root: PathBuf,
    /// The folder the embedded files were written to, removed on drop.
    owned: Option<PathBuf>,
}

/// Why a call failed: the message the CLI prints after `error:`, and its exit code (SPEC §9),
/// with what the command did before it failed when it did something.
#[derive(Debug, Clone)]
pub struct MigratorError {
    pub message: String,
    pub exit_code: u8,
    pub partial: Option<serde_json::Value>,
}

impl std::fmt::Display for MigratorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MigratorError {}

impl From<config::ConfigError> for MigratorError {
    fn from(e: config::ConfigError) -> Self {
        failed(crate::Error::Config(e))
    }
}

fn failed(e: crate::Error) -> MigratorError {
    MigratorError {
        message: e.to_string(),
        exit_code: e.exit_code(),
        partial: None,
    }
}

impl Migrator {
    /// The project in `root` (its `db/migrations` and `db/seeds`) against the database at
    /// `url`; no knexfile is read.
    pub fn new(url: &str, root: impl AsRef<Path>) -> Result<Migrator, MigratorError> {
        let root = root.as_ref().to_path_buf();
        let overrides = Overrides {
            url: Some(url.to_owned()),
            ..Overrides::default()
        };
        let env = config::Env::from_pairs([]);
        let config = config::parse(None, None, &overrides, &env, &root)?;
        Ok(Migrator {
            config,
            root,
            owned: None,
        })
    }

    /// A configuration loaded as the CLI loads it (`config::load`), for the project in `root`.
    pub fn from_config(config: Config, root: impl AsRef<Path>) -> Migrator {
        Migrator {
            config,
            root: root.as_ref().to_path_buf(),
            owned: None,
        }
    }

    /// Files embedded at compile time (see [`crate::embed`]) against the database at `url`.
    /// They are written, byte for byte, to a private temporary folder that lives as long as
    /// the `Migrator`, so their checksums are those of the files they came from.
    pub fn embedded(url: &str, files: &[EmbeddedFile]) -> Result<Migrator, MigratorError> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "dbtool-embedded-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let io = |e: std::io::Error| failed(crate::Error::io(dir.display().to_string(), e));
        for d in ["db/migrations", "db/seeds"] {
            std::fs::create_dir_all(dir.join(d)).map_err(io)?;
        }
        for f in files {
            if f.path.split('/').any(|p| p == ".." || p.is_empty()) {
                return Err(io(std::io::Error::other(format!(
                    "bad embedded path {}",
                    f.path
                ))));
            }
            let path = dir.join(f.path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            std::fs::write(&path, f.text).map_err(io)?;
        }
        let mut m = Migrator::new(url, &dir)?;
        m.owned = Some(dir);
        Ok(m)
    }

    /// `migrate:latest`: applies every pending migration. Returns its document (`applied`,
    /// `batch`, …).
    pub fn latest(&self) -> Result<serde_json::Value, MigratorError> {
        self.call(|ctx| migrate::migrate(ctx, migrate::latest_request(None)?, false))
    }

    /// `migrate:rollback`: undoes the last batch.
    pub fn rollback(&self) -> Result<serde_json::Value, MigratorError> {
        self.call(|ctx| migrate::migrate(ctx, migrate::rollback_request(false, None, None)?, false))
    }

    /// `migrate:status`: every migration with its state, and the lock.
    pub fn status(&self) -> Result<serde_json::Value, MigratorError> {
        self.call(|ctx| inspect::status(ctx, false, false))
    }

    /// `seed:run`: the seeds their modes say to run.
    pub fn seed(&self) -> Result<serde_json::Value, MigratorError> {
        self.call(|ctx| seed::run(ctx, &[], false, false))
    }

    fn call(
        &self,
        f: impl FnOnce(&Context) -> crate::Result<u8>,
    ) -> Result<serde_json::Value, MigratorError> {
        let (report, slot) = Report::captured(Terminal::none());
        let ctx = Context {
            config: self.config.clone(),
            cwd: self.root.clone(),
            paths: crate::files::Paths {
                cwd: self.root.clone(),
            },
            report,
            // The caller chose the database in code: protection is for people at a prompt.
            yes: true,
        };
        match f(&ctx) {
            Ok(_) => Ok(slot.borrow_mut().take().unwrap_or(serde_json::Value::Null)),
            Err(e) => {
                let mut err = failed(e);
                err.partial = ctx.report.take_partial();
                Err(err)
            }
        }
    }
}

impl Drop for Migrator {
    fn drop(&mut self) {
        if let Some(dir) = &self.owned {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
