//! Why migrate:import recorded nothing, or wrote no mapping.

/// Why migrate:import recorded nothing (or, with `--write-mapping`, wrote no mapping).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ImportError {
    #[error(
        "no table {table} in this database: nothing to import from {tool} (give its ledger with \
         --table NAME)"
    )]
    NoTable { tool: &'static str, table: String },
    #[error(
        "{table} is not {tool}'s ledger: {problem}\n  nothing was recorded{}",
        hint.as_ref().map(|h| format!("; {h}")).unwrap_or_default()
    )]
    NotItsTable {
        tool: &'static str,
        table: String,
        problem: String,
        hint: Option<String>,
    },
    #[error(
        "cannot import from {tool}: its ledger and dbtool's files disagree:{}\n  nothing was \
         recorded, and {tool}'s table was not changed",
        problems.iter().map(|p| format!("\n  {p}")).collect::<String>()
    )]
    Disagree {
        tool: &'static str,
        problems: Vec<String>,
    },
    #[error("{flag} is for `--from alembic` only")]
    AlembicOnly { flag: &'static str },
    #[error(
        "no mapping file {path}: Alembic's ledger holds only revision ids, so dbtool needs to \
         be told which migration each is\n  write a starting point with `dbtool migrate:import \
         --from alembic --write-mapping`, review it, then import (or give one with --mapping)"
    )]
    NoMapping { path: String },
    #[error("{path}:{line}: {message}\n  nothing was recorded")]
    Mapping {
        path: String,
        line: usize,
        message: String,
    },
    #[error(
        "{what}:{}\n  {outcome}",
        problems.iter().map(|p| format!("\n  {p}")).collect::<String>()
    )]
    Scripts {
        /// What could not be done, and why.
        what: &'static str,
        problems: Vec<String>,
        /// `nothing was written` / `nothing was recorded`.
        outcome: &'static str,
    },
}
