//! The commands and their arguments (clap derive types).

// The doc comments here are clap's help text, where `<name>` is a placeholder, not HTML.
#![allow(rustdoc::invalid_html_tags)]

use std::path::PathBuf;

use clap::Subcommand;

use super::{FleetArgs, ImportFrom};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create knexfile.toml, db/migrations and db/seeds in the current directory
    #[command(after_help = "Example:\n  dbtool init\n\nNothing that exists is overwritten.")]
    Init,

    /// Create a new migration: <timestamp>_<name>.up.sql and .down.sql
    #[command(
        name = "migrate:make",
        after_help = "Example:\n  dbtool migrate:make \"Create accounts\"\n  \
                      # db/migrations/20260101120000_create_accounts.up.sql and .down.sql\n\n\
                      The version is the UTC time (YYYYMMDDHHMMSS), bumped by one if taken."
    )]
    MigrateMake {
        /// What the migration does, e.g. "Create accounts" (written as snake_case)
        name: String,
    },

    /// Apply every pending migration (or up to --to) as one batch
    #[command(
        name = "migrate:latest",
        after_help = "Examples:\n  dbtool migrate:latest\n  dbtool migrate:latest --dry-run\n  \
                      dbtool migrate:latest --to 20260101120000\n\n\
                      Refuses (exit 3) while an applied migration's file was changed or removed\n\
                      (see migrate:validate) or a failed migration cannot be resumed."
    )]
    MigrateLatest {
        /// Apply pending migrations up to and including this version
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
        /// Print the plan and every statement; change nothing
        #[arg(long)]
        dry_run: bool,
        /// With --dry-run: the server's verdict for each ALTER (INSTANT, INPLACE, COPY), found
        /// on empty copies of its tables in a scratch schema, with the live table's size
        #[arg(long, requires = "dry_run")]
        explain: bool,
        #[command(flatten)]
        fleet: FleetArgs,
    },

    /// Apply the next pending migration, or the one given
    #[command(
        name = "migrate:up",
        after_help = "Examples:\n  dbtool migrate:up\n  dbtool migrate:up 20260101120000"
    )]
    MigrateUp {
        /// The pending migration to apply [default: the oldest pending]
        #[arg(value_name = "VERSION")]
        target: Option<String>,
        /// Print the plan and every statement; change nothing
        #[arg(long)]
        dry_run: bool,
        /// With --dry-run: the server's verdict for each ALTER (INSTANT, INPLACE, COPY), found
        /// on empty copies of its tables in a scratch schema, with the live table's size
        #[arg(long, requires = "dry_run")]
        explain: bool,
    },

    /// Undo the last applied migration, or the one given
    #[command(
        name = "migrate:down",
        after_help = "Examples:\n  dbtool migrate:down\n  dbtool migrate:down 20260101120000"
    )]
    MigrateDown {
        /// The applied migration to undo [default: the last one applied]
        #[arg(value_name = "VERSION")]
        target: Option<String>,
        /// Print the plan and every statement; change nothing
        #[arg(long)]
        dry_run: bool,
    },

    /// Undo the last batch (or all, the last N, or down to a version), newest first
    #[command(
        name = "migrate:rollback",
        after_help = "Examples:\n  dbtool migrate:rollback            # the last batch\n  \
                      dbtool migrate:rollback --step 2   # the last two migrations\n  \
                      dbtool migrate:rollback --to 20260101120000  # everything after it\n  \
                      dbtool migrate:rollback --all --dry-run\n\n\
                      A migration without a .down.sql file cannot be rolled back: the whole\n\
                      rollback is refused before anything runs."
    )]
    MigrateRollback {
        /// Undo every applied migration
        #[arg(long, conflicts_with_all = ["step", "to"])]
        all: bool,
        /// Undo the last N applied migrations
        #[arg(long, value_name = "N", conflicts_with = "to")]
        step: Option<u32>,
        /// Undo every migration after VERSION (VERSION itself stays)
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
        /// Print the plan and every statement; change nothing
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        fleet: FleetArgs,
    },

    /// Show every migration: version, name, batch, when applied, state
    #[command(
        name = "migrate:status",
        visible_alias = "migrate:list",
        after_help = "Examples:\n  dbtool migrate:status\n  dbtool migrate:status --json\n  \
                      dbtool migrate:status --exit-code || echo \"pending migrations\"\n\n\
                      States: applied, pending, modified (file changed since applied), missing\n\
                      (no file), failed (part-way), out-of-order (pending, older than the newest\n\
                      applied)."
    )]
    MigrateStatus {
        /// Exit with 5 when migrations are pending
        #[arg(long)]
        exit_code: bool,
        /// Also compare the live schema with the last run's snapshot (migrate:drift's check,
        /// as one line)
        #[arg(long)]
        drift: bool,
        #[command(flatten)]
        fleet: FleetArgs,
    },

    /// Check applied migrations against their files; exit 3 on drift
    #[command(
        name = "migrate:validate",
        after_help = "Examples:\n  dbtool migrate:validate\n  dbtool migrate:validate --json"
    )]
    MigrateValidate,

    /// Record every migration up to a version as applied without running it (adopting an
    /// existing database)
    #[command(
        name = "migrate:baseline",
        after_help = "Examples:\n  \
                      dbtool migrate:baseline --to 20240101000000 --check --dry-run\n  \
                      dbtool migrate:baseline --to 20240101000000 --check"
    )]
    MigrateBaseline {
        /// The version up to which (inclusive) migrations are recorded
        #[arg(long, value_name = "VERSION")]
        to: String,
        /// First check that the tables, views, routines, triggers and events those files
        /// create are in the database; record nothing if one is missing (exit 3)
        #[arg(long)]
        check: bool,
        /// Show what would be recorded, and record nothing
        #[arg(long)]
        dry_run: bool,
    },

    /// Record as applied the migrations another tool's ledger says it applied (its table is
    /// only read)
    #[command(
        name = "migrate:import",
        after_help = "Examples:\n  \
                      dbtool migrate:import --from flyway --dry-run\n  \
                      dbtool migrate:import --from knex --table knex_migrations\n  \
                      dbtool migrate:import --from alembic --write-mapping   # then review it\n  \
                      dbtool migrate:import --from alembic --dry-run"
    )]
    MigrateImport {
        /// The tool whose ledger to read
        #[arg(long, value_enum)]
        from: ImportFrom,
        /// Its ledger table, when not the tool's default (knex_migrations,
        /// flyway_schema_history, schema_migrations, _sqlx_migrations, alembic_version)
        #[arg(long, value_name = "NAME")]
        table: Option<String>,
        /// Show what would be recorded (or, with --write-mapping, written), and change nothing
        #[arg(long)]
        dry_run: bool,
        /// Alembic: the file saying which dbtool migration each revision is [default:
        /// alembic-map.toml beside the migrations folder]
        #[arg(long, value_name = "FILE")]
        mapping: Option<PathBuf>,
        /// Alembic: write a starting point for the mapping (the revision chain paired in order
        /// with dbtool's migrations) to review; connects to no database
        #[arg(long, conflicts_with = "table")]
        write_mapping: bool,
        /// Alembic: the folder of its revision scripts, which --write-mapping pairs and the
        /// import checks the mapping's order against [default: alembic/versions]
        #[arg(long, value_name = "DIR")]
        alembic_dir: Option<PathBuf>,
    },

    /// Compare the live schema with the snapshot of the last run that changed it; exit 3 on
    /// drift (an index dropped, a column altered by hand)
    #[command(
        name = "migrate:drift",
        after_help = "Examples:\n  dbtool migrate:drift\n  dbtool migrate:drift --json"
    )]
    MigrateDrift {
        #[command(flatten)]
        fleet: FleetArgs,
    },

    /// Write the database's schema (and dbtool's migrations ledger rows) to a deterministic SQL
    /// file, read from the server (no mysqldump needed)
    #[command(
        name = "schema:dump",
        after_help = "Examples:\n  dbtool schema:dump                    # db/schema.sql\n  \
                      dbtool schema:dump --output schema.sql"
    )]
    SchemaDump {
        /// The file to write [default: schema.sql beside the migrations folder]
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },

    /// Create a schema file's objects and ledger rows in the configured (empty) database
    #[command(
        name = "schema:load",
        after_help = "Example:\n  dbtool --url mysql://root@127.0.0.1:3306/app_test schema:load"
    )]
    SchemaLoad {
        /// The file to load [default: schema.sql beside the migrations folder]
        #[arg(long, value_name = "FILE")]
        input: Option<PathBuf>,
    },

    /// Check the migration and seed files for risky statements, offline; exit 1 on an error
    #[command(
        name = "lint",
        after_help = "Rules: destructive, lock-tables, not-null-without-default, rename, \
                      no-primary-key, mixed-ddl-dml, missing-down, down-leaves-objects, \
                      seed-not-idempotent. Change a rule's severity in knexfile.toml:\n  \
                      [lint]\n  rename = \"error\"\n  missing-down = \"off\"\n\
                      Mark an intended DROP, TRUNCATE or DELETE with `-- dbtool:destructive` on \
                      the line before it.\n\nExamples:\n  dbtool lint\n  dbtool lint --json"
    )]
    Lint,

    /// Accept the files as they are: re-record changed checksums, forget removed migrations
    #[command(
        name = "migrate:repair",
        after_help = "Example:\n  dbtool migrate:repair\n\n\
                      For each applied migration whose file changed, the ledger takes the file's\n\
                      checksum; each applied migration whose file is gone is forgotten (its\n\
                      schema changes stay). Every change is shown and logged. Restore a file\n\
                      instead if the change was a mistake."
    )]
    MigrateRepair {
        /// Show what would be re-recorded or forgotten; change nothing
        #[arg(long)]
        dry_run: bool,
    },

    /// Settle a failed (part-way) migration by hand
    #[command(
        name = "migrate:resolve",
        after_help = "Examples:\n  \
                      dbtool migrate:resolve 20260101120000 --applied      # you finished it by hand\n  \
                      dbtool migrate:resolve 20260101120000 --rolled-back  # you undid it by hand",
        group = clap::ArgGroup::new("outcome").required(true).multiple(false)
    )]
    MigrateResolve {
        /// The failed migration's version
        #[arg(value_name = "VERSION")]
        target: String,
        /// Record it as applied
        #[arg(long, group = "outcome")]
        applied: bool,
        /// Record it as never applied (its ledger row is removed)
        #[arg(long, group = "outcome")]
        rolled_back: bool,
    },

    /// Print the version of the newest applied migration (Knex's currentVersion)
    #[command(
        name = "migrate:currentVersion",
        visible_alias = "migrate:current-version",
        after_help = "Example:\n  dbtool migrate:currentVersion   # 20260101120000, or none"
    )]
    MigrateCurrentVersion,

    /// Show who holds the migration lock
    #[command(
        name = "migrate:unlock",
        after_help = "Example:\n  dbtool migrate:unlock\n\n\
                      The lock is a server-side GET_LOCK: the server frees it when its\n\
                      connection ends, so there is never a stale lock to clear. This shows the\n\
                      holder's connection id, user, host and time, to KILL it if it is stuck."
    )]
    MigrateUnlock,

    /// Create a new seed file db/seeds/<name>.sql
    #[command(
        name = "seed:make",
        after_help = "Example:\n  dbtool seed:make 02_orders   # db/seeds/02_orders.sql"
    )]
    SeedMake {
        /// Name of the seed, e.g. 02_orders (written as snake_case)
        name: String,
    },

    /// Run the seed files, in path order
    #[command(
        name = "seed:run",
        after_help = "Examples:\n  dbtool seed:run\n  dbtool seed:run --specific 01_accounts.sql\n  \
                      dbtool seed:run --changed\n  dbtool seed:run --dry-run\n\n\
                      Each seed runs in one transaction with its ledger row. A seed may say how\n\
                      often it runs in a first-lines comment: -- dbtool:run always (the default),\n\
                      -- dbtool:run once, or -- dbtool:run on-change. --specific runs the named\n\
                      seeds whatever their mode."
    )]
    SeedRun {
        /// Run only this seed (a path or a bare name); repeatable
        #[arg(long, value_name = "FILE")]
        specific: Vec<String>,
        /// Run only seeds that are new or changed since they last ran
        #[arg(long)]
        changed: bool,
        /// Print what would run; change nothing
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        fleet: FleetArgs,
    },

    /// Show every seed: new, changed or unchanged, its run mode, run count and last run
    #[command(
        name = "seed:status",
        after_help = "Examples:\n  dbtool seed:status\n  dbtool seed:status --json"
    )]
    SeedStatus,

    /// Create the configured database if it does not exist (utf8mb4)
    #[command(name = "db:create", after_help = "Example:\n  dbtool db:create")]
    DbCreate,

    /// Drop the configured database
    #[command(
        name = "db:drop",
        after_help = "Example:\n  dbtool db:drop\n\nA protected environment needs --yes."
    )]
    DbDrop,

    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    #[command(
        after_help = "Examples:\n  dbtool completions bash > /etc/bash_completion.d/dbtool\n  \
                      dbtool completions zsh > \"${fpath[1]}/_dbtool\"\n  \
                      dbtool completions fish > ~/.config/fish/completions/dbtool.fish"
    )]
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },

    /// Print the man page (roff): `dbtool man > dbtool.1`; with --dir, write it and one page per
    /// command (dbtool-migrate:latest.1, …) into DIR
    #[command(hide = true)]
    Man {
        /// Write every page into this folder instead of printing dbtool.1
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },

    /// Wait until the database server answers
    #[command(
        name = "db:wait",
        after_help = "Example:\n  docker compose up -d && dbtool db:wait --timeout 60 && dbtool migrate:latest"
    )]
    DbWait {
        /// Give up after this many seconds
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        timeout: u64,
    },
}
