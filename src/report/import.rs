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

/// migrate:import --from alembic --write-mapping: the mapping written (or, dry run, shown).
#[derive(Debug, Serialize)]
pub(crate) struct MappingOut {
    pub(crate) dry_run: bool,
    /// The mapping file.
    pub(crate) path: String,
    /// The folder of Alembic's revision scripts read.
    pub(crate) scripts: String,
    /// Each revision of the chain, base first, with the migration it was paired with.
    pub(crate) pairs: Vec<PairOut>,
    /// Revisions left over (written commented out).
    pub(crate) unpaired_revisions: Vec<String>,
    /// Migrations left over (they stay pending).
    pub(crate) unpaired_migrations: Vec<String>,
    /// The file's text.
    pub(crate) text: String,
}

/// One revision paired with a migration.
#[derive(Debug, Serialize)]
pub(crate) struct PairOut {
    pub(crate) alembic: String,
    pub(crate) migration: String,
}

impl fmt::Display for MappingOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = plural(self.pairs.len(), "revision", "revisions");
        if self.dry_run {
            writeln!(
                f,
                "Dry run: would write {} ({n} of {} paired in order with dbtool's migrations), \
                 nothing was written:\n",
                self.path, self.scripts
            )?;
            return f.write_str(&self.text);
        }
        writeln!(
            f,
            "Wrote {}: {n} of {} paired in order with dbtool's migrations:",
            self.path, self.scripts
        )?;
        let width = self
            .pairs
            .iter()
            .map(|p| p.alembic.len())
            .max()
            .unwrap_or(0);
        for p in &self.pairs {
            writeln!(f, "  {:width$}  {}", p.alembic, p.migration)?;
        }
        for r in &self.unpaired_revisions {
            writeln!(
                f,
                "  {r:width$}  (no migration left to pair with: commented out)"
            )?;
        }
        for m in &self.unpaired_migrations {
            writeln!(f, "  {:width$}  {m} (no revision: stays pending)", "-")?;
        }
        writeln!(
            f,
            "Review every pair, then run `dbtool migrate:import --from alembic --dry-run`."
        )
    }
}
