//! The result of migrate:import: the migrations recorded from another tool's ledger.

use std::fmt;

use serde::Serialize;

use super::plural;

/// migrate:import: the migrations recorded from another tool's ledger.
#[derive(Debug, Serialize)]
pub(crate) struct ImportOut {
    pub(crate) dry_run: bool,
    pub(crate) from: &'static str,
    pub(crate) table: String,
    pub(crate) batch: u32,
    pub(crate) imported: Vec<ImportedOut>,
    pub(crate) already_applied: usize,
}

/// One imported migration and the other tool's entry for it.
#[derive(Debug, Serialize)]
pub(crate) struct ImportedOut {
    pub(crate) migration: String,
    pub(crate) entry: String,
}

impl fmt::Display for ImportOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = plural(self.imported.len(), "migration", "migrations");
        if self.imported.is_empty() {
            writeln!(
                f,
                "Nothing to import from {} ({}): dbtool's ledger already has every migration it \
                 applied.",
                self.from, self.table
            )?;
            return Ok(());
        }
        let verb = if self.dry_run {
            "Dry run: would import"
        } else {
            "Imported"
        };
        writeln!(
            f,
            "{verb} {n} from {} ({}, left unchanged) as batch {}: recorded applied, nothing was \
             run:",
            self.from, self.table, self.batch
        )?;
        let width = self
            .imported
            .iter()
            .map(|i| i.migration.len())
            .max()
            .unwrap_or(0);
        for i in &self.imported {
            writeln!(f, "  {:width$}  {}", i.migration, i.entry)?;
        }
        if self.already_applied > 0 {
            writeln!(
                f,
                "{} already recorded in dbtool's ledger.",
                plural(self.already_applied, "migration was", "migrations were")
            )?;
        }
        Ok(())
    }
}
