//! Watching a packet while the server runs it, from the lock's connection:
//! - after a few seconds, and then every few more, what the statement waits for and who holds
//!   it (a metadata lock behind an open transaction, a row lock, FLUSH TABLES WITH READ LOCK):
//!   dbtool never waits silently;
//! - dbtool's own statements (its ledger writes) wait at most `lock_timeout`, then are stopped
//!   (`KILL QUERY`), which ends the run with a clear error and a truthful ledger;
//! - on a terminal, a line saying which statement runs and for how long;
//! - SIGINT and SIGTERM stop the running statement (`KILL QUERY`) instead of the process, so
//!   the run ends cleanly: the ledger records what completed and the lock is released.

use std::future::Future;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::db::Db;
use crate::db::packet::{PacketFailure, PacketFuture, Running, Watcher};

/// When the first look at a waiting statement happens, and how often after that.
const FIRST_LOOK: Duration = Duration::from_secs(2);
const LOOK_EVERY: Duration = Duration::from_secs(10);
/// A statement that runs this long gets a line on a terminal.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// A signal that asked dbtool to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interrupt {
    Int,
    Term,
}

impl Interrupt {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Interrupt::Int => "SIGINT",
            Interrupt::Term => "SIGTERM",
        }
    }

    /// 128 + the signal's number, as shells report a process the signal ended.
    pub(crate) fn exit_code(self) -> u8 {
        match self {
            Interrupt::Int => 130,
            Interrupt::Term => 143,
        }
    }
}

/// SIGINT and SIGTERM, caught for the whole run (so they never kill dbtool half-way through
/// a packet), and the first that arrived.
pub(crate) struct Signals {
    int: Option<Signal>,
    term: Option<Signal>,
    pub(crate) got: Option<Interrupt>,
}

impl Signals {
    pub(crate) fn catch() -> Signals {
        Signals {
            int: signal(SignalKind::interrupt()).ok(),
            term: signal(SignalKind::terminate()).ok(),
            got: None,
        }
    }

    async fn recv(&mut self) -> Interrupt {
        let int = async {
            match &mut self.int {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        let term = async {
            match &mut self.term {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = int => Interrupt::Int,
            _ = term => Interrupt::Term,
        }
    }
}

/// Watches packets on the work connection from the lock's connection.
pub(crate) struct Watch<'a> {
    control: &'a mut Db,
    work_id: u32,
    /// How long dbtool's own statements may wait for a lock.
    bound: Duration,
    /// Text that only dbtool's own statements contain (the ledger tables' qualified names).
    ours: Vec<String>,
    progress: bool,
    pub(crate) signals: &'a mut Signals,
    /// Set when dbtool stopped one of its own statements for waiting too long.
    pub(crate) gave_up: Option<String>,
    /// When to look first: sooner than [`FIRST_LOOK`] when the statements' own lock wait
    /// (`ddl_lock_wait`) is shorter, so the holder is named before the statement gives up.
    first_look: Duration,
    /// The last wait seen of a user statement (for the message when it gave up).
    pub(crate) last_wait: Option<String>,
}

impl<'a> Watch<'a> {
    pub(crate) fn new(
        control: &'a mut Db,
        work_id: u32,
        bound: Duration,
        ours: Vec<String>,
        progress: bool,
        signals: &'a mut Signals,
        statement_wait: Duration,
    ) -> Self {
        let first_look = if statement_wait.is_zero() {
            FIRST_LOOK
        } else {
            FIRST_LOOK
                .min(statement_wait / 2)
                .max(Duration::from_millis(250))
        };
        Watch {
            control,
            work_id,
            bound,
            ours,
            progress,
            signals,
            gave_up: None,
            first_look,
            last_wait: None,
        }
    }

    fn is_ours(&self, statement: &str) -> bool {
        let s = statement.trim_start();
        self.ours.iter().any(|o| s.contains(o.as_str()))
            || s.starts_with("COMMIT AND NO CHAIN")
            || s.starts_with("START TRANSACTION READ WRITE")
            || s.contains(crate::db::ledger::write::GUARD_TEXT)
    }

    /// Runs `packet` to its end, looking at what it waits for and stopping it on a signal.
    pub(crate) async fn run<F>(
        &mut self,
        packet: F,
        what: &Running<'_>,
    ) -> Result<(), PacketFailure>
    where
        F: Future<Output = Result<(), PacketFailure>>,
    {
        tokio::pin!(packet);
        let start = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut next_look = self.first_look;
        let mut killed = false;
        let mut line: Option<ProgressBar> = None;
        let result = loop {
            tokio::select! {
                biased;
                r = &mut packet => break r,
                sig = self.signals.recv(), if self.signals.got.is_none() => {
                    self.signals.got = Some(sig);
                    say(line.as_ref(), &format!("{}: stopping {what}", sig.name()));
                    if !killed {
                        killed = true;
                        let _ = self.control.kill_query(self.work_id).await;
                    }
                }
                _ = tick.tick() => {
                    let elapsed = start.elapsed();
                    if self.progress && elapsed >= SHOW_AFTER {
                        let bar = line.get_or_insert_with(spinner);
                        bar.set_message(format!("{what} · {} s", elapsed.as_secs()));
                        bar.tick();
                    }
                    if elapsed >= next_look && !killed {
                        next_look = elapsed + LOOK_EVERY;
                        let (stopped, message) = self.look(what, elapsed).await;
                        killed = stopped;
                        if let Some(m) = message {
                            say(line.as_ref(), &m);
                        }
                    }
                }
            }
        };
        if let Some(bar) = line {
            bar.finish_and_clear();
        }
        result
    }

    /// What the statement waits for, to be said; stops dbtool's own statement once it waited
    /// longer than the bound. Returns whether it stopped it.
    async fn look(&mut self, what: &Running<'_>, elapsed: Duration) -> (bool, Option<String>) {
        let skip = [self.work_id, self.control.conn.id()];
        let Ok(Some(wait)) = self.control.waiting(self.work_id, &skip).await else {
            return (false, None);
        };
        let secs = elapsed.as_secs();
        if self.is_ours(&wait.statement) {
            if elapsed >= self.bound {
                self.gave_up = Some(format!("waited {secs} s for {wait}"));
                let _ = self.control.kill_query(self.work_id).await;
                return (true, None);
            }
            let message = format!(
                "{}: dbtool's ledger write has waited {secs} s for {wait}; it gives up after {} s \
                 (lock_timeout)",
                what.path,
                self.bound.as_secs()
            );
            (false, Some(message))
        } else {
            // A short `ddl_lock_wait` looks before the first second is out.
            let waited = if elapsed < Duration::from_secs(2) {
                format!("{:.1}", elapsed.as_secs_f64())
            } else {
                secs.to_string()
            };
            self.last_wait = Some(wait.to_string());
            (
                false,
                Some(format!("{what} has waited {waited} s for {wait}")),
            )
        }
    }
}

impl Watcher for Watch<'_> {
    fn watch<'f>(&'f mut self, packet: PacketFuture<'f>, what: Running<'f>) -> PacketFuture<'f> {
        Box::pin(async move { self.run(packet, &what).await })
    }

    fn stopping(&self) -> bool {
        self.signals.got.is_some()
    }

    fn last_wait(&mut self) -> Option<String> {
        self.last_wait.clone()
    }
}

/// A warning, written above the running statement's line rather than over it.
fn say(line: Option<&ProgressBar>, message: &str) {
    match line {
        Some(bar) => bar.suspend(|| tracing::warn!("{message}")),
        None => tracing::warn!("{message}"),
    }
}

fn spinner() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, crate::output::stderr_target());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar
}
