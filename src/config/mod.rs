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
pub mod url;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::{DeTable, DeValue};

pub use self::url::{Connection, Secret, SslMode};
pub use expand::{ExpandError, expand};
pub use ident::Ident;

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
    pub protected: bool,
    pub out_of_order: bool,
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
        None => Some(cwd.join(KNEXFILE)).filter(|p| p.is_file()),
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
    };
    let section = match text {
        Some(text) => loader.section(text, &environment)?,
        None => None,
    };
    let section = section.as_ref();

    let get_str = |key: &str| -> Result<Option<String>, ConfigError> {
        match section.and_then(|s| s.get(key)) {
            None => Ok(None),
            Some(v) => loader.string(&environment, key, v).map(Some),
        }
    };
    let dir = |s: Option<String>, default: &str| root.join(s.unwrap_or_else(|| default.into()));
    let migrations_dir = dir(get_str("migrations_dir")?, "db/migrations");
    let seeds_dir = dir(get_str("seeds_dir")?, "db/seeds");
    let table = |s: Option<String>, key: &str, default: &str| -> Result<Ident, ConfigError> {
        let name = s.unwrap_or_else(|| default.into());
        Ident::table(&name).map_err(|problem| ConfigError::Invalid {
            at: format!("{environment}.{key}"),
            problem: problem.to_string(),
        })
    };
    let migrations_table = table(
        get_str("migrations_table")?,
        "migrations_table",
        "dbtool_migrations",
    )?;
    let seeds_table = table(get_str("seeds_table")?, "seeds_table", "dbtool_seeds")?;
    let log_table = table(get_str("log_table")?, "log_table", "dbtool_log")?;

    let lock_timeout = match section.and_then(|s| s.get("lock_timeout")) {
        None => Duration::from_secs(60),
        Some(v) => loader.seconds(&environment, "lock_timeout", v)?,
    };
    let protected = match section.and_then(|s| s.get("protected")) {
        None => false,
        Some(v) => loader.boolean(&environment, "protected", v)?,
    };
    let out_of_order = match section.and_then(|s| s.get("out_of_order")) {
        None => true,
        Some(v) => loader.boolean(&environment, "out_of_order", v)?,
    };

    let connection = loader.connection(overrides, &environment, section, &root)?;

    Ok(Config {
        environment,
        knexfile,
        root,
        migrations_dir,
        seeds_dir,
        migrations_table,
        seeds_table,
        log_table,
        lock_timeout,
        protected,
        out_of_order,
        connection,
        warnings: loader.warnings,
    })
}

/// Keys an environment section may hold.
const ENV_KEYS: &[&str] = &[
    "url",
    "connection",
    "migrations_dir",
    "seeds_dir",
    "migrations_table",
    "seeds_table",
    "log_table",
    "lock_timeout",
    "protected",
    "out_of_order",
    "ssl_mode",
    "ssl_ca",
    "connect_timeout",
];

/// Keys a `[ENV.connection]` table may hold.
const CONNECTION_KEYS: &[&str] = &[
    "host",
    "port",
    "user",
    "password",
    "database",
    "socket",
    "ssl_mode",
    "ssl_ca",
    "connect_timeout",
];

/// An environment's section, owned, with the line of each key.
type Section = HashMap<String, (usize, Value)>;

/// A TOML value reduced to what a knexfile uses.
#[derive(Debug, Clone)]
enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Table(HashMap<String, (usize, Value)>),
    Other(&'static str),
}

impl Value {
    fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Bool(_) => "a boolean",
            Value::Table(_) => "a table",
            Value::Other(t) => t,
        }
    }
}

struct Loader<'a> {
    path: PathBuf,
    text: &'a str,
    env: &'a Env,
    warnings: Vec<String>,
}

