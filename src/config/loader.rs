//! Reading a knexfile's TOML: every environment's keys checked (unknown ones warned about, with
//! the nearest known key), values converted with the line they sit on, `${VAR}` expanded, and
//! the connection resolved from `--url`, `DATABASE_URL` or the section (`connection`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use toml::de::{DeTable, DeValue};

mod connection;

use super::url::Connection;
use super::{ConfigError, Env, Origin, expand};

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
    "ddl_lock_wait",
    "ddl_retries",
    "protected",
    "out_of_order",
    "ssl_mode",
    "ssl_ca",
    "connect_timeout",
    // Write the schema file after every migrate run that changes the schema (dbmate's habit).
    "dump_schema",
    // A fleet: the databases `--all-targets` runs against (one of the three).
    "targets",
    "targets_file",
    "targets_query",
    // Knex's spelling: [ENV.migrations] directory / tableName, [ENV.seeds] directory.
    "migrations",
    "seeds",
];

/// Keys of Knex's `[ENV.migrations]` and `[ENV.seeds]` tables that dbtool reads.
const KNEX_MIGRATIONS_KEYS: &[&str] = &["directory", "tableName"];
const KNEX_SEEDS_KEYS: &[&str] = &["directory"];

/// Keys whose misspelling is an error rather than a warning: a typo must never turn a
/// safety off silently.
const SAFETY_KEYS: &[&str] = &["protected", "out_of_order"];

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
pub(super) type Section = HashMap<String, (usize, Value)>;

/// The connection a command uses, and the environment's own when an override replaced it.
pub(super) struct Resolved {
    pub(super) connection: Option<(Connection, Origin)>,
    pub(super) replaced: Option<(Connection, Origin)>,
}

/// A TOML value reduced to what a knexfile uses.
#[derive(Debug, Clone)]
pub(super) enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Table(HashMap<String, (usize, Value)>),
    /// Each item with its line.
    Array(Vec<(usize, Value)>),
    Other(&'static str),
}

impl Value {
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Bool(_) => "a boolean",
            Value::Table(_) => "a table",
            Value::Array(_) => "an array",
            Value::Other(t) => t,
        }
    }
}

pub(super) struct Loader<'a> {
    pub(super) path: PathBuf,
    pub(super) text: &'a str,
    pub(super) env: &'a Env,
    pub(super) warnings: Vec<String>,
    /// Every environment's section, by name (protection follows the database reached).
    pub(super) sections: Vec<(String, Section)>,
    /// The `[lint]` table's settings (not an environment).
    pub(super) lint: Vec<super::LintSetting>,
    /// The `[online]` table's settings (not an environment).
    pub(super) online: super::Online,
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
    pub(super) fn at(&self, line: usize, key: &str) -> String {
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
            DeValue::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| (self.line_of(v.span().start), self.convert(v)))
                    .collect(),
            ),
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
    pub(super) fn section(
        &mut self,
        text: &str,
        environment: &str,
    ) -> Result<Option<Section>, ConfigError> {
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
            if name == "lint" {
                self.lint_settings(&table)?;
                continue;
            }
            if name == "online" {
                self.online = self.online_settings(&table)?;
                continue;
            }
            self.check_keys(&name, &table, ENV_KEYS)?;
            for (key, known) in [
                ("connection", CONNECTION_KEYS),
                ("migrations", KNEX_MIGRATIONS_KEYS),
                ("seeds", KNEX_SEEDS_KEYS),
            ] {
                if let Some((_, Value::Table(t))) = table.get(key) {
                    self.check_keys(&format!("{name}.{key}"), t, known)?;
                }
            }
            if name == environment {
                chosen = Some(table.clone());
            }
            self.sections.push((name.clone(), table));
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

    /// `[lint]`: `rule = "error" | "warning" | "off"` (the rule names are checked by lint).
    fn lint_settings(&mut self, table: &Section) -> Result<(), ConfigError> {
        let mut keys: Vec<(&String, &(usize, Value))> = table.iter().collect();
        keys.sort_by_key(|(_, (line, _))| *line);
        for (rule, (line, v)) in keys {
            let Value::Str(value) = v else {
                return Err(ConfigError::Type {
                    at: self.at(*line, &format!("lint.{rule}")),
                    expected: "\"error\", \"warning\" or \"off\"",
                    found: v.type_name().to_owned(),
                });
            };
            self.lint.push(super::LintSetting {
                rule: rule.clone(),
                value: value.clone(),
                at: format!("{}:{line}", self.path.display()),
            });
        }
        Ok(())
    }

    fn check_keys(
        &mut self,
        prefix: &str,
        table: &Section,
        known: &[&str],
    ) -> Result<(), ConfigError> {
        let mut keys: Vec<_> = table.iter().collect();
        keys.sort_by_key(|(_, (line, _))| *line);
        for (key, (line, _)) in keys {
            if known.contains(&key.as_str()) {
                continue;
            }
            let near = known
                .iter()
                .map(|k| (strsim::levenshtein(k, key), *k))
                .min()
                .filter(|(d, k)| *d <= 3.max(k.len() / 3))
                .map(|(_, k)| k);
            if let Some(k) = near.filter(|k| SAFETY_KEYS.contains(k)) {
                return Err(ConfigError::Invalid {
                    at: self.at(*line, &format!("{prefix}.{key}")),
                    problem: format!(
                        "unknown key; did you mean `{k}`? (a misspelt safety setting is an \
                         error, never ignored)"
                    ),
                });
            }
            let nearest = near
                .map(|k| format!("; did you mean `{k}`?"))
                .unwrap_or_else(|| format!("; known keys: {}", known.join(", ")));
            self.warnings.push(format!(
                "{}:{line}: unknown key `{prefix}.{key}` is ignored{nearest}",
                self.path.display()
            ));
        }
        Ok(())
    }

    pub(super) fn string(
        &self,
        env_name: &str,
        key: &str,
        v: &(usize, Value),
    ) -> Result<String, ConfigError> {
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

    pub(super) fn seconds(
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

    /// A whole number from 0 to `max`.
    pub(super) fn count(
        &self,
        env_name: &str,
        key: &str,
        v: &(usize, Value),
        max: u32,
    ) -> Result<u32, ConfigError> {
        let at = self.at(v.0, &format!("{env_name}.{key}"));
        let bad = |found: String| ConfigError::Type {
            at: at.clone(),
            expected: "a whole number (0 to 100)",
            found,
        };
        let n: i64 = match &v.1 {
            Value::Int(i) => *i,
            Value::Str(_) => {
                let s = self.string(env_name, key, v)?;
                s.trim().parse().map_err(|_| bad(format!("{s:?}")))?
            }
            other => return Err(bad(other.type_name().to_owned())),
        };
        u32::try_from(n)
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| bad(n.to_string()))
    }

    pub(super) fn boolean(
        &self,
        env_name: &str,
        key: &str,
        v: &(usize, Value),
    ) -> Result<bool, ConfigError> {
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
}
