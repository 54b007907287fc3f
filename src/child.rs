//! Child processes dbtool starts (a fleet's targets, an online schema-change engine) end with
//! it: `PR_SET_PDEATHSIG` sends them SIGTERM when dbtool dies, even by SIGKILL, so none goes
//! on changing a database that no dbtool watches or records.

/// Sets `cmd`'s child to receive SIGTERM when this process ends. Call it from a thread that
/// lives as long as the child (Linux signals the child when the thread that forked it exits):
/// dbtool starts children from its main thread.
pub(crate) fn die_with_this_process(cmd: &mut tokio::process::Command) {
    let parent = std::process::id();
    // SAFETY: only async-signal-safe calls (prctl, getppid) between fork and exec.
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(move || {
            #[cfg(target_os = "linux")]
            {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                // dbtool died before prctl: the child must not outlive it.
                if libc::getppid() as u32 != parent {
                    return Err(std::io::Error::other("dbtool is gone"));
                }
            }
            #[cfg(not(target_os = "linux"))]
            let _ = parent;
            Ok(())
        });
    }
}

/// Sends `signal` to the child process `pid` (0: none).
pub(crate) fn signal(pid: u32, signal: i32) {
    if pid == 0 {
        return;
    }
    // SAFETY: kill(2) on a child this process started and has not reaped.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
}
