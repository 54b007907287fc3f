//! An environment's fleet (`targets`, `targets_file` or `targets_query`), and the one target a
//! fleet run hands each of its child processes (`DBTOOL_FLEET_TARGET`).

use std::path::{Path, PathBuf};

use super::loader::{Loader, Section, Value};
use super::url::{Connection, parse_url};
use super::{ConfigError, Ident};

/// The variable through which a fleet run hands each child process its target (a URL or a
/// database name): an environment variable, so a URL's password never shows in `ps`.
pub const FLEET_TARGET_VAR: &str = "DBTOOL_FLEET_TARGET";

/// The keys that give an environment's targets (one of them).
const TARGET_KEYS: [&str; 3] = ["targets", "targets_file", "targets_query"];

/// Where an environment's targets come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetsSource {
    /// `targets = [...]`: each entry, `${VAR}` expanded, with where it was written.
    List(Vec<TargetEntry>),
    /// `targets_file`: one target per line, `#` comments (relative to the knexfile).
    File(PathBuf),
    /// `targets_query`: run on the environment's own connection; its first column.
    Query(String),
}

/// One target as written: a database URL or a database name, and where (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetEntry {
    pub text: String,
    pub at: String,
}

/// An environment's targets, and the knexfile key that gave them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    pub source: TargetsSource,
    pub at: String,
}

impl Loader<'_> {
    /// The section's targets, if it has any.
    pub(super) fn targets(
        &self,
        env_name: &str,
        section: Option<&Section>,
        root: &Path,
    ) -> Result<Option<Targets>, ConfigError> {
        let Some(section) = section else {
            return Ok(None);
        };
        let mut given: Vec<(&str, &(usize, Value))> = TARGET_KEYS
            .iter()
            .filter_map(|k| section.get(*k).map(|v| (*k, v)))
            .collect();
        given.sort_by_key(|(_, (line, _))| *line);
        let (key, v) = match given.as_slice() {
            [] => return Ok(None),
            [one] => *one,
            [_, (second, (line, _)), ..] => {
                return Err(ConfigError::Invalid {
                    at: self.at(*line, &format!("{env_name}.{second}")),
                    problem: "give one of targets, targets_file and targets_query".into(),
                });
            }
        };
        let at = self.at(v.0, &format!("{env_name}.{key}"));
        let source = match key {
            "targets" => TargetsSource::List(self.target_list(env_name, v)?),
            "targets_file" => TargetsSource::File(root.join(self.string(env_name, key, v)?)),
            _ => TargetsSource::Query(self.string(env_name, key, v)?),
        };
        Ok(Some(Targets { source, at }))
    }

    fn target_list(
        &self,
        env_name: &str,
        v: &(usize, Value),
    ) -> Result<Vec<TargetEntry>, ConfigError> {
        let Value::Array(items) = &v.1 else {
            return Err(ConfigError::Type {
                at: self.at(v.0, &format!("{env_name}.targets")),
                expected: "an array of database URLs or database names",
                found: v.1.type_name().to_owned(),
            });
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let key = format!("targets[{i}]");
                Ok(TargetEntry {
                    text: self.string(env_name, &key, item)?,
                    at: self.at(item.0, &format!("{env_name}.{key}")),
                })
            })
            .collect()
    }
}

/// The connection a target names: a URL is its own; a database name is `base` with that
/// database. The error never holds the URL (it may hold a password).
pub fn target_connection(text: &str, base: Option<&Connection>) -> Result<Connection, String> {
    let text = text.trim();
    if text.contains("://") {
        let (c, _) = parse_url(text).map_err(|e| format!("invalid database URL: {e}"))?;
        if c.database.is_none() {
            return Err("the URL names no database".into());
        }
        return Ok(c);
    }
    Ident::database(text).map_err(|e| {
        format!("`{text}` is neither a database URL (mysql://…) nor a database name: {e}")
    })?;
    let Some(base) = base else {
        return Err(format!(
            "`{text}` is a database name, which needs the environment's connection (url, \
             DATABASE_URL or --url) to say which server it is on"
        ));
    };
    Ok(Connection {
        database: Some(text.to_owned()),
        ..base.clone()
    })
}
