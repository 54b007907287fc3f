//! What the runner's watchdog sees of a packet while the server runs it.

use std::future::Future;
use std::pin::Pin;

use super::PacketFailure;

/// A packet on its way, as a watcher gets it.
pub(crate) type PacketFuture<'f> = Pin<Box<dyn Future<Output = Result<(), PacketFailure>> + 'f>>;

/// What a packet runs, for messages while it runs.
#[derive(Debug, Clone)]
pub(crate) struct Running<'a> {
    pub(crate) path: &'a str,
    /// The first user statement of the packet: its number and line.
    pub(crate) statement: Option<(u32, u64)>,
}

impl std::fmt::Display for Running<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.statement {
            Some((n, line)) => write!(f, "{}:{line}: statement {n}", self.path),
            None => write!(f, "{}: dbtool's ledger write", self.path),
        }
    }
}

/// Watches packets while the server runs them (the runner's watchdog: waits, signals).
pub(crate) trait Watcher {
    fn watch<'f>(&'f mut self, packet: PacketFuture<'f>, what: Running<'f>) -> PacketFuture<'f>;

    /// The run is to stop: no further packet is sent (a signal came).
    fn stopping(&self) -> bool;

    /// What the last statement that waited for a lock waited for, and who held it.
    fn last_wait(&mut self) -> Option<String>;
}
