//! The connection: `--url` > `DATABASE_URL` > the section's `url` or `[ENV.connection]`
//! table, the section's TLS settings, and the connections of protected environments.

use std::path::{Path, PathBuf};

use super::super::targets::{FLEET_TARGET_VAR, target_connection};
use super::super::url::{Connection, Secret, SslMode};
use super::super::{ConfigError, Origin, Overrides};
use super::{Loader, Resolved, Section, Value};

impl Loader<'_> {
    pub(in crate::config) fn parse_url(
        &mut self,
        text: &str,
        at: String,
    ) -> Result<(Connection, Origin), ConfigError> {
        let (c, unknown) =
            super::super::url::parse_url(text).map_err(|problem| ConfigError::Url {
                at: at.clone(),
                problem,
            })?;
        for p in unknown {
            self.warnings
                .push(format!("{at}: unknown URL parameter `{p}` is ignored"));
        }
        Ok((c, Origin(at)))
    }

    /// The connection; in a fleet run's child process, the target the run gave it (a URL, or a
    /// database name on the connection resolved as always), which replaces the environment's
    /// connection without a warning: the fleet run named its targets.
    pub(in crate::config) fn connection(
        &mut self,
        overrides: &Overrides,
        env_name: &str,
        section: Option<&Section>,
        root: &Path,
    ) -> Result<Resolved, ConfigError> {
        let Some(target) = self.env.non_empty(FLEET_TARGET_VAR).map(str::to_owned) else {
            return self.configured(overrides, env_name, section, root);
        };
        let base = if target.contains("://") {
            None
        } else {
            self.configured(overrides, env_name, section, root)?
                .connection
        };
        let mut conn =
            target_connection(&target, base.as_ref().map(|(c, _)| c)).map_err(|problem| {
                ConfigError::Invalid {
                    at: format!("the fleet target ({FLEET_TARGET_VAR})"),
                    problem,
                }
            })?;
        if base.is_none() {
            self.section_tls(env_name, section, root, &mut conn)?;
        }
        let origin = Origin(format!("fleet target {}", conn.target()));
        Ok(Resolved {
            connection: Some((conn, origin)),
            replaced: None,
        })
    }

    /// The connection: `--url` > `DATABASE_URL` > the section's `url` or `connection` table;
    /// and the section's own when an override replaced it (resolved as far as it can be: an
    /// unset `${VAR}` in a URL that is not used is no error).
    fn configured(
        &mut self,
        overrides: &Overrides,
        env_name: &str,
        section: Option<&Section>,
        root: &Path,
    ) -> Result<Resolved, ConfigError> {
        let over = match (&overrides.url, self.env.non_empty("DATABASE_URL")) {
            (Some(url), _) => Some((url.clone(), "--url")),
            (None, Some(url)) => Some((url.to_owned(), "DATABASE_URL")),
            (None, None) => None,
        };
        let Some((url, at)) = over else {
            return Ok(Resolved {
                connection: self.own(env_name, section, root)?,
                replaced: None,
            });
        };
        let (mut conn, origin) = self.parse_url(&url, at.into())?;
        // `ssl_mode`, `ssl_ca` and `connect_timeout` of the section apply to an override too.
        self.section_tls(env_name, section, root, &mut conn)?;
        let saved = std::mem::take(&mut self.warnings);
        let replaced = self.own(env_name, section, root).ok().flatten();
        self.warnings = saved;
        Ok(Resolved {
            connection: Some((conn, origin)),
            replaced,
        })
    }

    /// The section's own connection (`url` or a `[ENV.connection]` table).
    pub(in crate::config) fn own(
        &mut self,
        env_name: &str,
        section: Option<&Section>,
        root: &Path,
    ) -> Result<Option<(Connection, Origin)>, ConfigError> {
        let url = section.and_then(|s| s.get("url"));
        let table = section.and_then(|s| s.get("connection"));
        let (mut conn, origin) = match (url, table) {
            (Some(_), Some((line, _))) => {
                return Err(ConfigError::Invalid {
                    at: self.at(*line, &format!("{env_name}.connection")),
                    problem: "give either `url` or a [connection] table, not both".into(),
                });
            }
            (Some(v), None) => {
                let at = self.at(v.0, &format!("{env_name}.url"));
                let text = self.string(env_name, "url", v)?;
                self.parse_url(&text, at)?
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
        };
        self.section_tls(env_name, section, root, &mut conn)?;
        Ok(Some((conn, origin)))
    }

    /// `ssl_mode`, `ssl_ca` and `connect_timeout` may also sit in the environment's section.
    fn section_tls(
        &self,
        env_name: &str,
        section: Option<&Section>,
        root: &Path,
        conn: &mut Connection,
    ) -> Result<(), ConfigError> {
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
        Ok(())
    }

    /// The connections of the other environments marked `protected`, as far as they resolve.
    pub(in crate::config) fn protected_targets(
        &mut self,
        chosen: &str,
        root: &Path,
    ) -> Vec<(String, Connection)> {
        let sections = self.sections.clone();
        let saved = std::mem::take(&mut self.warnings);
        let mut out = Vec::new();
        for (name, section) in &sections {
            if name == chosen {
                continue;
            }
            let protected = section
                .get("protected")
                .and_then(|v| self.boolean(name, "protected", v).ok())
                .unwrap_or(false);
            if protected && let Ok(Some((c, _))) = self.own(name, Some(section), root) {
                out.push((name.clone(), c));
            }
        }
        self.warnings = saved;
        out
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
