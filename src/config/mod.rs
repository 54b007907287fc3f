//! knexfile.toml + environment variables + flags -> one validated [`Config`] (SPEC §4).
//!
//! Commands receive a `Config` and never read flags or environment variables themselves.
//! Precedence: the environment is `--env` > `DBTOOL_ENV` > `development`; the connection is
//! `--url` > `DATABASE_URL` > the environment's `url` or `[ENV.connection]` table. A `.env`
//! file in the working directory adds variables without overriding any already set. With no
//! knexfile at all, `DATABASE_URL` (or `--url`) and the defaults are enough.
//!
//! Errors name the file, the line and the key, and what was expected; unknown keys are warnings
//! that suggest the nearest known key. No error or `Debug` output ever contains a password.

mod expand;
pub mod ident;
mod loader;
mod online;
mod settings;
mod targets;
pub mod url;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use loader::{Loader, Section};
pub use settings::{DdlWait, LintSetting};
use settings::{Settings, settings};

pub use self::url::{Connection, Secret, SslMode};
pub use expand::{ExpandError, expand};
pub use ident::Ident;
pub use online::{Online, OnlineTool};
pub use targets::{FLEET_TARGET_VAR, TargetEntry, Targets, TargetsSource, target_connection};

pub const KNEXFILE: &str = "knexfile.toml";
pub const DEFAULT_ENV: &str = "development";

/// Environment variables: the process's own, then a `.env` file's for names not set.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// The process environment plus `.env` in `dir`, if there is one.
    pub fn from_process(dir: &Path) -> Result<Env, ConfigError> {
        let mut vars: HashMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let path = dir.join(".env");
        if path.is_file() {
            let iter = dotenvy::from_path_iter(&path).map_err(|e| ConfigError::DotEnv {
                path: path.clone(),
                problem: dotenv_problem(&e),
            })?;
            for item in iter {
                let (k, v) = item.map_err(|e| ConfigError::DotEnv {
                    path: path.clone(),
                    problem: dotenv_problem(&e),
                })?;
                vars.entry(k).or_insert(v);
            }
        }
        Ok(Env { vars })
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// Set and not empty.
    fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }
}

/// Describes a `.env` parse error without echoing the offending line (it may hold a secret).
fn dotenv_problem(e: &dotenvy::Error) -> String {
    match e {
        dotenvy::Error::LineParse(_, index) => {
            format!("cannot parse it near byte {index} of a line (expected NAME=value)")
        }
        dotenvy::Error::Io(io) => format!("cannot read it: {io}"),
        _ => "cannot read it".to_owned(),
    }
}

/// What the command line says about configuration.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub knexfile: Option<PathBuf>,
    pub env: Option<String>,
    pub url: Option<String>,
    /// `--migrations-dir` / `--seeds-dir`, relative to the working directory.
    pub migrations_dir: Option<PathBuf>,
    pub seeds_dir: Option<PathBuf>,
    /// `--wait`: keep trying to connect this long.
    pub wait: Option<Duration>,
}

/// Where a setting came from, for messages: `knexfile.toml:3 development.url`, `--url`, …
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(pub String);

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A configuration problem. Exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}", path = .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}", path = .path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{at}: expected {expected}, found {found}")]
    Type {
        at: String,
        expected: &'static str,
        found: String,
    },
    #[error("{at}: {problem}")]
    Invalid { at: String, problem: String },
    #[error(
        "{path}: no environment `{name}`; environments here: {available}\n  \
         choose one with --env NAME or DBTOOL_ENV",
        path = .path.display()
    )]
    UnknownEnvironment {
        path: PathBuf,
        name: String,
        available: String,
    },
    #[error(
        "{at}: environment variable {var} is not set (write ${{{var}:-default}} to give a default)"
    )]
    UnsetVar { at: String, var: String },
    #[error("{at}: invalid database URL: {problem}")]
    Url {
        at: String,
        problem: self::url::UrlError,
    },
    #[error(
        "no database configured for environment `{env}`: set DATABASE_URL, pass --url, \
         or add a url to knexfile.toml (`dbtool init` writes one)"
    )]
    NoConnection { env: String },
    #[error("{path}: {problem}", path = .path.display())]
    DotEnv { path: PathBuf, problem: String },
}

