//! What a step resumed after an interrupted run says first.

use super::Prepared;

/// SPEC §7: a killed run leaves no error text, and its next statement may have completed.
pub(super) fn warn_if_interrupted(p: &Prepared) {
    if !p.step.resume.is_some_and(|r| r.interrupted) {
        return;
    }
    if p.step.start() >= p.total() {
        tracing::info!(
            "{}: all {} statements had run when an earlier run was interrupted; recording its \
             end",
            p.path(),
            p.total()
        );
        return;
    }
    let next = p.step.start() + 1;
    let line = p
        .statements
        .get(p.step.start() as usize)
        .map_or(0, |s| s.line);
    tracing::warn!(
        "{}: statement {next} (line {line}) was running when an earlier run was interrupted; \
         it may have completed. Resuming at statement {next}: if it fails because it already \
         ran, make it idempotent or settle the migration with `dbtool migrate:resolve {}`",
        p.path(),
        p.step.key()
    );
}
