//! Reading and splitting every file of a plan before anything runs, so a broken file later in
//! the plan stops it before its first statement; and cutting each step into the units it runs
//! in (SPEC §7).

use crate::error::{Error, Result};
use crate::files::checksum::prefix_checksum;
use crate::files::{Checksum, Direction, checksum};
use crate::plan::{Plan, Step};
use crate::sql::hazard::{Guarded, hazard};
use crate::sql::{Piece, Statement};

/// One step read from disk and split, ready to run.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) step: Step,
    pub(crate) statements: Vec<Statement>,
    /// Checksum of the down file, if there is one.
    pub(crate) down_checksum: Option<Checksum>,
    /// Every statement still to run is transactional: the step runs in one transaction.
    pub(crate) atomic: bool,
    /// Otherwise: the units still to run, in order.
    pub(crate) units: Vec<Unit>,
}

/// Statements that run together: one statement that commits implicitly, or a run of
/// transactional ones in one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unit {
    /// Statements before the unit.
    pub(crate) from: u32,
    /// Statements after the unit.
    pub(crate) to: u32,
    pub(crate) transactional: bool,
}

impl Prepared {
    pub(crate) fn path(&self) -> &str {
        &self.step.file.display
    }

    pub(crate) fn total(&self) -> u32 {
        self.statements.len() as u32
    }

    /// The statements still to run.
    pub(crate) fn remaining(&self) -> &[Statement] {
        &self.statements[(self.step.start() as usize).min(self.statements.len())..]
    }

    /// The checksum of the first `k` statements (SPEC §7).
    pub(crate) fn prefix(&self, k: u32) -> Checksum {
        prefix_checksum(self.statements.iter().take(k as usize).map(Statement::sql))
    }
}

/// Reads and splits every file of `plan`, refusing statements no run could record (see
/// [`crate::sql::hazard`]).
pub(crate) fn prepare(plan: &Plan, guarded: &Guarded<'_>) -> Result<Vec<Prepared>> {
    plan.steps
        .iter()
        .map(|s| prepare_step(s, guarded))
        .collect()
}

/// The first statement of `statements` that is refused.
pub(crate) fn refuse(statements: &[Statement], path: &str, guarded: &Guarded<'_>) -> Result<()> {
    for s in statements {
        if let Some(hazard) = hazard(s.sql(), guarded) {
            return Err(Error::Refused {
                path: path.to_owned(),
                line: s.line,
                number: s.number,
                hazard,
            });
        }
    }
    Ok(())
}

fn prepare_step(step: &Step, guarded: &Guarded<'_>) -> Result<Prepared> {
    let text = step.file.read()?;
    let statements = split_file(&text, &step.file.display)?;
    refuse(&statements, &step.file.display, guarded)?;
    // An unedited template is a mistake, up or down: a down that undoes nothing would leave
    // what its up created while the ledger says it is gone.
    if statements.is_empty() && crate::files::is_template(&text) {
        return Err(Error::Template {
            path: step.file.display.clone(),
        });
    }
    if statements.is_empty() && step.direction == Direction::Down {
        tracing::warn!(
            "{}: the rollback of {} runs a down file with no statement: nothing is undone (what \
             its up file created stays)",
            step.file.display,
            step.id()
        );
    }
    let down_checksum = match (&step.migration.down, step.direction) {
        (Some(_), Direction::Down) => Some(checksum(text.as_bytes())),
        (Some(d), Direction::Up) => Some(checksum(d.read()?.as_bytes())),
        (None, _) => None,
    };
    let start = step.start();
    let remaining = &statements[(start as usize).min(statements.len())..];
    let atomic = remaining.iter().all(|s| s.kind.is_transactional());
    let units = if atomic {
        Vec::new()
    } else {
        units(&statements, start)
    };
    Ok(Prepared {
        step: step.clone(),
        statements,
        down_checksum,
        atomic,
        units,
    })
}

/// Cuts the statements from `start` on into units.
fn units(statements: &[Statement], start: u32) -> Vec<Unit> {
    let n = statements.len() as u32;
    let tx = |i: u32| statements[i as usize].kind.is_transactional();
    let mut units = Vec::new();
    let mut i = start;
    while i < n {
        let transactional = tx(i);
        let mut j = i + 1;
        if transactional {
            while j < n && tx(j) {
                j += 1;
            }
        }
        units.push(Unit {
            from: i,
            to: j,
            transactional,
        });
        i = j;
    }
    units
}

/// A `DELIMITER` line (its line and delimiter) still in force at the end of a file.
pub(crate) type LeftDelimiter = Option<(u64, String)>;

/// Splits a migration file's text; also returns the `DELIMITER` line left in force at its end.
pub(crate) fn split_text(text: &str, path: &str) -> Result<(Vec<Statement>, LeftDelimiter)> {
    let mut splitter = crate::sql::split::split_str(text);
    let mut out = Vec::new();
    for piece in splitter.by_ref() {
        match piece {
            Ok(Piece::Statement(s)) => out.push(s),
            Ok(_) => {}
            Err(source) => {
                return Err(Error::Split {
                    path: path.to_owned(),
                    source,
                });
            }
        }
    }
    Ok((out, splitter.changed_delimiter().cloned()))
}

/// Splits a migration file, warning about a `DELIMITER` left changed at its end.
pub(crate) fn split_file(text: &str, path: &str) -> Result<Vec<Statement>> {
    let (stmts, changed) = split_text(text, path)?;
    if let Some((line, delim)) = changed {
        warn_delimiter(path, line, &delim);
    }
    Ok(stmts)
}

/// The warning for a file that ends with its `DELIMITER` still changed.
pub(crate) fn warn_delimiter(path: &str, line: u64, delim: &str) {
    tracing::warn!(
        "{path}:{line}: `DELIMITER {delim}` is still in force at the end of the file \
         (add `DELIMITER ;` after the statements that need it)"
    );
}

/// One line saying what a step does and how (for dry runs).
pub(crate) fn describe(p: &Prepared) -> String {
    let id = p.step.id();
    let start = p.step.start();
    let what = match p.step.direction {
        Direction::Up if start > 0 => format!("resume {id} at statement {}", start + 1),
        Direction::Up => format!("apply {id}"),
        Direction::Down if start > 0 => {
            format!("resume rollback of {id} at statement {}", start + 1)
        }
        Direction::Down => format!("roll back {id}"),
    };
    let mode = if p.atomic {
        "in one transaction"
    } else {
        "statement by statement (DDL commits implicitly)"
    };
    format!("{what} ({}, {mode})", p.path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_stands_alone_and_transactional_runs_share_a_unit() {
        let (stmts, _) = split_text(
            "CREATE TABLE a (id INT);\nINSERT INTO a VALUES (1);\nINSERT INTO a VALUES (2);\n\
             ALTER TABLE a ADD b INT;\nUPDATE a SET b = 1;\n",
            "x.sql",
        )
        .unwrap();
        let u = |from, to, transactional| Unit {
            from,
            to,
            transactional,
        };
        assert_eq!(
            units(&stmts, 0),
            [u(0, 1, false), u(1, 3, true), u(3, 4, false), u(4, 5, true)]
        );
        assert_eq!(
            units(&stmts, 2),
            [u(2, 3, true), u(3, 4, false), u(4, 5, true)]
        );
    }
}
