//! Planning `migrate:latest` and `migrate:up`: every pending migration (up to a version, or
//! one), failed ones resumed where they stopped, refused over drift.

use super::{Entry, Options, Plan, PlanError, Status, Step, drift, resume_of};
use crate::files::{Direction, Version};

/// migrate:latest [--to V]: everything pending, in version order, up to and including `to`.
pub(super) fn latest(
    entries: &[Entry<'_>],
    to: Option<&Version>,
    options: &Options,
    plan: &mut Plan,
) -> Result<(), PlanError> {
    check(entries, to)?;
    let late = runnable(entries, options, plan)?;
    if let Some(to) = to {
        plan.steps.retain(|s| &s.migration.version <= to);
    }
    out_of_order(entries, late, options, plan)
}

/// `migrate:up [V]`: the oldest pending migration, or the one named.
pub(super) fn up(
    entries: &[Entry<'_>],
    target: Option<&Version>,
    options: &Options,
    plan: &mut Plan,
) -> Result<(), PlanError> {
    check(entries, target)?;
    let late = runnable(entries, options, plan)?;
    match target {
        Some(v) => {
            plan.steps.retain(|s| &s.migration.version == v);
            if plan.steps.is_empty() {
                return Err(PlanError::NotPending(v.to_string()));
            }
        }
        None => plan.steps.truncate(1),
    }
    out_of_order(entries, late, options, plan)
}

/// Refuses over drift, and a named version without a file.
fn check(entries: &[Entry<'_>], named: Option<&Version>) -> Result<(), PlanError> {
    if let Some(d) = drift(entries) {
        return Err(PlanError::Drift(d));
    }
    if let Some(v) = named
        && !entries
            .iter()
            .any(|e| e.version() == v && e.file().is_some())
    {
        return Err(PlanError::UnknownVersion(v.to_string()));
    }
    Ok(())
}

/// Adds every runnable migration to the plan; returns the ids of those out of order.
fn runnable(
    entries: &[Entry<'_>],
    options: &Options,
    plan: &mut Plan,
) -> Result<Vec<String>, PlanError> {
    let mut late = Vec::new();
    for e in entries {
        // A failed row is resumed, or blocks, even when its file is gone.
        if let Some((resume, file)) = resume_of(e, Direction::Up, options)? {
            if let (Some(m), Some(row)) = (e.file(), e.row()) {
                plan.steps.push(Step {
                    direction: Direction::Up,
                    migration: m.clone(),
                    file,
                    row: Some(row.clone()),
                    resume: Some(resume),
                });
            }
            continue;
        }
        let m = match e.status {
            Status::Pending(m) => m,
            Status::OutOfOrder(m) => {
                late.push(e.id());
                m
            }
            _ => continue,
        };
        plan.steps.push(Step {
            direction: Direction::Up,
            migration: m.clone(),
            file: m.up.clone(),
            row: None,
            resume: None,
        });
    }
    Ok(late)
}

/// Out-of-order migrations that made it into the plan: a warning each, or a refusal.
fn out_of_order(
    entries: &[Entry<'_>],
    late: Vec<String>,
    options: &Options,
    plan: &mut Plan,
) -> Result<(), PlanError> {
    let late: Vec<String> = late
        .into_iter()
        .filter(|id| plan.steps.iter().any(|s| &s.id() == id))
        .collect();
    if late.is_empty() {
        return Ok(());
    }
    let newest = entries
        .iter()
        .filter(|e| matches!(e.status, Status::Applied(..) | Status::Modified(..)))
        .map(|e| e.id())
        .next_back()
        .unwrap_or_default();
    if !options.out_of_order {
        return Err(PlanError::OutOfOrder { ids: late, newest });
    }
    for id in late {
        plan.warnings.push(format!(
            "{id} is older than the newest applied migration ({newest}); applying it out of order"
        ));
    }
    Ok(())
}
