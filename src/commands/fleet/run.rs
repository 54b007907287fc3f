//! Running a fleet: one child process of dbtool per target, a bounded number at a time
//! overall and per server, canaries first and then the rest in waves, stopping on failures
//! as asked; SIGINT and SIGTERM passed on to the running children.
//!
//! A child is this binary run on one target (`DBTOOL_FLEET_TARGET`) with `--json`: every
//! target gets exactly the command a user would run on it alone, its own lock, ledger and
//! exit code. Children are started from the main thread, in process groups of their own (a
//! terminal's Ctrl-C reaches the fleet run, which passes it on once), and die with the run
//! (`PR_SET_PDEATHSIG`: SIGTERM, which stops a child as its own Ctrl-C would).

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Instant;

use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinSet;

use super::outcome::Finished;
use super::targets::Target;
use crate::config::FLEET_TARGET_VAR;

/// How a child is started: the binary, its arguments, and what its environment adds.
pub(crate) struct Spawner {
    pub(crate) exe: PathBuf,
    pub(crate) args: Vec<OsString>,
    pub(crate) env: Vec<(OsString, OsString)>,
}

/// The bounds of a run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) parallel: usize,
    pub(crate) per_server: usize,
    /// Start no more targets once this many failed.
    pub(crate) failures: usize,
}

/// The order of a run: the waves, each a list of targets (indexes); the first is the
/// canaries' when `canary` is set.
#[derive(Debug, Clone)]
pub(crate) struct Waves {
    pub(crate) waves: Vec<Vec<usize>>,
    pub(crate) canary: bool,
}

/// What a run did: each target's end (None: never started), and the signal that stopped it.
pub(crate) struct Ran {
    pub(crate) finished: Vec<Option<Finished>>,
    pub(crate) signal: Option<i32>,
}

/// Runs the waves; `done` is called as each target finishes and says whether it failed.
pub(crate) async fn run(
    targets: &[Target],
    waves: &Waves,
    limits: Limits,
    spawner: &Spawner,
    mut done: impl FnMut(usize, &Finished) -> bool,
) -> Ran {
    let mut state = State {
        finished: (0..targets.len()).map(|_| None).collect(),
        running: HashMap::new(),
        per_server: HashMap::new(),
        set: JoinSet::new(),
        failures: 0,
        stop: false,
        signal: None,
    };
    let mut int = signal(SignalKind::interrupt()).ok();
    let mut term = signal(SignalKind::terminate()).ok();
    for (w, wave) in waves.waves.iter().enumerate() {
        let mut queue: VecDeque<usize> = wave.iter().copied().collect();
        loop {
            state.start(&mut queue, targets, limits, spawner);
            if state.running.is_empty() {
                break;
            }
            tokio::select! {
                Some(joined) = state.set.join_next() => {
                    let Ok((i, f)) = joined else { continue };
                    state.end(i, &targets[i]);
                    if done(i, &f) {
                        state.failures += 1;
                        state.stop |= state.failures >= limits.failures;
                    }
                    state.finished[i] = Some(f);
                }
                _ = recv(&mut int) => state.interrupt(libc::SIGINT),
                _ = recv(&mut term) => state.interrupt(libc::SIGTERM),
            }
        }
        // A failed canary stops the run, whatever --on-error says: that is what it is for.
        state.stop |= waves.canary && w == 0 && state.failures > 0;
        if state.stop {
            break;
        }
    }
    Ran {
        finished: state.finished,
        signal: state.signal,
    }
}

async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

struct State {
    finished: Vec<Option<Finished>>,
    /// Running targets and their children's process ids.
    running: HashMap<usize, u32>,
    per_server: HashMap<String, usize>,
    set: JoinSet<(usize, Finished)>,
    failures: usize,
    stop: bool,
    signal: Option<i32>,
}

impl State {
    /// Starts queued targets while the bounds allow, in queue order (a target whose server is
    /// at its bound waits; later ones on other servers go first).
    fn start(&mut self, queue: &mut VecDeque<usize>, targets: &[Target], l: Limits, sp: &Spawner) {
        while !self.stop && self.running.len() < l.parallel {
            let free = |i: &usize| {
                self.per_server
                    .get(&targets[*i].server)
                    .copied()
                    .unwrap_or(0)
                    < l.per_server
            };
            let Some(pos) = queue.iter().position(free) else {
                return;
            };
            let Some(i) = queue.remove(pos) else { return };
            let started = Instant::now();
            match spawn(sp, &targets[i]) {
                Ok(child) => {
                    self.running.insert(i, child.id().unwrap_or(0));
                    *self
                        .per_server
                        .entry(targets[i].server.clone())
                        .or_insert(0) += 1;
                    self.set
                        .spawn(async move { (i, wait(child, started).await) });
                }
                Err(e) => {
                    // This binary could not be started again: no target can run.
                    self.finished[i] = Some(Finished {
                        code: 1,
                        doc: None,
                        stderr: format!("could not start {}: {e}", sp.exe.display()),
                        elapsed: started.elapsed(),
                    });
                    self.failures += 1;
                    self.stop = true;
                }
            }
        }
    }

    fn end(&mut self, i: usize, t: &Target) {
        self.running.remove(&i);
        if let Some(n) = self.per_server.get_mut(&t.server) {
            *n = n.saturating_sub(1);
        }
    }

    /// SIGINT or SIGTERM: start nothing more, and pass it on to every running child (which
    /// stops its statement and records what completed).
    fn interrupt(&mut self, sig: i32) {
        self.stop = true;
        self.signal.get_or_insert(sig);
        for pid in self.running.values() {
            crate::child::signal(*pid, sig);
        }
    }
}

fn spawn(sp: &Spawner, t: &Target) -> std::io::Result<tokio::process::Child> {
    let mut cmd = tokio::process::Command::new(&sp.exe);
    cmd.args(&sp.args)
        .envs(sp.env.iter().map(|(k, v)| (k, v)))
        .env(FLEET_TARGET_VAR, &t.text)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    crate::child::die_with_this_process(&mut cmd);
    cmd.spawn()
}

async fn wait(child: tokio::process::Child, started: Instant) -> Finished {
    let out = child.wait_with_output().await;
    let elapsed = started.elapsed();
    match out {
        Ok(out) => {
            use std::os::unix::process::ExitStatusExt as _;
            let code = out
                .status
                .code()
                .or_else(|| out.status.signal().map(|s| 128 + s))
                .map_or(1, |c| u8::try_from(c).unwrap_or(1));
            Finished {
                code,
                doc: serde_json::from_slice(&out.stdout).ok(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                elapsed,
            }
        }
        Err(e) => Finished {
            code: 1,
            doc: None,
            stderr: format!("waiting for the child process: {e}"),
            elapsed,
        },
    }
}
