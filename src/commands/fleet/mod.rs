//! Fleet runs: `migrate:latest`, `migrate:rollback`, `migrate:status`, `seed:run` and
//! `migrate:drift` against every target of an environment (`--all-targets`, `--target NAME`,
//! `--targets-file PATH`). Each target's own ledger and lock are its state, so running the
//! same command again resumes a partial fleet run and applies nothing twice.

mod outcome;
mod run;
mod targets;

use std::ffi::OsString;

use crate::cli::{FleetArgs, OnError};
use crate::commands::Context;
use crate::commands::session::block_on;
use crate::error::Result;
use crate::report::plural;
use outcome::Row;
pub(crate) use run::Spawner;
use run::{Limits, Waves};
use targets::Target;

/// The commands a fleet runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Job {
    Latest,
    Rollback,
    Status,
    Seed,
    Drift,
}

impl Job {
    /// The job of a command that can run as a fleet.
    pub(crate) fn of(command: &str) -> Option<Job> {
        Some(match command {
            "migrate:latest" => Job::Latest,
            "migrate:rollback" => Job::Rollback,
            "migrate:status" => Job::Status,
            "seed:run" => Job::Seed,
            "migrate:drift" => Job::Drift,
            _ => return None,
        })
    }

    /// What a row's count counts.
    fn counted(self) -> &'static str {
        match self {
            Job::Latest => "applied",
            Job::Rollback => "rolled back",
            Job::Status => "pending",
            Job::Seed => "seeds run",
            Job::Drift => "changes",
        }
    }

    /// Whether a failed target stops the run (`--on-error`): reading commands read them all.
    fn writes(self) -> bool {
        matches!(self, Job::Latest | Job::Rollback | Job::Seed)
    }
}

/// Runs `job` on the chosen targets; the exit code is 0 only if every target succeeded.
pub(crate) fn run(ctx: &Context, job: Job, fleet: &FleetArgs, spawner: &Spawner) -> Result<u8> {
    let env = crate::config::Env::from_process(&ctx.cwd)?;
    let all = block_on(targets::resolve(
        &ctx.config,
        fleet.targets_file.as_deref(),
        &env,
    ))?;
    let at = match (&fleet.targets_file, &ctx.config.targets) {
        (Some(p), _) => p.display().to_string(),
        (None, Some(t)) => t.at.clone(),
        (None, None) => String::new(),
    };
    let chosen = targets::choose(all, &fleet.target, &at)?;
    let waves = waves(&chosen, fleet, &at)?;
    let limits = Limits {
        parallel: fleet.parallel as usize,
        per_server: fleet.per_server.unwrap_or(fleet.parallel) as usize,
        failures: match (job.writes(), fleet.max_failures, fleet.on_error) {
            (false, _, _) | (true, None, OnError::Continue) => usize::MAX,
            (true, Some(n), _) => n as usize,
            (true, None, OnError::Stop) => 1,
        },
    };
    tracing::info!(
        "{}: {} of environment {} ({} at once{})",
        job_name(job),
        plural(chosen.len(), "target", "targets"),
        ctx.config.environment,
        limits.parallel.min(chosen.len().max(1)),
        fleet
            .per_server
            .map(|m| format!(", {m} per server"))
            .unwrap_or_default()
    );
    let width = chosen.iter().map(|t| t.name.len()).max().unwrap_or(0);
    let bar = ctx.report.progress_bar(chosen.len() as u64, "targets");
    // Each target's row, made once as it finishes (printed then, and in the matrix).
    let mut done: Vec<Option<Row>> = vec![None; chosen.len()];
    let ran = block_on(async {
        Ok(run::run(&chosen, &waves, limits, spawner, |i, f| {
            let row = Row::of(job, &chosen[i].name, f);
            bar.suspend(|| print_row(ctx, job, &row, width));
            bar.inc(1);
            let failed = row.failed();
            done[i] = Some(row);
            failed
        })
        .await)
    })?;
    bar.finish_and_clear();
    // A target whose child could not be started has an end but no row yet.
    let rows: Vec<Row> = chosen
        .iter()
        .zip(&ran.finished)
        .zip(done)
        .map(|((t, f), row)| match (row, f) {
            (Some(row), _) => row,
            (None, Some(f)) => Row::of(job, &t.name, f),
            (None, None) => Row::not_run(&t.name),
        })
        .collect();
    summary(ctx, job, &rows);
    Ok(exit_code(&rows, ran.signal))
}

fn job_name(job: Job) -> &'static str {
    match job {
        Job::Latest => "migrate:latest",
        Job::Rollback => "migrate:rollback",
        Job::Status => "migrate:status",
        Job::Seed => "seed:run",
        Job::Drift => "migrate:drift",
    }
}

/// The canaries (`--canary N` or names) first, then the rest in waves of `--wave N`.
fn waves(targets: &[Target], fleet: &FleetArgs, at: &str) -> Result<Waves> {
    let mut canaries: Vec<usize> = Vec::new();
    if let Some(c) = fleet.canary.as_deref() {
        match c.trim().parse::<usize>() {
            Ok(n) => canaries.extend(0..n.min(targets.len())),
            Err(_) => {
                for name in c.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    let i = targets::find(targets, name, at)?;
                    if !canaries.contains(&i) {
                        canaries.push(i);
                    }
                }
            }
        }
    }
    let rest: Vec<usize> = (0..targets.len())
        .filter(|i| !canaries.contains(i))
        .collect();
    let size = fleet.wave.map_or(rest.len().max(1), |n| n as usize);
    let canary = !canaries.is_empty();
    let mut waves: Vec<Vec<usize>> = Vec::new();
    if canary {
        waves.push(canaries);
    }
    waves.extend(rest.chunks(size).map(<[usize]>::to_vec));
    Ok(Waves { waves, canary })
}

