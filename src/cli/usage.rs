//! What the command line prints itself: usage errors (one JSON document with `--json`, the
//! nearest command for a mistyped one), shell completions and the man page.

use super::Cli;

/// Reports a command line clap refused (or a `--help`/`--version` request) and returns the
/// exit code: 2 for a usage error (SPEC §9), with one JSON document on stdout under `--json`,
/// and the nearest command named first for a mistyped one.
pub fn usage_error(e: clap::Error) -> u8 {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            2
        } else {
            0
        };
    }
    let mut message = e.render().to_string();
    if e.kind() == ErrorKind::InvalidSubcommand
        && let Some(ContextValue::String(typed)) = e.get(ContextKind::InvalidSubcommand)
    {
        use clap::CommandFactory;
        let cmd = Cli::command();
        let nearest = cmd
            .get_subcommands()
            .filter(|c| !c.is_hide_set())
            .flat_map(|c| std::iter::once(c.get_name()).chain(c.get_visible_aliases()))
            .map(|name| (strsim::damerau_levenshtein(typed, name), name))
            .min();
        if let Some((_, name)) = nearest {
            message = format!(
                "error: unrecognized subcommand '{typed}'\n\n  tip: did you mean '{name}'?\n\n\
                 Usage: dbtool [OPTIONS] <COMMAND>\n\nFor more information, try '--help'.\n"
            );
        }
    }
    eprint!("{message}");
    if std::env::args().any(|a| a == "--json") {
        // The error's first paragraph: its line and what it lists after it (the missing
        // arguments, say), on one line.
        let first = message
            .lines()
            .take_while(|l| !l.trim().is_empty())
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ")
            .trim_start_matches("error: ")
            .to_owned();
        let doc = serde_json::json!({ "error": { "message": first, "exit_code": 2 } });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    2
}

/// Prints the completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> u8 {
    use clap::CommandFactory;
    clap_complete::generate(shell, &mut Cli::command(), "dbtool", &mut std::io::stdout());
    0
}

/// Prints the man page on stdout, or writes it and a page per command (the pages its SEE ALSO
/// names) into `dir`.
pub fn man(dir: Option<&std::path::Path>) -> u8 {
    use clap::CommandFactory;
    let written = match dir {
        Some(dir) => std::fs::create_dir_all(dir)
            .and_then(|()| clap_mangen::generate_to(Cli::command(), dir)),
        None => clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()),
    };
    match written {
        Ok(()) => 0,
        Err(e) => {
            let at = dir.map_or("stdout".into(), |d| d.display().to_string());
            eprintln!("error: writing the man pages to {at}: {e}");
            1
        }
    }
}

impl super::Command {
    /// The name users type.
    pub fn name(&self) -> &'static str {
        match self {
            super::Command::Init => "init",
            super::Command::MigrateMake { .. } => "migrate:make",
            super::Command::MigrateLatest { .. } => "migrate:latest",
            super::Command::MigrateUp { .. } => "migrate:up",
            super::Command::MigrateDown { .. } => "migrate:down",
            super::Command::MigrateRollback { .. } => "migrate:rollback",
            super::Command::MigrateStatus { .. } => "migrate:status",
            super::Command::MigrateValidate => "migrate:validate",
            super::Command::Lint => "lint",
            super::Command::MigrateBaseline { .. } => "migrate:baseline",
            super::Command::MigrateImport { .. } => "migrate:import",
            super::Command::SchemaDump { .. } => "schema:dump",
            super::Command::MigrateDrift { .. } => "migrate:drift",
            super::Command::SchemaLoad { .. } => "schema:load",
            super::Command::MigrateRepair { .. } => "migrate:repair",
            super::Command::MigrateResolve { .. } => "migrate:resolve",
            super::Command::MigrateUnlock => "migrate:unlock",
            super::Command::MigrateCurrentVersion => "migrate:currentVersion",
            super::Command::Completions { .. } => "completions",
            super::Command::Man { .. } => "man",
            super::Command::SeedMake { .. } => "seed:make",
            super::Command::SeedRun { .. } => "seed:run",
            super::Command::SeedStatus => "seed:status",
            super::Command::DbCreate => "db:create",
            super::Command::DbDrop => "db:drop",
            super::Command::DbWait { .. } => "db:wait",
        }
    }
}
