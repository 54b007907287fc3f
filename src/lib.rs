//! dbtool: a migration runner for MySQL and MariaDB.
//!
//! The binary is a thin shell around [`run`]. The public API is deliberately small: the
//! command line ([`cli`]) and [`run`], the project's files ([`files`]: discovery, checksums),
//! the SQL splitter ([`sql`]) and configuration ([`config`]).
//!
//! Inside, each module has one job: `plan` decides (pure), `runner` carries a plan out over one
//! connection, `db` talks to the server (its `ledger` module owns every ledger read and write),
//! `rows` is the ledger's data shared by `plan` and `db`, `commands` glue them per command,
//! `report` prints results and `output` sets up stderr.

pub(crate) mod alembic;
mod child;
pub mod cli;
pub(crate) mod commands;
pub mod config;
pub(crate) mod db;
pub mod embed;
pub(crate) mod error;
pub mod files;
mod library;
pub(crate) mod lint;
pub(crate) mod output;
pub(crate) mod plan;
pub(crate) mod report;
pub(crate) mod rows;
pub(crate) mod runner;
pub mod sql;

pub use library::{Migrator, MigratorError};

use cli::{Cli, Command};
use commands::Context;
pub(crate) use error::{Error, Result};
use output::Terminal;
use report::Report;

/// Starts the start-up work that can run beside the main thread (before the command line is
/// parsed; see `db::warm`).
pub fn warm_up() {
    db::warm::warm_up();
}

/// What `dbtool --version` prints, when it is the whole command line (answered before the
/// command line's full definition is built: `--version` is what scripts call most).
pub fn version_only(args: &[std::ffi::OsString]) -> Option<String> {
    match args {
        [_, flag] if flag == "--version" || flag == "-V" => {
            Some(format!("dbtool {}\n", env!("CARGO_PKG_VERSION")))
        }
        _ => None,
    }
}

/// Runs a parsed command line; returns the process exit code (SPEC §9).
pub fn run(cli: Cli) -> u8 {
    let g = &cli.global;
    let term = Terminal::detect(g.no_color, g.quiet, g.verbose);
    output::init_logging(&term, std::env::var("RUST_LOG").ok().as_deref());
    let report = Report::new(term, g.json);
    match dispatch(&cli, report.clone()) {
        Ok(code) => code,
        Err(e) => {
            let label = output::paint(term.stderr_color, output::BOLD_RED, "error:");
            eprintln!("{label} {e}");
            if g.json {
                // A JSON consumer still gets one document on stdout.
                report.error_json(e.to_string(), e.exit_code());
            }
            e.exit_code()
        }
    }
}

