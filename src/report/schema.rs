//! The results of schema:dump, schema:load and migrate:drift.

use std::fmt;

use serde::Serialize;

use super::plural;

/// schema:dump and schema:load: the file and what it holds.
#[derive(Debug, Serialize)]
pub(crate) struct SchemaOut {
    #[serde(skip)]
    pub(crate) loaded: bool,
    pub(crate) file: String,
    /// Objects by kind, in the file's order (table, sequence, view, function, …).
    pub(crate) objects: std::collections::BTreeMap<&'static str, usize>,
    pub(crate) ledger_rows: usize,
}

impl SchemaOut {
    pub(crate) fn new(
        loaded: bool,
        file: &str,
        objects: &[crate::db::schema::Created],
        ledger_rows: usize,
    ) -> Self {
        let mut by_kind = std::collections::BTreeMap::new();
        for o in objects {
            *by_kind.entry(o.kind).or_insert(0) += 1;
        }
        SchemaOut {
            loaded,
            file: file.to_owned(),
            objects: by_kind,
            ledger_rows,
        }
    }
}

impl fmt::Display for SchemaOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what: Vec<String> = self
            .objects
            .iter()
            .map(|(k, n)| plural(*n, k, &format!("{k}s")))
            .collect();
        let what = if what.is_empty() {
            "no objects".to_owned()
        } else {
            what.join(", ")
        };
        let rows = plural(self.ledger_rows, "ledger row", "ledger rows");
        if self.loaded {
            writeln!(f, "Loaded {}: {what}, {rows}.", self.file)
        } else {
            writeln!(f, "Wrote {}: {what}, {rows}.", self.file)
        }
    }
}

/// migrate:drift: what changed by hand since the last run's snapshot.
#[derive(Debug, Serialize)]
pub(crate) struct DriftOut {
    /// When the snapshot was taken (UTC); None: no run has taken one yet.
    pub(crate) snapshot_at: Option<String>,
    pub(crate) changes: Vec<crate::commands::schema::Change>,
}

impl DriftOut {
    /// The one line migrate:status --drift shows.
    pub(crate) fn line(&self) -> String {
        let Some(at) = &self.snapshot_at else {
            return "schema: no snapshot yet (one is stored after each migrate run that changes \
                    the schema)"
                .to_owned();
        };
        match self.changes.len() {
            0 => format!("schema: no drift since the run of {at} UTC"),
            n => format!(
                "schema: DRIFT, {} since the run of {at} UTC: {} (migrate:drift shows them)",
                super::plural(n, "change by hand", "changes by hand"),
                self.changes
                    .iter()
                    .take(3)
                    .map(|c| format!("{}: {}", c.object, c.change))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        }
    }
}

impl fmt::Display for DriftOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(at) = &self.snapshot_at else {
            return writeln!(
                f,
                "No snapshot yet: one is stored after every migrate run that changes the schema."
            );
        };
        if self.changes.is_empty() {
            return writeln!(f, "No drift: the schema is as the run of {at} UTC left it.");
        }
        writeln!(
            f,
            "Drift: {} since the run of {at} UTC:",
            plural(self.changes.len(), "change", "changes")
        )?;
        for c in &self.changes {
            writeln!(f, "  {}: {}\n      {}", c.object, c.change, c.detail)?;
        }
        Ok(())
    }
}
