//! Planning `migrate:rollback` and `migrate:down`: applied migrations undone newest first
//! (the reverse of the order they were applied in), a rollback that stopped part-way finished
//! first, refused whole when any chosen migration cannot be undone.

use super::{Drift, DriftItem, Entry, Options, Plan, PlanError, Scope, Status, Step, resume_of};
use crate::files::{Direction, MigrationFile, Version};
use crate::rows::MigrationRow;

/// An applied migration: its row, and its file unless the file is gone.
struct Applied<'a> {
    entry: &'a Entry<'a>,
    file: Option<&'a MigrationFile>,
    row: &'a MigrationRow,
}

/// migrate:rollback: the last batch, all, the last N, or everything after a version.
pub(super) fn rollback(
    entries: &[Entry<'_>],
    scope: &Scope,
    options: &Options,
    plan: &mut Plan,
) -> Result<(), PlanError> {
    unfinished(entries, options, plan)?;
    let applied = applied(entries);
    // A rollback that stopped part-way was undoing its batch: that batch is still the last
    // one (the batch before it is not, even when nothing else of it is left).
    let resumed = plan
        .steps
        .iter()
        .filter_map(|s| s.row.as_ref())
        .map(|r| r.batch);
    let chosen: Vec<&Applied<'_>> = match scope {
        Scope::LastBatch => {
            let last = resumed.max().or(applied.first().map(|a| a.row.batch));
            applied
                .iter()
                .filter(|a| Some(a.row.batch) == last)
                .collect()
        }
        Scope::All => applied.iter().collect(),
        // The resumed rollbacks count among the N.
        Scope::Step(n) => applied
            .iter()
            .take((*n as usize).saturating_sub(plan.steps.len()))
            .collect(),
        Scope::To(v) => {
            if !entries.iter().any(|e| e.version() == v) {
                return Err(PlanError::UnknownVersion(v.to_string()));
            }
            applied.iter().filter(|a| a.entry.version() > v).collect()
        }
    };
    undo(&chosen, plan)
}

/// `migrate:down [V]`: the last applied migration, or the one named. A rollback that stopped
/// part-way is the one step when it is that migration (or none is named).
pub(super) fn down(
    entries: &[Entry<'_>],
    target: Option<&Version>,
    options: &Options,
    plan: &mut Plan,
) -> Result<(), PlanError> {
    unfinished(entries, options, plan)?;
    let applied = applied(entries);
    let Some(v) = target else {
        if !plan.steps.is_empty() {
            plan.steps.truncate(1);
            return Ok(());
        }
        let chosen: Vec<&Applied<'_>> = applied.iter().take(1).collect();
        return undo(&chosen, plan);
    };
    let chosen: Vec<&Applied<'_>> = applied.iter().filter(|a| a.entry.version() == v).collect();
    if !chosen.is_empty() {
        return undo(&chosen, plan);
    }
    if !entries.iter().any(|e| e.version() == v) {
        return Err(PlanError::UnknownVersion(v.to_string()));
    }
    if plan.steps.iter().any(|s| &s.migration.version == v) {
        plan.steps.retain(|s| &s.migration.version == v);
        return Ok(());
    }
    Err(PlanError::NotApplied(v.to_string()))
}

/// Rollbacks that stopped part-way resume first; a migration that failed part-way blocks.
fn unfinished(entries: &[Entry<'_>], options: &Options, plan: &mut Plan) -> Result<(), PlanError> {
    for e in entries {
        let Some((resume, file)) = resume_of(e, Direction::Down, options)? else {
            continue;
        };
        if let (Some(m), Some(row)) = (e.file(), e.row()) {
            plan.steps.push(Step {
                direction: Direction::Down,
                migration: m.clone(),
                file,
                row: Some(row.clone()),
                resume: Some(resume),
            });
        }
    }
    Ok(())
}

/// Applied migrations (changed or gone files included), newest first: by batch, then version.
fn applied<'a>(entries: &'a [Entry<'a>]) -> Vec<Applied<'a>> {
    let mut applied: Vec<Applied<'a>> = entries
        .iter()
        .filter_map(|entry| match entry.status {
            Status::Applied(f, row) | Status::Modified(f, row) => Some(Applied {
                entry,
                file: Some(f),
                row,
            }),
            Status::Missing(row) => Some(Applied {
                entry,
                file: None,
                row,
            }),
            _ => None,
        })
        .collect();
    applied.sort_by(|a, b| {
        b.row
            .batch
            .cmp(&a.row.batch)
            .then(b.entry.version().cmp(a.entry.version()))
    });
    applied
}

/// Adds the chosen migrations' rollbacks, refusing when any has no file or no down file.
fn undo(chosen: &[&Applied<'_>], plan: &mut Plan) -> Result<(), PlanError> {
    let missing: Vec<DriftItem> = chosen
        .iter()
        .filter(|a| a.file.is_none())
        .map(|a| DriftItem::Missing { id: a.entry.id() })
        .collect();
    if !missing.is_empty() {
        return Err(PlanError::Drift(Drift { items: missing }));
    }
    let irreversible: Vec<String> = chosen
        .iter()
        .filter(|a| a.file.is_some_and(|f| f.down.is_none()))
        .map(|a| a.entry.id())
        .collect();
    if !irreversible.is_empty() {
        return Err(PlanError::Irreversible { ids: irreversible });
    }
    for a in chosen {
        let (Some(m), Some(down)) = (a.file, a.file.and_then(|f| f.down.as_ref())) else {
            continue; // both checked above
        };
        if matches!(a.entry.status, Status::Modified(..)) {
            plan.warnings.push(format!(
                "{} changed since it was applied; rolling back with its current down file",
                a.entry.id()
            ));
        }
        plan.steps.push(Step {
            direction: Direction::Down,
            migration: m.clone(),
            file: down.clone(),
            row: Some(a.row.clone()),
            resume: None,
        });
    }
    Ok(())
}
