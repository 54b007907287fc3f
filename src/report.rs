//! Outcomes -> human lines on stdout, or one JSON document with `--json`. The only place that
//! prints results; diagnostics go to stderr through `tracing`.

use std::io::Write;

use serde_json::json;

use crate::output::Terminal;

#[derive(Debug, Clone)]
pub struct Report {
    pub term: Terminal,
    pub json: bool,
}

impl Report {
    pub fn new(term: Terminal, json: bool) -> Self {
        Report { term, json }
    }

    /// Prints one JSON document.
    pub fn json(&self, value: &serde_json::Value) {
        let mut out = std::io::stdout().lock();
        // A closed stdout (`| head`) is not an error worth a panic.
        let _ = serde_json::to_writer_pretty(&mut out, value);
        let _ = writeln!(out);
    }

    /// Prints human text (already laid out) on stdout.
    pub fn text(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        if !text.is_empty() && !text.ends_with('\n') {
            let _ = writeln!(out);
        }
    }

    /// Files written by init / migrate:make / seed:make.
    pub fn created(&self, paths: &[String]) {
        if self.json {
            self.json(&json!({ "created": paths }));
        } else {
            let lines: String = paths.iter().map(|p| format!("Created {p}\n")).collect();
            self.text(&lines);
        }
    }
}
