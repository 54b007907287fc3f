//! The command line, as clap derive types. No I/O here: `lib.rs` turns these into a config and
//! a command. Environment variables (DATABASE_URL, DBTOOL_ENV) are read by the config loader,
//! not by clap, so `--help` never shows their values.

// The doc comments here are clap's help text, where `<name>` is a placeholder, not HTML.
#![allow(rustdoc::invalid_html_tags)]

use std::path::PathBuf;

use clap::{Args, Parser};

mod command;
mod fleet;
pub use command::Command;
pub use fleet::{DEFAULT_PARALLEL, FleetArgs, OnError};

const ABOUT: &str = "Fast, safe MySQL/MariaDB migrations and seeds from plain SQL files";

const LONG_ABOUT: &str = "\
dbtool applies plain SQL migrations (db/migrations/<version>_<name>.up.sql and .down.sql) and
runs rerunnable seed scripts (db/seeds/*.sql) against MySQL 8 or MariaDB 10.6+. Every run is
recorded in a ledger table with SHA-256 checksums, so drift between files and database is
caught, and a failed migration can be resumed where it stopped.

The connection comes from --url, then DATABASE_URL, then knexfile.toml's environment
(--env NAME, DBTOOL_ENV, NODE_ENV, or `development`).";

const EXAMPLES: &str = "\
Examples:
  dbtool init                          # knexfile.toml, db/migrations, db/seeds
  dbtool migrate:make \"Create accounts\"
  dbtool migrate:latest                # apply every pending migration
  dbtool migrate:status
  dbtool seed:run
  DATABASE_URL=mysql://root@127.0.0.1:3306/app dbtool migrate:latest

Exit codes: 0 ok · 1 a statement or connection failed · 2 usage, config or file error ·
3 drift or a failed migration blocks the way (also migrate:validate, and migrate:status
--exit-code over a failed, modified or missing migration) · 4 lock not obtained in time ·
5 pending migrations (migrate:status --exit-code) · 130/143 stopped by SIGINT/SIGTERM";

#[derive(Debug, Parser)]
#[command(
    name = "dbtool",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXAMPLES,
    propagate_version = true,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Path of the knexfile [default: knexfile.toml here or in the nearest folder above]
    #[arg(long, global = true, value_name = "PATH")]
    pub knexfile: Option<PathBuf>,
    /// Environment (section of the knexfile) [default: $DBTOOL_ENV, else $NODE_ENV, else development]
    #[arg(long = "env", global = true, value_name = "NAME")]
    pub env: Option<String>,
    /// Database URL, overriding DATABASE_URL and the knexfile
    /// (mysql://user:password@host:port/database)
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,
    /// Show more: -v each statement with its line and time, -vv everything
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Show only warnings and errors; no progress
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print results as one JSON document on stdout
    #[arg(long, global = true)]
    pub json: bool,
    /// Never colour the output (NO_COLOR does the same)
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Answer yes: needed for destructive commands in a protected environment
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,
    /// Run as if started in DIR (the knexfile is searched for from there)
    #[arg(long, global = true, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Migrations folder, overriding the knexfile [env: DBTOOL_MIGRATIONS_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    pub migrations_dir: Option<PathBuf>,
    /// Seeds folder, overriding the knexfile [env: DBTOOL_SEEDS_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    pub seeds_dir: Option<PathBuf>,
    /// Wait for the server to answer before giving up (a server that is starting)
    #[arg(long, global = true)]
    pub wait: bool,
    /// How long --wait waits, in seconds
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 60)]
    pub wait_timeout: u64,
}

mod usage;
pub use usage::{completions, man, usage_error};

/// The tools `migrate:import` reads the ledgers of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFrom {
    Knex,
    Flyway,
    #[value(name = "golang-migrate")]
    GolangMigrate,
    Dbmate,
    Sqlx,
    Alembic,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
