//! Table tests of planning: pending, applied, modified, missing, failed, out-of-order,
//! irreversible, and every request.

use super::*;
use crate::files::{SqlFile, checksum};

#[derive(Debug, thiserror::Error)]
#[error("no prefix")]
struct NoPrefix;

/// Prefixes from a fixed table: (version, k) -> checksum of "v:k".
struct Table;

impl Prefixes for Table {
    type Error = NoPrefix;
    fn prefix(&mut self, file: &MigrationFile, d: Direction, k: u32) -> Result<Checksum, NoPrefix> {
        Ok(pfx(&file.version.to_string(), d, k))
    }
}

fn pfx(v: &str, d: Direction, k: u32) -> Checksum {
    checksum(format!("{v}:{}:{k}", d.as_str()).as_bytes())
}

fn v(s: &str) -> Version {
    s.parse().unwrap()
}

/// A file; `body` stands for its content (its checksum is that of `body`).
fn file(version: &str, body: &str, down: bool) -> MigrationFile {
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

fn row(version: &str, body: &str, batch: u32) -> LedgerRow {
    LedgerRow {
        version: v(version),
        name: format!("m{version}"),
        batch,
        checksum: checksum(body.as_bytes()),
        checksum_algo: "sha256-lf-v1".into(),
        down_checksum: None,
        state: State::Applied,
        direction: Direction::Up,
        statements_done: 1,
        statements_total: 1,
        prefix_checksum: None,
        error: None,
        applied_at: "2026-01-01T00:00:00.000000Z".into(),
        duration_ms: 1,
        applied_by: "root@localhost".into(),
        tool_version: "0.1.0".into(),
    }
}

fn failed(
    version: &str,
    d: Direction,
    done: u32,
    total: u32,
    prefix_ok: bool,
    error: bool,
) -> LedgerRow {
    LedgerRow {
        state: State::Failed,
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

fn ids(p: &Plan) -> Vec<String> {
    p.steps
        .iter()
        .map(|s| match s {
            Step::Apply { file, resume: None } => format!("+{}", file.version),
            Step::Apply {
                file,
                resume: Some(r),
            } => format!("+{}@{}", file.version, r.done),
            Step::Revert {
                file, resume: None, ..
            } => format!("-{}", file.version),
            Step::Revert {
                file,
                resume: Some(r),
                ..
            } => format!("-{}@{}", file.version, r.done),
        })
        .collect()
}

fn run(
    files: &[MigrationFile],
    rows: &[LedgerRow],
    req: Request,
) -> Result<Plan, PlanError<NoPrefix>> {
    plan(files, rows, &req, opts(true), &mut Table)
}

fn opts(out_of_order: bool) -> Options {
    Options {
        out_of_order,
        last_batch: 0,
    }
}

#[test]
fn batch_numbers_never_repeat_after_a_rollback() {
    let files = [file("1", "a", true)];
    let p = plan(
        &files,
        &[],
        &latest(),
        Options {
            out_of_order: true,
            last_batch: 1,
        },
        &mut Table,
    )
    .unwrap();
    assert_eq!(p.batch, 2);
}

fn latest() -> Request {
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
    let got: Vec<(String, &str)> = entries(&files, &rows)
        .iter()
        .map(|e| (e.version.to_string(), e.status.name()))
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
    let e = plan(&files, &rows, &latest(), opts(false), &mut Table).unwrap_err();
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
    let Step::Apply {
        resume: Some(r), ..
    } = &p.steps[0]
    else {
        panic!()
    };
    assert!(!r.interrupted);
    // killed (no error text): marked interrupted
    let rows = [failed("2", Direction::Up, 2, 5, true, false)];
    let p = run(&files, &rows, latest()).unwrap();
    let Step::Apply {
        resume: Some(r), ..
    } = &p.steps[1]
    else {
        panic!("{p:?}")
    };
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
fn unfinished_rollbacks_block_latest_and_resume_first_on_rollback() {
    let files = [file("1", "a", true), file("2", "b", true)];
    let rows = [
        row("1", "a", 1),
        failed("2", Direction::Down, 1, 3, true, true),
    ];
    let e = run(&files, &rows, latest()).unwrap_err();
    assert!(
        matches!(&e, PlanError::Blocked(b) if b.reason == BlockReason::RollbackUnfinished),
        "{e}"
    );
    let p = run(&files, &rows, Request::Rollback(Scope::LastBatch)).unwrap();
    assert_eq!(ids(&p), ["-2@1", "-1"]);
    let p = run(&files, &rows, Request::Down { target: None }).unwrap();
    assert_eq!(ids(&p), ["-2@1"]);
    let p = run(
        &files,
        &rows,
        Request::Down {
            target: Some(v("2")),
        },
    )
    .unwrap();
    assert_eq!(ids(&p), ["-2@1"]);
}

#[test]
fn rollback_scopes() {
    let files: Vec<_> = ["1", "2", "3", "4", "5"]
        .iter()
        .map(|n| file(n, n, true))
        .collect();
    let rows = [
        row("1", "1", 1),
        row("2", "2", 1),
        row("3", "3", 2),
        row("4", "4", 2),
        row("5", "5", 3),
    ];
    let rb = |s| ids(&run(&files, &rows, Request::Rollback(s)).unwrap());
    assert_eq!(rb(Scope::LastBatch), ["-5"]);
    assert_eq!(rb(Scope::All), ["-5", "-4", "-3", "-2", "-1"]);
    assert_eq!(rb(Scope::Step(2)), ["-5", "-4"]);
    assert_eq!(rb(Scope::Step(9)).len(), 5);
    assert_eq!(rb(Scope::To(v("2"))), ["-5", "-4", "-3"]);
    assert!(matches!(
        run(&files, &rows, Request::Rollback(Scope::To(v("7")))),
        Err(PlanError::UnknownVersion(_))
    ));
    // out-of-order application: newest batch first, not highest version
    let rows2 = [row("1", "1", 1), row("5", "5", 1), row("3", "3", 2)];
    assert_eq!(
        ids(&run(&files, &rows2, Request::Rollback(Scope::Step(1))).unwrap()),
        ["-3"]
    );
    assert_eq!(
        ids(&run(&files, &rows2, Request::Down { target: None }).unwrap()),
        ["-3"]
    );
    assert_eq!(
        ids(&run(
            &files,
            &rows2,
            Request::Down {
                target: Some(v("1"))
            }
        )
        .unwrap()),
        ["-1"]
    );
    assert!(matches!(
        run(
            &files,
            &rows2,
            Request::Down {
                target: Some(v("2"))
            }
        ),
        Err(PlanError::NotApplied(_))
    ));
    assert!(
        run(&files, &[], Request::Rollback(Scope::LastBatch))
            .unwrap()
            .steps
            .is_empty()
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

#[test]
fn irreversible_migrations_refuse_the_whole_rollback() {
    let files = [
        file("1", "a", true),
        file("2", "b", false),
        file("3", "c", false),
    ];
    let rows = [row("1", "a", 1), row("2", "b", 1), row("3", "c", 1)];
    let e = run(&files, &rows, Request::Rollback(Scope::All)).unwrap_err();
    let PlanError::Irreversible { ids } = &e else {
        panic!("{e}")
    };
    assert_eq!(ids, &["3_m3", "2_m2"]);
    assert!(e.to_string().contains("no down file"), "{e}");
    // a rollback that does not reach them is fine
    let files = [file("1", "a", false), file("2", "b", true)];
    let rows = [row("1", "a", 1), row("2", "b", 2)];
    assert_eq!(
        ids_of(run(&files, &rows, Request::Rollback(Scope::LastBatch))),
        ["-2"]
    );
}

fn ids_of(p: Result<Plan, PlanError<NoPrefix>>) -> Vec<String> {
    ids(&p.unwrap())
}

#[test]
fn rolling_back_a_missing_file_is_drift_and_a_modified_one_warns() {
    let files = [file("1", "a", true)];
    let rows = [row("1", "a", 1), row("2", "b", 2)];
    let e = run(&files, &rows, Request::Rollback(Scope::LastBatch)).unwrap_err();
    assert!(matches!(e, PlanError::Drift(_)), "{e}");
    let rows = [row("1", "CHANGED", 1)];
    let p = run(&files, &rows, Request::Rollback(Scope::LastBatch)).unwrap();
    assert_eq!(ids(&p), ["-1"]);
    assert!(p.warnings[0].contains("changed since it was applied"));
}
