//! `dbtool lint`: offline checks of the migration and seed files, from the splitter's
//! statements and their classification plus keyword rules. Each finding has a rule id, a
//! severity (configurable per project in the knexfile's `[lint]` table), the file and line,
//! why it matters and the safer pattern.

mod rules;

use std::fmt;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::files::{MigrationFile, SeedFile};
use crate::sql::Statement;

/// How much a finding matters. An error makes `dbtool lint` exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    Off,
    Warning,
    Error,
}

impl Severity {
    fn parse(s: &str) -> Option<Severity> {
        match s.trim().to_ascii_lowercase().as_str() {
            "error" => Some(Severity::Error),
            "warning" | "warn" => Some(Severity::Warning),
            "off" | "ignore" => Some(Severity::Off),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Severity::Off => "off",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// The rules, by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleId {
    Destructive,
    LockTables,
    NotNullWithoutDefault,
    Rename,
    NoPrimaryKey,
    MixedDdlDml,
    MissingDown,
    DownLeavesObjects,
    SeedNotIdempotent,
}

/// A rule's id, default severity, why it matters and what to do instead.
pub(crate) struct Rule {
    pub(crate) id: RuleId,
    pub(crate) name: &'static str,
    pub(crate) default: Severity,
    pub(crate) why: &'static str,
    pub(crate) fix: &'static str,
}

pub(crate) const RULES: &[Rule] = &[
    Rule {
        id: RuleId::Destructive,
        name: "destructive",
        default: Severity::Error,
        why: "it deletes data for good: no rollback brings the rows back",
        fix: "if that is intended, say so with a `-- dbtool:destructive` comment on the line \
              before it; otherwise stop using the table or column first and drop it in a later \
              migration",
    },
    Rule {
        id: RuleId::LockTables,
        name: "lock-tables",
        default: Severity::Error,
        why: "dbtool refuses LOCK TABLES in a migration: the session could no longer write its \
              ledger (ERROR 1100)",
        fix: "drop it: each DDL statement takes the locks it needs; for data changes, one \
              transaction",
    },
    Rule {
        id: RuleId::NotNullWithoutDefault,
        name: "not-null-without-default",
        default: Severity::Warning,
        why: "existing rows get the type's implicit default (0, '', a zero date), and an INSERT \
              that leaves the column out fails in strict mode while the application's old code \
              still runs",
        fix: "give it a DEFAULT, or add it NULL, fill it, then make it NOT NULL in a later \
              migration",
    },
    Rule {
        id: RuleId::Rename,
        name: "rename",
        default: Severity::Warning,
        why: "the application's running code still uses the old name and fails from the moment \
              the rename commits",
        fix: "expand and contract: add the new name, copy the data and switch the code, drop \
              the old name in a later migration",
    },
    Rule {
        id: RuleId::NoPrimaryKey,
        name: "no-primary-key",
        default: Severity::Warning,
        why: "MySQL with sql_require_primary_key, Galera and row-based replication need a \
              primary key; without one, updates scan the table on replicas",
        fix: "add a PRIMARY KEY (an id column, or the natural key)",
    },
    Rule {
        id: RuleId::MixedDdlDml,
        name: "mixed-ddl-dml",
        default: Severity::Warning,
        why: "DDL commits implicitly, so the file cannot run in one transaction: a failure part-way \
              leaves it half applied (dbtool records how far it got)",
        fix: "put the data changes in a migration of their own: a file of only INSERT, UPDATE \
              and DELETE runs in one transaction",
    },
    Rule {
        id: RuleId::MissingDown,
        name: "missing-down",
        default: Severity::Warning,
        why: "`migrate:rollback` refuses a migration without a down file",
        fix: "write the .down.sql file that undoes it, newest change first (an empty one says \
              that nothing needs undoing)",
    },
    Rule {
        id: RuleId::DownLeavesObjects,
        name: "down-leaves-objects",
        default: Severity::Warning,
        why: "after a rollback the object stays, so the next `migrate:latest` fails with \
              \"already exists\"",
        fix: "drop in the down file everything the up file creates",
    },
    Rule {
        id: RuleId::SeedNotIdempotent,
        name: "seed-not-idempotent",
        default: Severity::Warning,
        why: "seeds rerun (every `seed:run`, or when they change): a plain INSERT adds its rows \
              again or fails on a duplicate key",
        fix: "use INSERT IGNORE, INSERT … ON DUPLICATE KEY UPDATE or REPLACE, or clear the \
              table first (DELETE FROM / TRUNCATE), or mark the seed `-- dbtool:run once`",
    },
];

fn rule(id: RuleId) -> &'static Rule {
    RULES
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| unreachable!("every rule id is listed in RULES"))
}

