//! The result of `dbtool lint`.

use std::fmt;

use serde::Serialize;

use crate::lint::{Finding, Severity};
use crate::output::{RED, YELLOW, paint};

/// Every finding over the project's files, in file order.
#[derive(Debug, Serialize)]
pub(crate) struct LintOut {
    pub(crate) migrations: usize,
    pub(crate) seeds: usize,
    pub(crate) findings: Vec<Finding>,
    pub(crate) errors: usize,
    pub(crate) warnings: usize,
    #[serde(skip)]
    pub(crate) color: bool,
}

impl LintOut {
    pub(crate) fn new(
        migrations: usize,
        seeds: usize,
        findings: Vec<Finding>,
        color: bool,
    ) -> Self {
        let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
        LintOut {
            migrations,
            seeds,
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            findings,
            color,
        }
    }
}

impl fmt::Display for LintOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let files = format!(
            "{} and {}",
            super::plural(self.migrations, "migration", "migrations"),
            super::plural(self.seeds, "seed", "seeds")
        );
        if self.findings.is_empty() {
            return writeln!(f, "No findings in {files}.");
        }
        for x in &self.findings {
            let text = x.to_string();
            let (head, rest) = text.split_once('\n').unwrap_or((&text, ""));
            let color = match x.severity {
                Severity::Error => RED,
                _ => YELLOW,
            };
            writeln!(f, "{}\n{rest}", paint(self.color, color, head))?;
        }
        writeln!(
            f,
            "{} in {files}: {}, {}.",
            super::plural(self.findings.len(), "finding", "findings"),
            super::plural(self.errors, "error", "errors"),
            super::plural(self.warnings, "warning", "warnings")
        )
    }
}