/// The resolved configuration of one environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub environment: String,
    /// The knexfile read, if any.
    pub knexfile: Option<PathBuf>,
    /// The folder paths are relative to: the knexfile's, or the working directory.
    pub root: PathBuf,
    pub migrations_dir: PathBuf,
    pub seeds_dir: PathBuf,
    pub migrations_table: Ident,
    pub seeds_table: Ident,
    pub log_table: Ident,
    pub lock_timeout: Duration,
    /// How long a migration's statements wait for a lock, and how often they are tried again.
    pub ddl: DdlWait,
    /// The knexfile's `[lint]` settings.
    pub lint: Vec<LintSetting>,
    /// The knexfile's `[online]` settings.
    pub online: Online,
    pub protected: bool,
    /// The protected environment whose database the connection reaches, when it is not the
    /// chosen one (protection follows the database, not the environment's name).
    pub protected_by: Option<String>,
    pub out_of_order: bool,
    /// The schema file written after every migrate run that changed the schema (`dump_schema`).
    pub dump_schema: Option<PathBuf>,
    /// The environment's fleet (`targets`, `targets_file`, `targets_query`).
    pub targets: Option<Targets>,
    /// How long to keep trying to connect (`--wait`); None: one attempt.
    pub wait: Option<Duration>,
    /// The connection, if one is configured; only commands that connect need it.
    connection: Option<(Connection, Origin)>,
    /// Problems that do not stop anything (unknown keys, unknown URL parameters).
    pub warnings: Vec<String>,
}

impl Config {
    /// The connection, or the error saying that none is configured.
    pub fn connection(&self) -> Result<&Connection, ConfigError> {
        match &self.connection {
            Some((c, _)) => Ok(c),
            None => Err(ConfigError::NoConnection {
                env: self.environment.clone(),
            }),
        }
    }

    /// Where the connection came from (`--url`, `DATABASE_URL`, `knexfile.toml:3: …`).
    pub fn connection_origin(&self) -> Option<&Origin> {
        self.connection.as_ref().map(|(_, o)| o)
    }

    /// Replaces the connection (tests and embedders).
    pub fn with_connection(mut self, c: Connection) -> Self {
        self.connection = Some((c, Origin("embedder".into())));
        self
    }
}

/// Loads the configuration for the working directory `cwd`.
pub fn load(overrides: &Overrides, env: &Env, cwd: &Path) -> Result<Config, ConfigError> {
    let knexfile = match &overrides.knexfile {
        Some(p) => Some(cwd.join(p)),
        None => find_knexfile(cwd),
    };
    let text = match &knexfile {
        Some(path) => Some(
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?,
        ),
        None => None,
    };
    parse(text.as_deref(), knexfile.as_deref(), overrides, env, cwd)
}

/// The knexfile of the project `cwd` is in: `knexfile.toml` in `cwd` or the nearest folder
/// above it (as Knex finds its knexfile), up to the top of the git repository it is in.
pub fn find_knexfile(cwd: &Path) -> Option<PathBuf> {
    for dir in cwd.ancestors() {
        let candidate = dir.join(KNEXFILE);
        if candidate.is_file() {
            return Some(candidate);
        }
        if dir.join(".git").exists() {
            break;
        }
    }
    None
}

