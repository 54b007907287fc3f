//! Outcomes -> human lines on stdout, or one JSON document with `--json`. The only place that
//! prints results; diagnostics go to stderr through `tracing`.

use std::io::Write;

use comfy_table::{ContentArrangement, Table};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::commands::seed::{Decision, SeedState};
use crate::config::Config;
use crate::db::ledger::Direction;
use crate::db::ledger::SeedRow;
use crate::db::lock::Holder;
use crate::engine::{self, Done, Prepared};
use crate::output::{GREEN, RED, Terminal, YELLOW, paint};
use crate::plan::{Drift, Entry, Plan, Status};
use crate::seeds::{Mode, SeedDone, SeedInfo};

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

/// Applying or undoing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    Apply,
    Revert,
}

/// What a migrate run did.
pub struct Outcome<'a> {
    pub kind: RunKind,
    pub batch: u32,
    pub done: &'a [Done],
}

fn ms(d: std::time::Duration) -> u64 {
    d.as_millis() as u64
}

impl Report {
    /// A progress bar on stderr, drawn only on a terminal (never in CI, with -q or when piped).
    pub fn progress_bar(&self, len: u64, what: &str) -> ProgressBar {
        if !self.term.progress || len < 2 {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(&format!("{{bar:30}} {{pos}}/{{len}} {what} {{msg}}"))
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    }

    pub fn outcome(&self, o: &Outcome<'_>) {
        let (verb, key) = match o.kind {
            RunKind::Apply => ("Applied", "applied"),
            RunKind::Revert => ("Rolled back", "rolled_back"),
        };
        if self.json {
            let items: Vec<_> = o
                .done
                .iter()
                .map(|d| {
                    json!({
                        "version": d.version,
                        "name": d.id.split_once('_').map_or("", |(_, n)| n),
                        "statements": d.statements,
                        "resumed_at_statement": d.resumed_at,
                        "duration_ms": ms(d.duration),
                    })
                })
                .collect();
            let mut doc = json!({ key: items });
            if o.kind == RunKind::Apply && !o.done.is_empty() {
                doc["batch"] = json!(o.batch);
            }
            self.json(&doc);
            return;
        }
        if o.done.is_empty() {
            self.text(match o.kind {
                RunKind::Apply => "Already up to date: no pending migrations.",
                RunKind::Revert => "Nothing to roll back.",
            });
            return;
        }
        let n = o.done.len();
        let s = if n == 1 { "" } else { "s" };
        let mut out = match o.kind {
            RunKind::Apply => format!("{verb} {n} migration{s} (batch {}):\n", o.batch),
            RunKind::Revert => format!("{verb} {n} migration{s}:\n"),
        };
        let width = o.done.iter().map(|d| d.id.len()).max().unwrap_or(0);
        for d in o.done {
            let resumed = d
                .resumed_at
                .map(|k| format!(", resumed at statement {k}"))
                .unwrap_or_default();
            out.push_str(&format!(
                "  {:width$}  {} ms{resumed}\n",
                d.id,
                ms(d.duration)
            ));
        }
        self.text(&out);
    }

    /// `--dry-run`: the plan and every statement that would run.
    pub fn dry_run(&self, kind: RunKind, plan: &Plan, steps: &[Prepared]) {
        if self.json {
            let items: Vec<_> = steps
                .iter()
                .map(|p| {
                    json!({
                        "version": p.step.file().version.to_string(),
                        "name": p.step.file().name,
                        "direction": if p.down { "down" } else { "up" },
                        "file": p.path,
                        "atomic": p.atomic(),
                        "start_at_statement": p.start + 1,
                        "statements": p.statements[p.start as usize..].iter().map(|s| json!({
                            "number": s.number, "line": s.line, "sql": s.sql(),
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let mut doc = json!({ "dry_run": true, "steps": items });
            if kind == RunKind::Apply {
                doc["batch"] = json!(plan.batch);
            }
            self.json(&doc);
            return;
        }
        if steps.is_empty() {
            self.text(match kind {
                RunKind::Apply => "Dry run: no pending migrations.",
                RunKind::Revert => "Dry run: nothing to roll back.",
            });
            return;
        }
        let mut out = String::from("Dry run: nothing will be changed.\n");
        if kind == RunKind::Apply {
            out.push_str(&format!("Batch {} would run:\n", plan.batch));
        }
        for p in steps {
            out.push_str(&format!("\n-- {}\n", engine::describe(p)));
            for s in &p.statements[p.start as usize..] {
                out.push_str(&format!(
                    "-- {}:{} statement {}\n{};\n",
                    p.path,
                    s.line,
                    s.number,
                    s.sql()
                ));
            }
        }
        self.text(&out);
    }

    /// migrate:status.
    pub fn status(&self, config: &Config, entries: &[Entry<'_>], holder: Option<&Holder>) {
        let counts = count(entries);
        if self.json {
            let items: Vec<_> = entries.iter().map(entry_json).collect();
            let target = config.connection().ok();
            self.json(&json!({
                "environment": config.environment,
                "database": target.and_then(|c| c.database.clone()),
                "url": target.map(|c| c.to_string()),
                "migrations": items,
                "counts": counts.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
                "lock": holder.map(holder_json),
            }));
            return;
        }
        let c = self.term.stdout_color;
        let mut out = String::new();
        let target = config
            .connection()
            .map(|c| c.to_string())
            .unwrap_or_default();
        out.push_str(&format!("{} · {target}\n", config.environment));
        if entries.is_empty() {
            out.push_str("No migrations.\n");
        } else {
            let mut table = Table::new();
            table.load_style(comfy_table::presets::NOTHING);
            table.set_content_arrangement(ContentArrangement::Disabled);
            table.set_header(["VERSION", "NAME", "BATCH", "APPLIED (UTC)", "STATE"]);
            for e in entries {
                let (batch, at) = match e.row {
                    Some(r) => (
                        r.batch.to_string(),
                        r.applied_at.replace('T', " ").chars().take(19).collect(),
                    ),
                    None => ("-".to_owned(), "-".to_owned()),
                };
                let state = state_text(&e.status);
                let style = match e.status {
                    Status::Applied => GREEN,
                    Status::Pending => YELLOW,
                    Status::OutOfOrder => YELLOW,
                    _ => RED,
                };
                table.add_row([
                    e.version.to_string(),
                    e.name.clone(),
                    batch,
                    at,
                    paint(c, style, &state),
                ]);
            }
            for line in table.lines() {
                out.push_str(line.trim_end());
                out.push('\n');
            }
        }
        let mut summary: Vec<String> = counts
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        if summary.is_empty() {
            summary.push("0 migrations".into());
        }
        summary.push(match holder {
            None => "lock free".into(),
            Some(h) => format!("lock held by {h}"),
        });
        out.push_str(&summary.join(" · "));
        self.text(&out);
    }

    /// migrate:validate.
    pub fn validate(&self, entries: &[Entry<'_>], drift: Option<&Drift>) {
        if self.json {
            let items: Vec<_> = entries.iter().map(entry_json).collect();
            self.json(&json!({
                "valid": drift.is_none(),
                "migrations": items,
                "counts": count(entries).iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            }));
            return;
        }
        if drift.is_none() {
            let applied = entries
                .iter()
                .filter(|e| matches!(e.status, Status::Applied))
                .count();
            self.text(&format!(
                "Valid: {} files, {applied} applied migrations match their files.",
                entries.iter().filter(|e| e.file.is_some()).count()
            ));
        }
    }

    /// migrate:repair.
    pub fn repaired(&self, changes: &[(String, String)]) {
        if self.json {
            let items: Vec<_> = changes
                .iter()
                .map(|(id, what)| json!({"migration": id, "change": what}))
                .collect();
            self.json(&json!({ "repaired": items }));
        } else if changes.is_empty() {
            self.text("Nothing to repair: every applied migration matches its file.");
        } else {
            let mut out = format!("Repaired {} ledger rows:\n", changes.len());
            for (id, what) in changes {
                out.push_str(&format!("  {id}  {what}\n"));
            }
            self.text(&out);
        }
    }

    /// migrate:resolve.
    pub fn resolved(&self, id: &str, applied: bool, what: &str) {
        if self.json {
            self.json(&json!({"resolved": id, "as": if applied { "applied" } else { "rolled_back" }, "note": what}));
        } else {
            self.text(&format!("Resolved {id}: {what}."));
        }
    }

    /// migrate:unlock.
    pub fn lock(&self, name: &str, holder: Option<&Holder>) {
        if self.json {
            self.json(&json!({"lock": name, "holder": holder.map(holder_json)}));
            return;
        }
        match holder {
            None => self.text(&format!(
                "The migration lock `{name}` is free. (It is a server-side lock: the server \
                 frees it when its connection ends, so it never goes stale.)"
            )),
            Some(h) => self.text(&format!(
                "The migration lock `{name}` is held by {h}{}.\n\
                 It is freed when that connection ends; if the process is stuck, end it with \
                 `KILL {}` on the server.",
                h.state
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .map(|s| format!(", state: {s}"))
                    .unwrap_or_default(),
                h.connection_id
            )),
        }
    }
}

fn state_text(s: &Status) -> String {
    match s {
        Status::Modified { ledger, file } => {
            format!(
                "modified (ledger {} ≠ file {})",
                ledger.short(),
                file.short()
            )
        }
        Status::Failed {
            direction,
            done,
            total,
        } => match direction {
            Direction::Up => format!("failed ({done}/{total} statements)"),
            Direction::Down => format!("failed rollback ({done}/{total} down statements)"),
        },
        other => other.name().to_owned(),
    }
}

fn count(entries: &[Entry<'_>]) -> Vec<(&'static str, usize)> {
    let mut counts: Vec<(&'static str, usize)> = [
        "applied",
        "pending",
        "out-of-order",
        "modified",
        "missing",
        "failed",
    ]
    .iter()
    .map(|k| (*k, 0))
    .collect();
    for e in entries {
        if let Some(c) = counts.iter_mut().find(|(k, _)| *k == e.status.name()) {
            c.1 += 1;
        }
    }
    counts
}

fn entry_json(e: &Entry<'_>) -> serde_json::Value {
    let mut v = json!({
        "version": e.version.to_string(),
        "name": e.name,
        "state": e.status.name(),
        "batch": e.row.map(|r| r.batch),
        "applied_at": e.row.map(|r| r.applied_at.clone()),
        "checksum": e.row.map(|r| r.checksum.to_string()).or_else(|| e.file.map(|f| f.checksum.to_string())),
        "file": e.file.map(|f| f.up.display.clone()),
    });
    match &e.status {
        Status::Modified { file, .. } => v["file_checksum"] = json!(file.to_string()),
        Status::Failed {
            direction,
            done,
            total,
        } => {
            v["direction"] = json!(direction.as_str());
            v["statements_done"] = json!(done);
            v["statements_total"] = json!(total);
            v["error"] = json!(e.row.and_then(|r| r.error.clone()));
        }
        _ => {}
    }
    v
}

fn holder_json(h: &Holder) -> serde_json::Value {
    json!({"connection_id": h.connection_id, "user": h.user, "host": h.host, "seconds": h.seconds, "state": h.state})
}

impl Report {
    /// A byte-progress bar for a long seed (terminal only, and only for files worth it).
    pub fn byte_bar(&self, len: u64, what: &str) -> ProgressBar {
        if !self.term.progress || len < 4 << 20 {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{what} {{bar:30}} {{bytes}}/{{total_bytes}} {{msg}} ({{eta}})"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    }

    /// seed:run (and its dry run): what ran, what was skipped and why.
    pub fn seed_plan(
        &self,
        infos: &[SeedInfo],
        decisions: &[Decision],
        dry_run: bool,
        done: &[SeedDone],
    ) {
        let why = |d: &Decision| match d {
            Decision::Run => "runs",
            Decision::SkipOnce => "skipped: runs once and already ran",
            Decision::SkipUnchanged => "skipped: on-change and unchanged",
            Decision::SkipNotChanged => "skipped: unchanged (--changed)",
            Decision::SkipNotNamed => "skipped: not named by --specific",
        };
        if self.json {
            let items: Vec<_> = infos
                .iter()
                .zip(decisions)
                .map(|(i, d)| {
                    let ran = done.iter().find(|x| x.key == i.seed.key);
                    json!({
                        "seed": i.seed.key,
                        "mode": i.mode.as_str(),
                        "decision": why(d),
                        "ran": ran.is_some(),
                        "statements": ran.map(|r| r.statements),
                        "duration_ms": ran.map(|r| ms(r.duration)),
                        "checksum": ran.map(|r| r.checksum.to_string()),
                    })
                })
                .collect();
            self.json(&json!({"dry_run": dry_run, "seeds": items}));
            return;
        }
        let mut out = String::new();
        if dry_run {
            out.push_str("Dry run: nothing will be changed.\n");
        }
        let width = infos.iter().map(|i| i.seed.key.len()).max().unwrap_or(0);
        if infos.is_empty() {
            out.push_str("No seeds.\n");
        }
        let ran = done.len();
        if !dry_run {
            out.push_str(&format!(
                "Ran {ran} seed{}:\n",
                if ran == 1 { "" } else { "s" }
            ));
        }
        for (i, d) in infos.iter().zip(decisions) {
            let line = match done.iter().find(|x| x.key == i.seed.key) {
                Some(r) => format!("{} statements, {} ms", r.statements, ms(r.duration)),
                None if dry_run => format!(
                    "would {} ({})",
                    if *d == Decision::Run { "run" } else { "skip" },
                    i.mode.as_str()
                ),
                None if *d == Decision::Run => "not run (stopped before it)".to_owned(),
                None => why(d).to_owned(),
            };
            out.push_str(&format!("  {:width$}  {line}\n", i.seed.key));
        }
        self.text(&out);
    }

    /// seed:status.
    pub fn seed_status(
        &self,
        config: &Config,
        lines: &[(String, Option<Mode>, SeedState, Option<&SeedRow>)],
    ) {
        if self.json {
            let items: Vec<_> = lines
                .iter()
                .map(|(key, mode, st, row)| {
                    json!({
                        "seed": key,
                        "mode": mode.map(|m| m.as_str()),
                        "state": st.as_str(),
                        "run_count": row.map_or(0, |r| r.run_count),
                        "last_run_at": row.map(|r| r.last_run_at.clone()),
                        "checksum": row.map(|r| r.checksum.to_string()),
                    })
                })
                .collect();
            self.json(&json!({"environment": config.environment, "seeds": items}));
            return;
        }
        let mut out = format!(
            "{} · {}\n",
            config.environment,
            config
                .connection()
                .map(|c| c.to_string())
                .unwrap_or_default()
        );
        if lines.is_empty() {
            out.push_str("No seeds.\n");
            self.text(&out);
            return;
        }
        let mut table = Table::new();
        table.load_style(comfy_table::presets::NOTHING);
        table.set_content_arrangement(ContentArrangement::Disabled);
        table.set_header(["SEED", "MODE", "RUNS", "LAST RUN (UTC)", "STATE"]);
        for (key, mode, st, row) in lines {
            let style = match st {
                SeedState::Unchanged => GREEN,
                SeedState::New | SeedState::Changed => YELLOW,
                SeedState::Missing => RED,
            };
            table.add_row([
                key.clone(),
                mode.map_or("-", |m| m.as_str()).to_owned(),
                row.map_or(0, |r| r.run_count).to_string(),
                row.map_or("-".to_owned(), |r| {
                    r.last_run_at.replace('T', " ").chars().take(19).collect()
                }),
                paint(self.term.stdout_color, style, st.as_str()),
            ]);
        }
        for line in table.lines() {
            out.push_str(line.trim_end());
            out.push('\n');
        }
        self.text(&out);
    }
}

impl Report {
    /// db:create / db:drop.
    pub fn database(&self, verb: &str, name: &str, changed: bool) {
        if self.json {
            self.json(&json!({"database": name, verb: changed}));
        } else if changed {
            let v = if verb == "created" {
                "Created"
            } else {
                "Dropped"
            };
            self.text(&format!("{v} database `{name}`."));
        } else if verb == "created" {
            self.text(&format!("Database `{name}` already exists."));
        } else {
            self.text(&format!("Database `{name}` does not exist."));
        }
    }

    /// db:wait.
    pub fn waited(&self, target: &str, took: std::time::Duration) {
        if self.json {
            self.json(&json!({"ready": true, "url": target, "waited_ms": ms(took)}));
        } else {
            self.text(&format!(
                "{target} answered after {:.1} s.",
                took.as_secs_f64()
            ));
        }
    }
}
