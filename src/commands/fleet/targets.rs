//! A fleet's targets: read from `--targets-file`, or the environment's `targets`,
//! `targets_file` or `targets_query`; each resolved to the server and database it reaches;
//! chosen by `--target NAME`.

use std::path::Path;

use crate::config::{
    Config, ConfigError, Connection, Env, TargetEntry, TargetsSource, expand, target_connection,
};
use crate::db::{DEFAULT_CONNECT_TIMEOUT, Db};
use crate::error::{Error, Result, UsageError};

/// One database of a fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// How it is shown and chosen: its database name (with its server when two targets share
    /// a database name).
    pub(crate) name: String,
    /// Its database name.
    pub(crate) database: String,
    /// As written (a URL or a database name): what its child process is given.
    pub(crate) text: String,
    /// The server it is on (`Connection::server`), for `--per-server`.
    pub(crate) server: String,
}

/// The targets of the run, in the order they were given.
pub(crate) async fn resolve(
    config: &Config,
    file: Option<&Path>,
    env: &Env,
) -> Result<Vec<Target>> {
    let base = config.connection().ok();
    let entries = match (file, &config.targets) {
        (Some(path), _) => read_file(path, env)?,
        (None, Some(t)) => match &t.source {
            TargetsSource::List(list) => list.clone(),
            TargetsSource::File(path) => read_file(path, env)?,
            TargetsSource::Query(sql) => query(base, sql, &t.at).await?,
        },
        (None, None) => {
            return Err(UsageError::NoTargets {
                env: config.environment.clone(),
            }
            .into());
        }
    };
    targets(&entries, base)
}

/// Each entry resolved; the same database twice is an error naming both places.
fn targets(entries: &[TargetEntry], base: Option<&Connection>) -> Result<Vec<Target>> {
    let mut out: Vec<(Target, &str)> = Vec::with_capacity(entries.len());
    for e in entries {
        let c = target_connection(&e.text, base).map_err(|problem| ConfigError::Invalid {
            at: e.at.clone(),
            problem,
        })?;
        let database = c.database.clone().unwrap_or_default();
        let server = c.server();
        if let Some((_, first)) = out
            .iter()
            .find(|(t, _)| t.server == server && t.database == database)
        {
            return Err(ConfigError::Invalid {
                at: e.at.clone(),
                problem: format!("database {} is already a target ({first})", c.target()),
            }
            .into());
        }
        let target = Target {
            name: database.clone(),
            database,
            text: e.text.trim().to_owned(),
            server,
        };
        out.push((target, &e.at));
    }
    let mut targets: Vec<Target> = out.into_iter().map(|(t, _)| t).collect();
    let shared: Vec<bool> = targets
        .iter()
        .map(|t| targets.iter().filter(|o| o.database == t.database).count() > 1)
        .collect();
    for (t, shared) in targets.iter_mut().zip(shared) {
        if shared {
            t.name = format!("{}/{}", t.server, t.database);
        }
    }
    Ok(targets)
}

/// A targets file: one URL or database name per line; blank lines and `#` comments skipped;
/// `${VAR}` expanded.
fn read_file(path: &Path, env: &Env) -> Result<Vec<TargetEntry>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::io(path.display().to_string(), e))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = format!("{}:{}", path.display(), i + 1);
        let text = expand(line, env).map_err(|e| e.at(at.clone()))?;
        out.push(TargetEntry { text, at });
    }
    Ok(out)
}