fn dispatch(cli: &Cli, report: Report) -> Result<u8> {
    let g = &cli.global;
    if let Some(dir) = &g.cwd {
        std::env::set_current_dir(dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
    }
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    // Commands that need no configuration.
    match &cli.command {
        Command::Init => return commands::scaffold::init(&report, &cwd, g.knexfile.as_deref()),
        Command::Completions { shell } => return Ok(cli::completions(*shell)),
        Command::Man { dir } => return Ok(cli::man(dir.as_deref())),
        _ => {}
    }
    let env = config::Env::from_process(&cwd)?;
    let overrides = config::Overrides {
        knexfile: g.knexfile.clone(),
        env: g.env.clone(),
        url: g.url.clone(),
        migrations_dir: g.migrations_dir.clone(),
        seeds_dir: g.seeds_dir.clone(),
        wait: g
            .wait
            .then(|| std::time::Duration::from_secs(g.wait_timeout)),
    };
    let config = config::load(&overrides, &env, &cwd)?;
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let ctx = Context {
        config,
        paths: files::Paths { cwd: cwd.clone() },
        cwd,
        report,
        yes: g.yes,
    };
    if let Some((fleet, args)) = cli.command.fleet() {
        if fleet.is_fleet() {
            return run_fleet(cli, &ctx, fleet, args);
        }
        if let Some(flag) = fleet.stray() {
            return Err(error::UsageError::FleetFlag(flag).into());
        }
    }
    run_command(&cli.command, &ctx)
}

/// A command run against the targets of a fleet, each by a child process of this binary.
fn run_fleet(cli: &Cli, ctx: &Context, fleet: &cli::FleetArgs, args: Vec<String>) -> Result<u8> {
    let job = commands::fleet::Job::of(&args[0]).expect("Command::fleet names fleet commands");
    let dry_run = args.iter().any(|a| a == "--dry-run");
    if job == commands::fleet::Job::Rollback && !dry_run {
        // Once here, not once per target.
        commands::session::guard(ctx, "migrate:rollback")?;
    }
    let exe = std::env::current_exe().map_err(|e| Error::io("this program's path", e))?;
    let spawner = commands::fleet::Spawner {
        exe,
        args: commands::fleet::child_args(
            ctx,
            &cli.global,
            args.into_iter().map(Into::into).collect(),
        ),
        // `--url` reaches the children as DATABASE_URL: their base connection is the same,
        // and a password in it stays out of their command lines.
        env: cli
            .global
            .url
            .iter()
            .map(|u| ("DATABASE_URL".into(), u.into()))
            .collect(),
    };
    commands::fleet::run(ctx, job, fleet, &spawner)
}

/// Runs one command that needs the configuration.
fn run_command(command: &Command, ctx: &Context) -> Result<u8> {
    use commands::{inspect, repair, scaffold};
    match command {
        Command::Init | Command::Completions { .. } | Command::Man { .. } => {
            unreachable!("answered above")
        }
        Command::MigrateCurrentVersion => inspect::current_version(ctx),
        Command::MigrateMake { name } => scaffold::migrate_make(ctx, name).map(|()| 0),
        Command::SeedMake { name } => scaffold::seed_make(ctx, name).map(|()| 0),
        Command::MigrateLatest { .. }
        | Command::MigrateUp { .. }
        | Command::MigrateDown { .. }
        | Command::MigrateRollback { .. } => run_migrate(command, ctx),
        Command::MigrateStatus {
            exit_code, drift, ..
        } => inspect::status(ctx, *exit_code, *drift),
        Command::MigrateValidate => inspect::validate(ctx),
        Command::Lint => commands::lint::lint(ctx),
        Command::MigrateDrift { .. } => commands::schema::drift(ctx),
        Command::SchemaDump { output } => commands::schema::dump(ctx, output.as_deref()),
        Command::SchemaLoad { input } => commands::schema::load(ctx, input.as_deref()),
        Command::MigrateImport {
            from,
            table,
            dry_run,
            mapping,
            write_mapping,
            alembic_dir,
        } => commands::import::import(
            ctx,
            &commands::import::Request {
                from: *from,
                table: table.as_deref(),
                dry_run: *dry_run,
                mapping: mapping.as_deref(),
                write_mapping: *write_mapping,
                alembic_dir: alembic_dir.as_deref(),
            },
        ),
        Command::MigrateBaseline { to, check, dry_run } => {
            commands::baseline::baseline(ctx, to, *check, *dry_run)
        }
        Command::MigrateRepair { dry_run } => repair::repair(ctx, *dry_run),
        Command::MigrateResolve {
            target,
            applied,
            rolled_back: _,
        } => repair::resolve(ctx, target, *applied),
        Command::MigrateUnlock => inspect::unlock(ctx),
        Command::SeedRun {
            specific,
            changed,
            dry_run,
            ..
        } => commands::seed::run(ctx, specific, *changed, *dry_run),
        Command::SeedStatus => commands::seed::status(ctx),
        Command::DbCreate => commands::database::create(ctx),
        Command::DbDrop => commands::database::drop(ctx),
        Command::DbWait { timeout } => {
            commands::database::wait(ctx, std::time::Duration::from_secs(*timeout))
        }
    }
}

/// migrate:latest, migrate:up, migrate:down, migrate:rollback.
fn run_migrate(command: &Command, ctx: &Context) -> Result<u8> {
    use commands::migrate;
    match command {
        Command::MigrateLatest {
            to,
            dry_run,
            explain,
            ..
        } => migrate::migrate_explained(
            ctx,
            migrate::latest_request(to.as_deref())?,
            *dry_run,
            *explain,
        ),
        Command::MigrateUp {
            target,
            dry_run,
            explain,
        } => migrate::migrate_explained(
            ctx,
            migrate::up_request(target.as_deref())?,
            *dry_run,
            *explain,
        ),
        Command::MigrateDown { target, dry_run } => {
            migrate::migrate(ctx, migrate::down_request(target.as_deref())?, *dry_run)
        }
        Command::MigrateRollback {
            all,
            step,
            to,
            dry_run,
            ..
        } => migrate::migrate(
            ctx,
            migrate::rollback_request(*all, *step, to.as_deref())?,
            *dry_run,
        ),
        _ => unreachable!("run_command sends only the migrate commands here"),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_short_version_path_prints_what_clap_would() {
        let args = |a: &[&str]| -> Vec<std::ffi::OsString> { a.iter().map(Into::into).collect() };
        let clap = super::cli::Cli::command().render_version();
        for flag in ["--version", "-V"] {
            assert_eq!(
                super::version_only(&args(&["dbtool", flag])),
                Some(clap.clone())
            );
        }
        assert_eq!(
            super::version_only(&args(&["dbtool", "--version", "x"])),
            None
        );
        assert_eq!(
            super::version_only(&args(&["dbtool", "migrate:status"])),
            None
        );
    }
}