/// Resolves a configuration from a knexfile's text (None: there is no knexfile) without
/// touching the filesystem. `path` is where the text came from, for messages and relative
/// paths; `cwd` is used when there is no knexfile.
pub fn parse(
    text: Option<&str>,
    path: Option<&Path>,
    overrides: &Overrides,
    env: &Env,
    cwd: &Path,
) -> Result<Config, ConfigError> {
    let knexfile = path.map(Path::to_path_buf);
    let environment = overrides
        .env
        .clone()
        .or_else(|| env.non_empty("DBTOOL_ENV").map(str::to_owned))
        .or_else(|| env.non_empty("NODE_ENV").map(str::to_owned))
        .unwrap_or_else(|| DEFAULT_ENV.to_owned());
    let root = knexfile
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| cwd.to_path_buf());
    let mut loader = Loader {
        path: knexfile.clone().unwrap_or_else(|| PathBuf::from(KNEXFILE)),
        text: text.unwrap_or(""),
        env,
        warnings: Vec::new(),
        sections: Vec::new(),
        lint: Vec::new(),
        online: Online::default(),
    };
    let section = match text {
        Some(text) => loader.section(text, &environment)?,
        None => None,
    };
    let section = section.as_ref();
    let mut settings = settings(&loader, &environment, section, &root)?;
    override_dirs(&mut settings, overrides, env, cwd);
    let (connection, protected_by) = connection(
        &mut loader,
        overrides,
        &environment,
        section,
        &root,
        settings.protected,
    )?;
    let targets = loader.targets(&environment, section, &root)?;
    Ok(Config {
        environment,
        knexfile,
        root,
        migrations_dir: settings.migrations_dir,
        seeds_dir: settings.seeds_dir,
        migrations_table: settings.migrations_table,
        seeds_table: settings.seeds_table,
        log_table: settings.log_table,
        lock_timeout: settings.lock_timeout,
        ddl: settings.ddl,
        lint: std::mem::take(&mut loader.lint),
        online: std::mem::take(&mut loader.online),
        protected: settings.protected || protected_by.is_some(),
        protected_by,
        out_of_order: settings.out_of_order,
        dump_schema: settings.dump_schema,
        targets,
        wait: overrides.wait,
        connection,
        warnings: loader.warnings,
    })
}

/// A connection and where it came from.
type Configured = (Connection, Origin);

/// Folders from the command line or the environment win over the knexfile's.
fn override_dirs(settings: &mut Settings, overrides: &Overrides, env: &Env, cwd: &Path) {
    for (flag, var, dir) in [
        (
            &overrides.migrations_dir,
            "DBTOOL_MIGRATIONS_DIR",
            &mut settings.migrations_dir,
        ),
        (
            &overrides.seeds_dir,
            "DBTOOL_SEEDS_DIR",
            &mut settings.seeds_dir,
        ),
    ] {
        if let Some(d) = flag
            .clone()
            .or_else(|| env.non_empty(var).map(PathBuf::from))
        {
            *dir = cwd.join(d);
        }
    }
}

/// The connection, with a warning when an override replaces the environment's own; and the
/// protected environment whose database it reaches, when that is not the chosen one.
fn connection(
    loader: &mut Loader<'_>,
    overrides: &Overrides,
    environment: &str,
    section: Option<&Section>,
    root: &Path,
    protected: bool,
) -> Result<(Option<Configured>, Option<String>), ConfigError> {
    let resolved = loader.connection(overrides, environment, section, root)?;
    let connection = resolved.connection;
    if let (Some((c, o)), Some((own, own_at))) = (&connection, &resolved.replaced)
        && !c.same_database(own)
    {
        loader.warnings.push(format!(
            "{o} replaces environment `{environment}`'s connection ({own_at}): using {c}, not {own}"
        ));
    }
    let mut protected_by = None;
    if !protected && let Some((c, _)) = &connection {
        protected_by = loader
            .protected_targets(environment, root)
            .into_iter()
            .find(|(_, p)| c.same_database(p))
            .map(|(name, _)| name);
    }
    Ok((connection, protected_by))
}

#[cfg(test)]
mod tests;