/// `targets_query`: its rows' first column, run on the environment's own connection.
async fn query(base: Option<&Connection>, sql: &str, at: &str) -> Result<Vec<TargetEntry>> {
    use mysql_async::prelude::Queryable as _;
    let Some(base) = base else {
        return Err(ConfigError::Invalid {
            at: at.to_owned(),
            problem: "targets_query runs on the environment's connection, and none is configured"
                .into(),
        }
        .into());
    };
    let mut db = Db::connect(base, DEFAULT_CONNECT_TIMEOUT).await?;
    let rows: std::result::Result<Vec<mysql_async::Row>, _> = db.conn.query(sql).await;
    db.close().await;
    let rows = rows.map_err(|e| Error::db("running targets_query", e.into()))?;
    rows.into_iter()
        .enumerate()
        .map(|(i, row)| {
            let text: Option<String> = row.get_opt(0).and_then(|v| v.ok());
            let at = format!("{at} (row {})", i + 1);
            match text {
                Some(text) if !text.trim().is_empty() => Ok(TargetEntry { text, at }),
                _ => Err(ConfigError::Invalid {
                    at,
                    problem: "the first column is NULL or empty: expected a URL or a database name"
                        .into(),
                }
                .into()),
            }
        })
        .collect()
}

/// The targets `--target NAME` chose (all of them without one), in the fleet's order.
pub(crate) fn choose(targets: Vec<Target>, names: &[String], at: &str) -> Result<Vec<Target>> {
    if names.is_empty() {
        return Ok(targets);
    }
    for name in names {
        find(&targets, name, at)?;
    }
    Ok(targets
        .into_iter()
        .filter(|t| names.iter().any(|n| t.name == *n || t.database == *n))
        .collect())
}

/// The index of the target called `name`, or the error naming the nearest one.
pub(crate) fn find(targets: &[Target], name: &str, at: &str) -> Result<usize> {
    if let Some(i) = targets
        .iter()
        .position(|t| t.name == name || t.database == name)
    {
        return Ok(i);
    }
    let near = targets
        .iter()
        .map(|t| (strsim::levenshtein(&t.name, name), &t.name))
        .min()
        .filter(|(d, _)| *d <= 3)
        .map(|(_, n)| format!("; did you mean `{n}`?"))
        .unwrap_or_default();
    Err(UsageError::UnknownTarget {
        name: name.to_owned(),
        count: targets.len(),
        at: at.to_owned(),
        near,
    }
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(text: &str, line: usize) -> TargetEntry {
        TargetEntry {
            text: text.into(),
            at: format!("t.txt:{line}"),
        }
    }

    #[test]
    fn names_urls_and_database_names_and_refuses_a_database_twice() {
        let base = crate::config::url::parse_url("mysql://app:pw@db1:3306/main")
            .unwrap()
            .0;
        let ts = targets(
            &[
                entry("tenant_1", 1),
                entry("mysql://app:pw@db2:3307/tenant_1", 2),
                entry("tenant_2", 3),
            ],
            Some(&base),
        )
        .unwrap();
        let names: Vec<&str> = ts.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            ["db1:3306/tenant_1", "db2:3307/tenant_1", "tenant_2"]
        );
        assert_eq!(ts[1].text, "mysql://app:pw@db2:3307/tenant_1");
        let twice = targets(&[entry("a", 1), entry("mysql://x@db1/a", 2)], Some(&base));
        let message = twice.unwrap_err().to_string();
        assert!(
            message.contains("t.txt:2") && message.contains("t.txt:1"),
            "{message}"
        );
        let no_base = targets(&[entry("tenant_1", 4)], None)
            .unwrap_err()
            .to_string();
        assert!(
            no_base.starts_with("t.txt:4: `tenant_1` is a database name"),
            "{no_base}"
        );
        let url = targets(&[entry("mysql://u:secret@h/", 5)], None)
            .unwrap_err()
            .to_string();
        assert!(
            !url.contains("secret") && url.contains("names no database"),
            "{url}"
        );
    }

    #[test]
    fn choosing_an_unknown_target_names_the_nearest() {
        let base = crate::config::url::parse_url("mysql://db1/main").unwrap().0;
        let ts = targets(&[entry("tenant_1", 1), entry("tenant_2", 2)], Some(&base)).unwrap();
        let e = choose(ts.clone(), &["tenant_3".into()], "t.txt").unwrap_err();
        assert!(e.to_string().contains("did you mean `tenant_1`?"), "{e}");
        let chosen = choose(ts, &["tenant_2".into()], "t.txt").unwrap();
        assert_eq!(chosen.len(), 1);
        assert_eq!(chosen[0].name, "tenant_2");
    }
}
