//! dbtool: a migration runner for MySQL and MariaDB.
//!
//! The binary is a thin shell around [`run`]; everything else is a library so it can be embedded
//! and tested: `config` resolves settings, `files` and `sql` read the project, `commands` carry
//! out what the user asked, `report` prints the outcome, and `error` decides the exit code.

pub mod cli;
pub mod commands;
pub mod config;
pub mod db;
pub mod engine;
pub mod error;
pub mod files;
pub mod output;
pub mod plan;
pub mod report;
pub mod seeds;
pub mod sql;

use cli::{Cli, Command};
use commands::Context;
pub use error::{Error, Result};
use output::Terminal;
use report::Report;

/// Runs a parsed command line; returns the process exit code (SPEC §9).
pub fn run(cli: Cli) -> u8 {
    let g = &cli.global;
    let term = Terminal::detect(g.no_color, g.quiet, g.verbose);
    output::init_logging(&term, std::env::var("RUST_LOG").ok().as_deref());
    match dispatch(&cli, term) {
        Ok(code) => code,
        Err(e) => {
            let label = output::paint(term.stderr_color, output::BOLD_RED, "error:");
            eprintln!("{label} {e}");
            if g.json {
                // A JSON consumer still gets one document on stdout.
                Report::new(term, true).json(&serde_json::json!({
                    "error": { "message": e.to_string(), "exit_code": e.exit_code() }
                }));
            }
            e.exit_code()
        }
    }
}

fn dispatch(cli: &Cli, term: Terminal) -> Result<u8> {
    let g = &cli.global;
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let env = config::Env::from_process(&cwd)?;
    let overrides = config::Overrides {
        knexfile: g.knexfile.clone(),
        env: g.env.clone(),
        url: g.url.clone(),
    };
    let config = config::load(&overrides, &env, &cwd)?;
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let ctx = Context {
        config,
        paths: files::Paths { cwd: cwd.clone() },
        cwd,
        report: Report::new(term, g.json),
        yes: g.yes,
    };
    use commands::{migrate, scaffold};
    match &cli.command {
        Command::Init => scaffold::init(&ctx).map(|()| 0),
        Command::MigrateMake { name } => scaffold::migrate_make(&ctx, name).map(|()| 0),
        Command::SeedMake { name } => scaffold::seed_make(&ctx, name).map(|()| 0),
        Command::MigrateLatest { to, dry_run } => {
            migrate::migrate(&ctx, migrate::latest_request(to.as_deref())?, *dry_run)
        }
        Command::MigrateUp { target, dry_run } => {
            migrate::migrate(&ctx, migrate::up_request(target.as_deref())?, *dry_run)
        }
        Command::MigrateDown { target, dry_run } => {
            migrate::migrate(&ctx, migrate::down_request(target.as_deref())?, *dry_run)
        }
        Command::MigrateRollback {
            all,
            step,
            to,
            dry_run,
        } => migrate::migrate(
            &ctx,
            migrate::rollback_request(*all, *step, to.as_deref())?,
            *dry_run,
        ),
        Command::MigrateStatus { exit_code } => migrate::status(&ctx, *exit_code),
        Command::MigrateValidate => migrate::validate(&ctx),
        Command::MigrateRepair => migrate::repair(&ctx),
        Command::MigrateResolve {
            target,
            applied,
            rolled_back: _,
        } => migrate::resolve(&ctx, target, *applied),
        Command::MigrateUnlock => migrate::unlock(&ctx),
        Command::SeedRun {
            specific,
            changed,
            dry_run,
        } => commands::seed::run(&ctx, specific, *changed, *dry_run),
        Command::SeedStatus => commands::seed::status(&ctx),
        Command::DbCreate => commands::database::create(&ctx),
        Command::DbDrop => commands::database::drop(&ctx),
        Command::DbWait { timeout } => {
            commands::database::wait(&ctx, std::time::Duration::from_secs(*timeout))
        }
    }
}