/// A target's line as it finishes: text, or one JSON line with `--json`.
fn print_row(ctx: &Context, job: Job, row: &Row, width: usize) {
    if ctx.report.json {
        ctx.report.json_line(&row.json(job));
    } else if job != Job::Status || row.needs_a_look() {
        // Status prints only the targets that need a look; the histogram has the rest.
        ctx.report.line(&row.line(job, width));
    }
}

/// The final matrix (and the histogram for status), or its JSON line.
fn summary(ctx: &Context, job: Job, rows: &[Row]) {
    let count = |r: &str| rows.iter().filter(|x| x.result == r).count();
    let ok = count("ok");
    let not_run = count("not run");
    let failed = rows.len() - ok - not_run;
    if ctx.report.json {
        let mut m = serde_json::Map::new();
        m.insert("targets".into(), rows.iter().map(|r| r.json(job)).collect());
        m.insert("succeeded".into(), ok.into());
        m.insert("failed".into(), failed.into());
        m.insert("not_run".into(), not_run.into());
        if job == Job::Status {
            m.insert("histogram".into(), outcome::histogram(rows).into());
        }
        let mut top = serde_json::Map::new();
        top.insert("fleet".into(), serde_json::Value::Object(m));
        ctx.report.json_line(&serde_json::Value::Object(top));
        return;
    }
    let mut text = String::new();
    if job == Job::Status {
        text.push_str(&format!(
            "{} targets: {}\n",
            rows.len(),
            outcome::histogram(rows)
        ));
    } else {
        text.push_str(&matrix(job, rows));
        text.push_str(&format!(
            "{}: {ok} succeeded, {failed} failed, {not_run} not run\n",
            plural(rows.len(), "target", "targets")
        ));
    }
    for r in rows.iter().filter(|r| r.error.is_some()) {
        let e = r
            .error
            .as_deref()
            .unwrap_or_default()
            .replace('\n', "\n    ");
        text.push_str(&format!("\n{}: {e}\n", r.target));
    }
    ctx.report.line(text.trim_end());
}

fn matrix(job: Job, rows: &[Row]) -> String {
    use comfy_table::{ContentArrangement, Table};
    let mut table = Table::new();
    table.load_style(comfy_table::presets::NOTHING);
    table.set_content_arrangement(ContentArrangement::Disabled);
    let versions = matches!(job, Job::Latest | Job::Rollback);
    let mut header = vec!["TARGET", "RESULT"];
    if versions {
        header.push("VERSION");
    }
    let counted = job.counted().to_uppercase();
    header.extend([counted.as_str(), "TIME", "ERROR"]);
    table.set_header(header);
    for r in rows {
        let mut cells = vec![r.target.clone(), r.result.to_owned()];
        if versions {
            cells.push(r.versions(job).unwrap_or_else(|| "-".into()));
        }
        cells.push(r.count.map_or("-".into(), |n| n.to_string()));
        cells.push(r.ms.map_or("-".into(), |ms| format!("{:.2} s", ms as f64 / 1000.0)));
        let e = r
            .error
            .as_deref()
            .and_then(|e| e.lines().next())
            .unwrap_or("");
        cells.push(e.chars().take(100).collect());
        table.add_row(cells);
    }
    let mut s = table.to_string();
    s.push('\n');
    s
}

/// 0 only if every target succeeded; else the most serious code a target gave (a signal that
/// stopped the run first, then errors, usage, locks, drift, pending).
fn exit_code(rows: &[Row], signal: Option<i32>) -> u8 {
    if let Some(s) = signal {
        return 128 + s as u8;
    }
    const ORDER: [u8; 7] = [130, 143, 1, 2, 4, 3, 5];
    let codes: Vec<u8> = rows
        .iter()
        .filter_map(|r| r.code)
        .filter(|c| *c != 0)
        .collect();
    if let Some(c) = ORDER.iter().find(|c| codes.contains(c)) {
        return *c;
    }
    match codes.first() {
        Some(c) => *c,
        None if rows.iter().any(|r| r.code.is_none()) => 1,
        None => 0,
    }
}

/// The arguments of a child: the globals a user gave that shape the run, the command's own,
/// and `--json -q --no-color` (its document is read here).
pub(crate) fn child_args(
    ctx: &Context,
    globals: &crate::cli::Global,
    command: Vec<OsString>,
) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec!["--env".into(), ctx.config.environment.clone().into()];
    if let Some(k) = &ctx.config.knexfile {
        a.extend(["--knexfile".into(), k.clone().into_os_string()]);
    }
    a.extend([
        "--migrations-dir".into(),
        ctx.config.migrations_dir.clone().into_os_string(),
    ]);
    a.extend([
        "--seeds-dir".into(),
        ctx.config.seeds_dir.clone().into_os_string(),
    ]);
    if globals.yes {
        a.push("--yes".into());
    }
    if globals.wait {
        a.extend([
            "--wait".into(),
            "--wait-timeout".into(),
            globals.wait_timeout.to_string().into(),
        ]);
    }
    a.extend(["--json".into(), "-q".into(), "--no-color".into()]);
    a.extend(command);
    a
}
