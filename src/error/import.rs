//! Why migrate:import recorded nothing.

/// Why migrate:import recorded nothing.
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
}
