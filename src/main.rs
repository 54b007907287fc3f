//! The `dbtool` binary: parse the command line, run, exit with the code SPEC §9 gives.

use clap::Parser;

fn main() -> std::process::ExitCode {
    // mysql_async keeps up to 128 spent buffers of up to 4 MiB each for reuse; one connection
    // needs a few small ones. (Set before anything runs: still one thread, nothing reads the
    // environment concurrently. A user's own setting wins.)
    for (var, value) in [
        ("MYSQL_ASYNC_BUFFER_POOL_CAP", "8"),
        ("MYSQL_ASYNC_BUFFER_SIZE_CAP", "262144"),
    ] {
        if std::env::var_os(var).is_none() {
            // SAFETY: no other thread exists yet.
            #[allow(unsafe_code)]
            unsafe {
                std::env::set_var(var, value)
            };
        }
    }
    one_malloc_arena();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(version) = dbtool::version_only(&args) {
        use std::io::Write as _;
        // A closed stdout is not worth a panic.
        let _ = std::io::stdout().write_all(version.as_bytes());
        return std::process::ExitCode::SUCCESS;
    }
    dbtool::warm_up();
    match dbtool::cli::Cli::try_parse_from(args) {
        Ok(cli) => std::process::ExitCode::from(dbtool::run(cli)),
        Err(e) => std::process::ExitCode::from(dbtool::cli::usage_error(e)),
    }
}

/// glibc gives every thread that allocates an arena of its own, and each keeps the pages it
/// touched: the threads dbtool starts beside the main one (compiling mysql_common's regexes,
/// reading the files while connecting) would add half a MiB to the peak RSS for nothing, as
/// they never allocate at the same time as another thread for long. One arena, as
/// `MALLOC_ARENA_MAX=1` would give (a user's own setting of it still wins: glibc reads it first).
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; no other thread exists yet.
        #[allow(unsafe_code)]
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}
