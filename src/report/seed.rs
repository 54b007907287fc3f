//! The results of seed:run and seed:status.

use std::fmt;

use comfy_table::{ContentArrangement, Table};
use serde::Serialize;

use crate::output::{GREEN, RED, YELLOW, paint};

/// seed:run (and its dry run): what ran, what was skipped and why.
#[derive(Debug, Serialize)]
pub(crate) struct SeedRunOut {
    pub(crate) dry_run: bool,
    pub(crate) seeds: Vec<SeedRunLine>,
}

#[derive(Debug, Serialize)]
pub(crate) struct SeedRunLine {
    pub(crate) seed: String,
    pub(crate) mode: &'static str,
    pub(crate) decision: &'static str,
    pub(crate) ran: bool,
    pub(crate) statements: Option<u32>,
    pub(crate) duration_ms: Option<u64>,
    pub(crate) checksum: Option<String>,
    /// The seed was chosen to run (it may not have, when an earlier one failed).
    #[serde(skip)]
    pub(crate) runs: bool,
}

impl fmt::Display for SeedRunOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dry_run {
            writeln!(f, "Dry run: nothing will be changed.")?;
        }
        if self.seeds.is_empty() {
            writeln!(f, "No seeds.")?;
        }
        let ran = self.seeds.iter().filter(|s| s.ran).count();
        if !self.dry_run {
            writeln!(f, "Ran {ran} seed{}:", if ran == 1 { "" } else { "s" })?;
        }
        let width = self.seeds.iter().map(|s| s.seed.len()).max().unwrap_or(0);
        for s in &self.seeds {
            let line = match (s.ran, s.statements, s.duration_ms) {
                (true, Some(n), Some(ms)) => {
                    format!(
                        "{}, {ms} ms",
                        super::plural(n as usize, "statement", "statements")
                    )
                }
                _ if self.dry_run => {
                    format!("would {} ({})", if s.runs { "run" } else { "skip" }, s.mode)
                }
                _ if s.runs => "not run (stopped before it)".to_owned(),
                _ => s.decision.to_owned(),
            };
            writeln!(f, "  {:width$}  {line}", s.seed)?;
        }
        Ok(())
    }
}

/// seed:status.
#[derive(Debug, Serialize)]
pub(crate) struct SeedStatusOut {
    pub(crate) environment: String,
    pub(crate) seeds: Vec<SeedStatusLine>,
    #[serde(skip)]
    pub(crate) url: String,
    #[serde(skip)]
    pub(crate) color: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct SeedStatusLine {
    pub(crate) seed: String,
    pub(crate) mode: Option<&'static str>,
    pub(crate) state: &'static str,
    pub(crate) run_count: u64,
    pub(crate) last_run_at: Option<String>,
    pub(crate) checksum: Option<String>,
}

impl fmt::Display for SeedStatusOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} · {}", self.environment, self.url)?;
        if self.seeds.is_empty() {
            return writeln!(f, "No seeds.");
        }
        let mut table = Table::new();
        table.load_style(comfy_table::presets::NOTHING);
        table.set_content_arrangement(ContentArrangement::Disabled);
        table.set_header(["SEED", "MODE", "RUNS", "LAST RUN (UTC)", "STATE"]);
        for s in &self.seeds {
            let style = match s.state {
                "unchanged" => GREEN,
                "missing" => RED,
                _ => YELLOW,
            };
            table.add_row([
                s.seed.clone(),
                s.mode.unwrap_or("-").to_owned(),
                s.run_count.to_string(),
                s.last_run_at.as_deref().map_or("-".to_owned(), |t| {
                    t.replace('T', " ").chars().take(19).collect()
                }),
                paint(self.color, style, s.state),
            ]);
        }
        for line in table.lines() {
            writeln!(f, "{}", line.trim_end())?;
        }
        Ok(())
    }
}
