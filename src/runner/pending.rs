//! Steps whose end is deferred (see [`crate::db::ledger::write::deferred`]): when their end is
//! written.

use std::time::{Duration, Instant};

use super::{Conns, Tables};
use crate::db::ledger::write::Deferred;
use crate::error::Error;

/// Deferred step ends (see [`crate::db::ledger::write::deferred`]) are written once the oldest
/// has waited this long, or this many are pending: the ledger shows a step applied at most
/// a quarter of a second after its last statement, at the cost of one commit per quarter.
const FLUSH_AFTER: Duration = Duration::from_millis(250);
const FLUSH_COUNT: usize = 64;

/// Steps whose end is still to be written, oldest first.
#[derive(Debug, Default)]
pub(super) struct Pending {
    pub(super) steps: Vec<Deferred>,
    since: Option<Instant>,
}

impl Pending {
    pub(super) fn due(&self) -> bool {
        self.steps.len() >= FLUSH_COUNT || self.since.is_some_and(|t| t.elapsed() >= FLUSH_AFTER)
    }

    pub(super) fn push(&mut self, d: Deferred) {
        self.since.get_or_insert_with(Instant::now);
        self.steps.push(d);
    }

    pub(super) fn clear(&mut self) {
        self.steps.clear();
        self.since = None;
    }
}

/// What a failed write of deferred step ends says.
const PENDING_FAILED: &str = "recording the migrations whose statements have all run (their \
    rows show every statement done; the next migrate:latest or migrate:rollback records their \
    end without running anything)";

impl Conns<'_> {
    /// Writes the end of every pending step in one transaction. They stay pending if it fails.
    pub(super) async fn write_pending(
        &mut self,
        t: &Tables,
        pending: &mut Pending,
    ) -> Result<(), Error> {
        if pending.steps.is_empty() {
            return Ok(());
        }
        crate::db::ledger::finish_deferred(self.work, t, &self.lock, &pending.steps)
            .await
            .map_err(|e| Error::db(PENDING_FAILED, e))?;
        pending.clear();
        Ok(())
    }

    /// [`write_pending`](Self::write_pending) on a run that already failed, on the lock's
    /// connection (the work connection may be the one that failed). A failure here only warns:
    /// the rows say every statement ran, and the next run finishes them.
    pub(super) async fn try_write_pending(&mut self, t: &Tables, pending: &mut Pending) {
        if pending.steps.is_empty() {
            return;
        }
        match crate::db::ledger::finish_deferred(self.control, t, &self.lock, &pending.steps).await
        {
            Ok(()) => pending.clear(),
            Err(e) => tracing::warn!("{}", Error::db(PENDING_FAILED, e)),
        }
    }
}
