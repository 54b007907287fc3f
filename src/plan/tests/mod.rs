//! Table tests of planning: pending, applied, modified, missing, failed, out-of-order,
//! irreversible, and every request.

use super::*;
use crate::files::{SqlFile, checksum};

/// The checksum a file's first `k` statements have "now": a stand-in keyed by version.
fn pfx(v: &str, d: Direction, k: u32) -> Checksum {
    checksum(format!("{v}:{}:{k}", d.as_str()).as_bytes())
}

pub(super) fn v(s: &str) -> Version {
    s.parse().unwrap()
}

/// A file; `body` stands for its content (its checksum is that of `body`).
pub(super) fn file(version: &str, body: &str, down: bool) -> MigrationFile {
    let sql = |ext: &str| SqlFile {
        path: format!("m/{version}_m{version}.{ext}.sql").into(),
        display: format!("m/{version}_m{version}.{ext}.sql"),
    };
    MigrationFile {
        version: v(version),
        name: format!("m{version}"),
        up: sql("up"),
        down: down.then(|| sql("down")),
        checksum: checksum(body.as_bytes()),
    }
}

pub(super) fn row(version: &str, body: &str, batch: u32) -> MigrationRow {
    MigrationRow {
        version: v(version),
        name: format!("m{version}"),
        batch,
        checksum: checksum(body.as_bytes()),
        down_checksum: None,
        state: RowState::Applied,
        direction: Direction::Up,
        statements_done: 1,
        statements_total: 1,
        prefix_checksum: None,
        error: None,
        applied_at: "2026-01-01T00:00:00.000000Z".into(),
    }
}

pub(super) fn failed(
    version: &str,
    d: Direction,
    done: u32,
    total: u32,
    prefix_ok: bool,
    error: bool,
) -> MigrationRow {
    MigrationRow {
        state: RowState::Failed,
        direction: d,
        statements_done: done,
        statements_total: total,
        prefix_checksum: Some(if prefix_ok {
            pfx(version, d, done)
        } else {
            checksum(b"other")
        }),
        error: error.then(|| "ERROR 1054".into()),
        ..row(version, "x", 1)
    }
}

pub(super) fn ids(p: &Plan) -> Vec<String> {
    p.steps
        .iter()
        .map(|s| {
            let sign = match s.direction {
                Direction::Up => "+",
                Direction::Down => "-",
            };
            match s.resume {
                None => format!("{sign}{}", s.migration.version),
                Some(r) => format!("{sign}{}@{}", s.migration.version, r.done),
            }
        })
        .collect()
}

/// Plans with the prefixes each failed row's file has now (see [`pfx`]).
pub(super) fn plan_with(
    files: &[MigrationFile],
    rows: &[MigrationRow],
    req: &Request,
    out_of_order: bool,
    last_batch: u32,
) -> Result<Plan, PlanError> {
    let prefixes = rows
        .iter()
        .filter(|r| r.state == RowState::Failed && r.statements_done > 0)
        .map(|r| {
            (
                r.version.canonical().to_owned(),
                pfx(r.version.as_str(), r.direction, r.statements_done),
            )
        })
        .collect();
    let options = Options {
        out_of_order,
        last_batch,
        prefixes,
    };
    plan(&entries(files, rows, false), req, &options)
}

pub(super) fn run(
    files: &[MigrationFile],
    rows: &[MigrationRow],
    req: Request,
) -> Result<Plan, PlanError> {
    plan_with(files, rows, &req, true, 0)
}

#[test]
fn batch_numbers_never_repeat_after_a_rollback() {
    let files = [file("1", "a", true)];
    let p = plan_with(&files, &[], &latest(), true, 1).unwrap();
    assert_eq!(p.batch, 2);
}

#[test]
fn a_full_batch_column_is_an_error_not_a_wrap() {
    let files = [file("1", "a", true), file("2", "b", true)];
    let rows = [row("1", "a", u32::MAX)];
    assert!(matches!(
        plan_with(&files, &rows, &latest(), true, 0),
        Err(PlanError::Ledger(_))
    ));
}

pub(super) fn latest() -> Request {
    Request::Latest { to: None }
}

#[test]
fn statuses() {
    let files = [
        file("1", "a", true),
        file("2", "b", true),
        file("3", "c", true),
        file("5", "e", false),
    ];
    let rows = [
        row("1", "a", 1),
        row("2", "CHANGED", 1),
        row("4", "d", 2),
        failed("5", Direction::Up, 1, 3, true, true),
    ];
    let got: Vec<(String, &str)> = entries(&files, &rows, false)
        .iter()
        .map(|e| (e.version().to_string(), e.status.name()))
        .collect();
    assert_eq!(
        got,
        [
            ("1".into(), "applied"),
            ("2".into(), "modified"),
            ("3".into(), "out-of-order"),
            ("4".into(), "missing"),
            ("5".into(), "failed"),
        ]
    );
}