impl Loader<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .bytes()
            .filter(|&b| b == b'\n')
            .count()
            + 1
    }

    /// `knexfile.toml:3 development.url`
    fn at(&self, line: usize, key: &str) -> String {
        format!("{}:{line}: {key}", self.path.display())
    }

    fn convert(&self, v: &toml::Spanned<DeValue<'_>>) -> Value {
        match v.get_ref() {
            DeValue::String(s) => Value::Str(s.to_string()),
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .map(Value::Int)
                .unwrap_or(Value::Other("an integer out of range")),
            DeValue::Float(f) => f
                .as_str()
                .parse()
                .map(Value::Float)
                .unwrap_or(Value::Other("a float")),
            DeValue::Boolean(b) => Value::Bool(*b),
            DeValue::Datetime(_) => Value::Other("a date-time"),
            DeValue::Array(_) => Value::Other("an array"),
            DeValue::Table(t) => Value::Table(
                t.iter()
                    .map(|(k, v)| {
                        (
                            k.get_ref().to_string(),
                            (self.line_of(k.span().start), self.convert(v)),
                        )
                    })
                    .collect(),
            ),
        }
    }

    /// Parses the knexfile, checks every environment's key names, and returns the section of
    /// `environment` (None if the file has no such section and... it is an error then).
    fn section(&mut self, text: &str, environment: &str) -> Result<Option<Section>, ConfigError> {
        let doc = DeTable::parse(text).map_err(|e| ConfigError::Syntax {
            path: self.path.clone(),
            line: e.span().map_or(1, |s| self.line_of(s.start)),
            message: e.message().trim().to_owned(),
        })?;
        let mut names: Vec<(usize, String)> = Vec::new();
        let mut chosen = None;
        for (k, v) in doc.get_ref().iter() {
            let name = k.get_ref().to_string();
            let line = self.line_of(k.span().start);
            let Value::Table(table) = self.convert(v) else {
                return Err(ConfigError::Type {
                    at: self.at(line, &name),
                    expected: "an environment table such as [development]",
                    found: self.convert(v).type_name().to_owned(),
                });
            };
            self.check_keys(&name, &table, ENV_KEYS);
            if let Some((_, Value::Table(conn))) = table.get("connection") {
                self.check_keys(&format!("{name}.connection"), conn, CONNECTION_KEYS);
            }
            if name == environment {
                chosen = Some(table);
            }
            names.push((line, name));
        }
        names.sort();
        let names: Vec<String> = names.into_iter().map(|(_, n)| n).collect();
        match chosen {
            Some(t) => Ok(Some(t)),
            None => Err(ConfigError::UnknownEnvironment {
                path: self.path.clone(),
                name: environment.to_owned(),
                available: if names.is_empty() {
                    "none (the file has no [environment] section)".into()
                } else {
                    names.join(", ")
                },
            }),
        }
    }

    fn check_keys(&mut self, prefix: &str, table: &Section, known: &[&str]) {
        let mut keys: Vec<_> = table.iter().collect();
        keys.sort_by_key(|(_, (line, _))| *line);
        for (key, (line, _)) in keys {
            if known.contains(&key.as_str()) {
                continue;
            }
            let nearest = known
                .iter()
                .map(|k| (strsim::levenshtein(k, key), *k))
                .min()
                .filter(|(d, k)| *d <= 3.max(k.len() / 3))
                .map(|(_, k)| format!("; did you mean `{k}`?"))
                .unwrap_or_else(|| format!("; known keys: {}", known.join(", ")));
            self.warnings.push(format!(
                "{}:{line}: unknown key `{prefix}.{key}` is ignored{nearest}",
                self.path.display()
            ));
        }
    }

    fn string(&self, env_name: &str, key: &str, v: &(usize, Value)) -> Result<String, ConfigError> {
        let at = self.at(v.0, &format!("{env_name}.{key}"));
        match &v.1 {
            Value::Str(s) => expand(s, self.env).map_err(|e| e.at(at)),
            other => Err(ConfigError::Type {
                at,
                expected: "a string",
                found: other.type_name().to_owned(),
            }),
        }
    }

    fn seconds(
        &self,
        env_name: &str,
        key: &str,
        v: &(usize, Value),
    ) -> Result<Duration, ConfigError> {
        let at = self.at(v.0, &format!("{env_name}.{key}"));
        let bad = |found: String| ConfigError::Type {
            at: at.clone(),
            expected: "a number of seconds (0 or more)",
            found,
        };
        let secs: f64 = match &v.1 {
            Value::Int(i) => *i as f64,
            Value::Float(f) => *f,
            Value::Str(_) => {
                let s = self.string(env_name, key, v)?;
                s.trim().parse().map_err(|_| bad(format!("{s:?}")))?
            }
            other => return Err(bad(other.type_name().to_owned())),
        };
        if !(0.0..=86_400.0 * 365.0).contains(&secs) {
            return Err(bad(secs.to_string()));
        }
        Ok(Duration::from_secs_f64(secs))
    }

    fn boolean(&self, env_name: &str, key: &str, v: &(usize, Value)) -> Result<bool, ConfigError> {
        let at = self.at(v.0, &format!("{env_name}.{key}"));
        match &v.1 {
            Value::Bool(b) => Ok(*b),
            Value::Str(_) => {
                let s = self.string(env_name, key, v)?;
                match s.trim().to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" => Ok(true),
                    "false" | "0" | "no" => Ok(false),
                    _ => Err(ConfigError::Type {
                        at,
                        expected: "true or false",
                        found: format!("{s:?}"),
                    }),
                }
            }
            other => Err(ConfigError::Type {
                at,
                expected: "true or false",
                found: other.type_name().to_owned(),
            }),
        }
    }

    /// The connection: `--url` > `DATABASE_URL` > the section's `url` or `connection` table.
    /// Settings that are overridden are not expanded, so an unset `${VAR}` in a URL that is
    /// not used is no error.
    fn connection(
        &mut self,
        overrides: &Overrides,
        env_name: &str,
        section: Option<&Section>,
        root: &Path,
    ) -> Result<Option<(Connection, Origin)>, ConfigError> {
        let from_url = |this: &mut Self, text: &str, at: String| {
            let (c, unknown) = self::url::parse_url(text).map_err(|problem| ConfigError::Url {
                at: at.clone(),
                problem,
            })?;
            for p in unknown {
                this.warnings
                    .push(format!("{at}: unknown URL parameter `{p}` is ignored"));
            }
            Ok::<_, ConfigError>((c, Origin(at)))
        };
        let (mut conn, origin) = if let Some(url) = &overrides.url {
            from_url(self, url, "--url".into())?
        } else if let Some(url) = self.env.non_empty("DATABASE_URL") {
            from_url(self, url, "DATABASE_URL".into())?
        } else {
            let url = section.and_then(|s| s.get("url"));
            let table = section.and_then(|s| s.get("connection"));
            match (url, table) {
                (Some(_), Some((line, _))) => {
                    return Err(ConfigError::Invalid {
                        at: self.at(*line, &format!("{env_name}.connection")),
                        problem: "give either `url` or a [connection] table, not both".into(),
                    });
                }
                (Some(v), None) => {
                    let at = self.at(v.0, &format!("{env_name}.url"));
                    let text = self.string(env_name, "url", v)?;
                    from_url(self, &text, at)?
                }
                (None, Some((line, Value::Table(t)))) => {
                    let at = self.at(*line, &format!("{env_name}.connection"));
                    (self.connection_table(env_name, t)?, Origin(at))
                }
                (None, Some(v)) => {
                    return Err(ConfigError::Type {
                        at: self.at(v.0, &format!("{env_name}.connection")),
                        expected: "a table ([ENV.connection])",
                        found: v.1.type_name().to_owned(),
                    });
                }
                (None, None) => return Ok(None),
            }
        };
        // `ssl_mode` and `ssl_ca` may also sit in the environment's own section.
        if let Some(s) = section {
            if let Some(v) = s.get("ssl_mode") {
                conn.ssl_mode = Some(self.ssl_mode(env_name, "ssl_mode", v)?);
            }
            if let Some(v) = s.get("ssl_ca") {
                conn.ssl_ca = Some(PathBuf::from(self.string(env_name, "ssl_ca", v)?));
            }
            if let Some(v) = s.get("connect_timeout") {
                conn.connect_timeout = Some(self.seconds(env_name, "connect_timeout", v)?);
            }
        }
        if let Some(ca) = &conn.ssl_ca {
            conn.ssl_ca = Some(root.join(ca));
        }
        Ok(Some((conn, origin)))
    }

    fn ssl_mode(
        &self,
        env_name: &str,
        key: &str,
        v: &(usize, Value),
    ) -> Result<SslMode, ConfigError> {
        let s = self.string(env_name, key, v)?;
        SslMode::parse(&s).ok_or_else(|| ConfigError::Type {
            at: self.at(v.0, &format!("{env_name}.{key}")),
            expected: "one of disabled, preferred, required, verify_ca, verify_identity",
            found: format!("{s:?}"),
        })
    }

    fn connection_table(&self, env_name: &str, t: &Section) -> Result<Connection, ConfigError> {
        let prefix = format!("{env_name}.connection");
        let s = |key: &str| -> Result<Option<String>, ConfigError> {
            t.get(key).map(|v| self.string(&prefix, key, v)).transpose()
        };
        let mut c = Connection::default();
        if let Some(h) = s("host")? {
            c.host = h;
        }
        if let Some(v) = t.get("port") {
            let at = self.at(v.0, &format!("{prefix}.port"));
            let port = match &v.1 {
                Value::Int(i) => Some(*i),
                Value::Str(_) => self.string(&prefix, "port", v)?.trim().parse().ok(),
                _ => None,
            };
            c.port = port
                .and_then(|p| u16::try_from(p).ok())
                .filter(|p| *p > 0)
                .ok_or_else(|| ConfigError::Type {
                    at,
                    expected: "a port number from 1 to 65535",
                    found: v.1.type_name().to_owned(),
                })?;
        }
        c.user = s("user")?;
        c.password = s("password")?.map(Secret::new);
        c.database = s("database")?.filter(|d| !d.is_empty());
        c.socket = s("socket")?.map(PathBuf::from);
        if let Some(v) = t.get("ssl_mode") {
            c.ssl_mode = Some(self.ssl_mode(&prefix, "ssl_mode", v)?);
        }
        c.ssl_ca = s("ssl_ca")?.map(PathBuf::from);
        if let Some(v) = t.get("connect_timeout") {
            c.connect_timeout = Some(self.seconds(&prefix, "connect_timeout", v)?);
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests;