/// A rule that fired on a statement of one file.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    rule: RuleId,
    line: u64,
    what: String,
}

impl Hit {
    fn new(rule: RuleId, line: u64, what: String) -> Hit {
        Hit { rule, line, what }
    }
}

/// One finding, as reported.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Finding {
    pub(crate) rule: &'static str,
    pub(crate) severity: Severity,
    pub(crate) file: String,
    pub(crate) line: u64,
    pub(crate) message: String,
    pub(crate) why: &'static str,
    pub(crate) fix: &'static str,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}[{}] {}:{}: {}\n  why: {}\n  safer: {}",
            self.severity.as_str(),
            self.rule,
            self.file,
            self.line,
            self.message,
            self.why,
            self.fix
        )
    }
}

/// The severity of each rule for this project: the defaults, changed by the knexfile's
/// `[lint]` table (`rule = "error" | "warning" | "off"`).
#[derive(Debug, Clone)]
pub(crate) struct Severities(Vec<(RuleId, Severity)>);

impl Severities {
    /// From the `[lint]` settings (key, value, where they were written for messages).
    pub(crate) fn from_settings(settings: &[crate::config::LintSetting]) -> Result<Severities> {
        let mut out: Vec<(RuleId, Severity)> = RULES.iter().map(|r| (r.id, r.default)).collect();
        for s in settings {
            let Some(r) = RULES.iter().find(|r| r.name == s.rule) else {
                let names: Vec<&str> = RULES.iter().map(|r| r.name).collect();
                return Err(invalid(
                    s,
                    format!("unknown rule; rules: {}", names.join(", ")),
                ));
            };
            let Some(sev) = Severity::parse(&s.value) else {
                return Err(invalid(
                    s,
                    format!(
                        "expected \"error\", \"warning\" or \"off\", found {:?}",
                        s.value
                    ),
                ));
            };
            if let Some(slot) = out.iter_mut().find(|(id, _)| *id == r.id) {
                slot.1 = sev;
            }
        }
        Ok(Severities(out))
    }

    fn of(&self, id: RuleId) -> Severity {
        self.0
            .iter()
            .find(|(r, _)| *r == id)
            .map_or(rule(id).default, |(_, s)| *s)
    }

    /// The findings that are not turned off, from a file's hits.
    fn findings(&self, file: &str, hits: Vec<Hit>) -> impl Iterator<Item = Finding> + '_ {
        let file = file.to_owned();
        hits.into_iter().filter_map(move |h| {
            let sev = self.of(h.rule);
            let r = rule(h.rule);
            (sev != Severity::Off).then(|| Finding {
                rule: r.name,
                severity: sev,
                file: file.clone(),
                line: h.line,
                message: h.what,
                why: r.why,
                fix: r.fix,
            })
        })
    }
}

fn invalid(s: &crate::config::LintSetting, problem: String) -> Error {
    Error::Config(crate::config::ConfigError::Invalid {
        at: format!("{}: lint.{}", s.at, s.rule),
        problem,
    })
}

/// The findings of one migration (its up file and its down file, read and split).
pub(crate) fn migration(m: &MigrationFile, sev: &Severities) -> Result<Vec<Finding>> {
    let up = split(&m.up)?;
    let down = match &m.down {
        Some(d) => Some(split(d)?),
        None => None,
    };
    let hits = rules::migration(&up, down.as_deref());
    // Hits on the down file's objects are reported at the up file's lines, where they are made.
    Ok(sev.findings(&m.up.display, hits).collect())
}

/// The findings of one seed (read whole: lint reads seeds statement by statement in memory,
/// which is fine for the sizes people review; a seed over 64 MiB is skipped with a warning).
pub(crate) fn seed(s: &SeedFile, sev: &Severities) -> Result<Vec<Finding>> {
    const MAX: u64 = 64 << 20;
    let size = std::fs::metadata(&s.file.path).map_or(0, |m| m.len());
    if size > MAX {
        tracing::warn!(
            "{}: {} MiB, not linted (lint reads seeds up to 64 MiB)",
            s.file.display,
            size >> 20
        );
        return Ok(Vec::new());
    }
    let mode = s.mode()?;
    let statements = split(&s.file)?;
    Ok(sev
        .findings(&s.file.display, rules::seed(&statements, mode))
        .collect())
}

fn split(f: &crate::files::SqlFile) -> Result<Vec<Statement>> {
    let text = f.read()?;
    crate::runner::split_file(&text, &f.display)
}