#[test]
fn latest_applies_pending_in_version_order_as_one_new_batch() {
    let files = [
        file("10", "a", true),
        file("9", "b", true),
        file("1", "c", true),
    ];
    let p = run(&files, &[], latest()).unwrap();
    assert_eq!(ids(&p), ["+1", "+9", "+10"]);
    assert_eq!(p.batch, 1);
    let rows = [row("1", "c", 1)];
    let p = run(&files, &rows, latest()).unwrap();
    assert_eq!(ids(&p), ["+9", "+10"]);
    assert_eq!(p.batch, 2);
    let p = run(&files, &rows, Request::Latest { to: Some(v("9")) }).unwrap();
    assert_eq!(ids(&p), ["+9"]);
    assert!(matches!(
        run(&files, &rows, Request::Latest { to: Some(v("8")) }),
        Err(PlanError::UnknownVersion(_))
    ));
    let all = [row("1", "c", 1), row("9", "b", 1), row("10", "a", 2)];
    assert!(run(&files, &all, latest()).unwrap().steps.is_empty());
}

#[test]
fn drift_refuses_latest_and_up_but_not_crlf_changes() {
    let files = [file("1", "a", true), file("2", "b", true)];
    let e = run(&files, &[row("1", "zzz", 1)], latest()).unwrap_err();
    let PlanError::Drift(d) = e else {
        panic!("{e}")
    };
    assert!(d.to_string().contains("1_m1  modified  ledger"), "{d}");
    assert!(d.to_string().contains("migrate:repair"), "{d}");
    let e = run(
        &files[1..],
        &[row("1", "a", 1)],
        Request::Up { target: None },
    )
    .unwrap_err();
    assert!(e.to_string().contains("1_m1  missing"), "{e}");
}

#[test]
fn out_of_order_warns_or_refuses() {
    let files = [
        file("1", "a", true),
        file("2", "b", true),
        file("3", "c", true),
    ];
    let rows = [row("1", "a", 1), row("3", "c", 1)];
    let p = run(&files, &rows, latest()).unwrap();
    assert_eq!(ids(&p), ["+2"]);
    assert!(p.warnings[0].contains("2_m2 is older than the newest applied migration (3_m3)"));
    let e = plan_with(&files, &rows, &latest(), false, 0).unwrap_err();
    assert!(matches!(e, PlanError::OutOfOrder { .. }), "{e}");
}

#[test]
fn failed_migrations_resume_or_block() {
    let files = [
        file("1", "a", true),
        file("2", "b", true),
        file("3", "c", true),
    ];
    // prefix unchanged: resume at done
    let rows = [
        row("1", "a", 1),
        failed("2", Direction::Up, 2, 5, true, true),
    ];
    let p = run(&files, &rows, latest()).unwrap();
    assert_eq!(ids(&p), ["+2@2", "+3"]);
    assert_eq!(p.batch, 2);
    let r = p.steps[0].resume.unwrap();
    assert!(!r.interrupted);
    // killed (no error text): marked interrupted
    let rows = [failed("2", Direction::Up, 2, 5, true, false)];
    let p = run(&files, &rows, latest()).unwrap();
    let r = p.steps[1].resume.unwrap();
    assert_eq!(p.steps[1].direction, Direction::Up);
    assert!(r.interrupted);
    // prefix changed: blocked with exit 3 and a pointer to resolve
    let rows = [failed("2", Direction::Up, 2, 5, false, true)];
    let e = run(&files, &rows, latest()).unwrap_err();
    assert!(matches!(&e, PlanError::Blocked(b) if b.reason == BlockReason::PrefixChanged));
    assert!(
        e.to_string().contains("migrate:resolve 2 --rolled-back"),
        "{e}"
    );
    // zero statements done never blocks
    let rows = [failed("2", Direction::Up, 0, 5, false, false)];
    assert_eq!(
        ids(&run(&files, &rows, latest()).unwrap()),
        ["+1", "+2@0", "+3"]
    );
    // a failed apply blocks a rollback
    let rows = [
        row("1", "a", 1),
        failed("2", Direction::Up, 2, 5, true, true),
    ];
    let e = run(&files, &rows, Request::Rollback(Scope::LastBatch)).unwrap_err();
    assert!(
        matches!(&e, PlanError::Blocked(b) if b.reason == BlockReason::ApplyUnfinished),
        "{e}"
    );
    // a failed file that is gone
    let rows = [failed("4", Direction::Up, 1, 2, true, true)];
    let e = run(&files, &rows, latest()).unwrap_err();
    assert!(
        matches!(&e, PlanError::Blocked(b) if b.reason == BlockReason::FileMissing),
        "{e}"
    );
}

#[test]
fn up_takes_the_next_pending_or_the_one_named() {
    let files = [
        file("1", "a", true),
        file("2", "b", true),
        file("3", "c", true),
    ];
    let rows = [row("1", "a", 1)];
    assert_eq!(
        ids(&run(&files, &rows, Request::Up { target: None }).unwrap()),
        ["+2"]
    );
    assert_eq!(
        ids(&run(
            &files,
            &rows,
            Request::Up {
                target: Some(v("3"))
            }
        )
        .unwrap()),
        ["+3"]
    );
    assert!(matches!(
        run(
            &files,
            &rows,
            Request::Up {
                target: Some(v("1"))
            }
        ),
        Err(PlanError::NotPending(_))
    ));
}

pub(super) fn ids_of(p: Result<Plan, PlanError>) -> Vec<String> {
    ids(&p.unwrap())
}

mod revert;
