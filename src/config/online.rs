//! The knexfile's `[online]` table (not an environment): which online schema-change engine
//! runs the ALTERs marked `-- dbtool:online`, and the size rule that sends others through it.
//!
//! ```toml
//! [online]
//! tool = "pt-osc"        # or "gh-ost"
//! min_rows = 1000000     # and/or min_size = "1 GiB": ALTERs of tables this big go online
//! args = ["--chunk-time", "0.5"]
//! ```

use super::ConfigError;
use super::loader::{Loader, Section, Value};

/// The online schema-change engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnlineTool {
    /// Percona's pt-online-schema-change (triggers; MySQL and MariaDB; no binlog needed).
    #[default]
    PtOsc,
    /// GitHub's gh-ost (the binary log; no triggers or foreign keys on the table).
    GhOst,
}

impl OnlineTool {
    /// The program run.
    pub fn program(self) -> &'static str {
        match self {
            OnlineTool::PtOsc => "pt-online-schema-change",
            OnlineTool::GhOst => "gh-ost",
        }
    }
}

/// `[online]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Online {
    pub tool: OnlineTool,
    /// An ALTER of a table with at least this many rows (information_schema's estimate) goes
    /// online without a marker.
    pub min_rows: Option<u64>,
    /// Likewise for data + index bytes.
    pub min_size: Option<u64>,
    /// More arguments for the engine, before dbtool's own.
    pub args: Vec<String>,
}

const KEYS: &[&str] = &["tool", "min_rows", "min_size", "args"];

impl Loader<'_> {
    pub(super) fn online_settings(&mut self, table: &Section) -> Result<Online, ConfigError> {
        let mut out = Online::default();
        let mut keys: Vec<(&String, &(usize, Value))> = table.iter().collect();
        keys.sort_by_key(|(_, (line, _))| *line);
        for (key, v) in keys {
            let at = self.at(v.0, &format!("online.{key}"));
            match key.as_str() {
                "tool" => {
                    out.tool = match self.string("online", key, v)?.as_str() {
                        "pt-osc" | "pt-online-schema-change" => OnlineTool::PtOsc,
                        "gh-ost" => OnlineTool::GhOst,
                        other => {
                            return Err(ConfigError::Invalid {
                                at,
                                problem: format!(
                                    "`{other}` is not an engine: \"pt-osc\" or \"gh-ost\""
                                ),
                            });
                        }
                    }
                }
                "min_rows" => out.min_rows = Some(size(&at, &v.1, false)?),
                "min_size" => out.min_size = Some(size(&at, &v.1, true)?),
                "args" => {
                    let Value::Array(items) = &v.1 else {
                        return Err(ConfigError::Type {
                            at,
                            expected: "an array of strings",
                            found: v.1.type_name().to_owned(),
                        });
                    };
                    for item in items {
                        out.args.push(self.string("online", "args", item)?);
                    }
                }
                _ => self.warnings.push(format!(
                    "{at}: unknown key is ignored; known keys: {}",
                    KEYS.join(", ")
                )),
            }
        }
        Ok(out)
    }
}

/// A count, or with `units` a size such as `"512 MiB"`, `"1G"` or a number of bytes.
fn size(at: &str, v: &Value, units: bool) -> Result<u64, ConfigError> {
    let bad = |found: String| ConfigError::Type {
        at: at.to_owned(),
        expected: if units {
            "a size: bytes, or a number with K, M, G or T (\"1 GiB\", \"500M\")"
        } else {
            "a whole number of rows"
        },
        found,
    };
    match v {
        Value::Int(n) if *n >= 0 => Ok(*n as u64),
        Value::Str(s) if units => {
            let t = s.trim().to_ascii_uppercase();
            let digits: String = t
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let unit = t[digits.len()..]
                .trim()
                .trim_end_matches("IB")
                .trim_end_matches('B');
            let n: f64 = digits.parse().map_err(|_| bad(format!("{s:?}")))?;
            let k: f64 = match unit {
                "" => 1.0,
                "K" => 1024.0,
                "M" => 1024.0 * 1024.0,
                "G" => 1024.0 * 1024.0 * 1024.0,
                "T" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
                _ => return Err(bad(format!("{s:?}"))),
            };
            Ok((n * k) as u64)
        }
        other => Err(bad(other.type_name().to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_users_write_them() {
        let s = |t: &str| size("k", &Value::Str(t.into()), true);
        assert_eq!(s("1 GiB").unwrap(), 1 << 30);
        assert_eq!(s("500M").unwrap(), 500 << 20);
        assert_eq!(s("2kb").unwrap(), 2048);
        assert_eq!(s("1.5G").unwrap(), 3 << 29);
        assert!(s("lots").is_err());
        assert_eq!(size("k", &Value::Int(10), false).unwrap(), 10);
        assert!(size("k", &Value::Str("10".into()), false).is_err());
    }
}
