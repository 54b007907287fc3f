//! The flags of a fleet run: the commands that can run against every target of an environment
//! (`migrate:latest`, `migrate:rollback`, `migrate:status`, `seed:run`, `migrate:drift`) take
//! them.

use std::path::PathBuf;

use clap::Args;

/// Which targets a fleet run reaches, and how it schedules them.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Fleet (many databases in one run)")]
pub struct FleetArgs {
    /// Run against every target of the environment (its targets, targets_file or
    /// targets_query in knexfile.toml)
    #[arg(long)]
    pub all_targets: bool,
    /// Run against this target only: its database name (repeatable)
    #[arg(long = "target", value_name = "NAME")]
    pub target: Vec<String>,
    /// The targets: a file of database URLs or database names, one per line (`#` comments);
    /// replaces the environment's own
    #[arg(long, value_name = "PATH")]
    pub targets_file: Option<PathBuf>,
    /// How many targets run at once
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PARALLEL, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub parallel: u32,
    /// How many targets on one server run at once [default: --parallel]
    #[arg(long, value_name = "M", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub per_server: Option<u32>,
    /// Run these targets first, alone, and stop if one fails: a count (the first N) or
    /// database names separated by commas
    #[arg(long, value_name = "N|NAMES")]
    pub canary: Option<String>,
    /// After the canaries, run the rest in waves of N targets, each wave started once the last
    /// one finished [default: one wave]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub wave: Option<u32>,
    /// What a failed target does to the run: stop starting targets, or continue with the rest
    #[arg(long, value_enum, value_name = "WHAT", default_value = "stop")]
    pub on_error: OnError,
    /// Stop starting targets once N have failed (implies --on-error continue until then)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_failures: Option<u32>,
}

/// `--parallel` when not given.
pub const DEFAULT_PARALLEL: u32 = 4;

/// `--on-error`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OnError {
    #[default]
    Stop,
    Continue,
}

impl FleetArgs {
    /// Whether the command runs as a fleet run (against targets, not the one connection).
    pub fn is_fleet(&self) -> bool {
        self.all_targets || !self.target.is_empty() || self.targets_file.is_some()
    }

    /// Flags that only a fleet run reads, given without one (a usage error, not ignored).
    pub fn stray(&self) -> Option<&'static str> {
        [
            (self.parallel != DEFAULT_PARALLEL, "--parallel"),
            (self.per_server.is_some(), "--per-server"),
            (self.canary.is_some(), "--canary"),
            (self.wave.is_some(), "--wave"),
            (self.on_error != OnError::Stop, "--on-error"),
            (self.max_failures.is_some(), "--max-failures"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
    }
}

impl super::Command {
    /// A command that can run as a fleet: its fleet flags, and its own arguments as a child
    /// process is given them (the command's name first).
    pub fn fleet(&self) -> Option<(&FleetArgs, Vec<String>)> {
        use super::Command as C;
        let flag = |on: bool, f: &str| on.then(|| f.to_owned());
        let value = |v: &Option<String>, f: &str| {
            v.iter()
                .flat_map(|v| [f.to_owned(), v.clone()])
                .collect::<Vec<_>>()
        };
        let (fleet, mut args): (&FleetArgs, Vec<String>) = match self {
            C::MigrateLatest {
                to,
                dry_run,
                explain,
                fleet,
            } => {
                let mut a = value(to, "--to");
                a.extend(flag(*dry_run, "--dry-run"));
                a.extend(flag(*explain, "--explain"));
                (fleet, a)
            }
            C::MigrateRollback {
                all,
                step,
                to,
                dry_run,
                fleet,
            } => {
                let mut a = value(to, "--to");
                a.extend(value(&step.map(|n| n.to_string()), "--step"));
                a.extend(flag(*all, "--all"));
                a.extend(flag(*dry_run, "--dry-run"));
                (fleet, a)
            }
            C::MigrateStatus {
                exit_code,
                drift,
                fleet,
            } => {
                let mut a: Vec<String> = flag(*exit_code, "--exit-code").into_iter().collect();
                a.extend(flag(*drift, "--drift"));
                (fleet, a)
            }
            C::SeedRun {
                specific,
                changed,
                dry_run,
                fleet,
            } => {
                let mut a: Vec<String> = specific
                    .iter()
                    .flat_map(|s| ["--specific".to_owned(), s.clone()])
                    .collect();
                a.extend(flag(*changed, "--changed"));
                a.extend(flag(*dry_run, "--dry-run"));
                (fleet, a)
            }
            C::MigrateDrift { fleet } => (fleet, Vec::new()),
            _ => return None,
        };
        args.insert(0, self.name().to_owned());
        Some((fleet, args))
    }
}
