//! The `dbtool` binary: parse the command line, run, exit with the code SPEC §9 gives.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = dbtool::cli::Cli::parse();
    std::process::ExitCode::from(dbtool::run(cli))
}
