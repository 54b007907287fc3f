//! Table tests of planning rollbacks: scopes, unfinished rollbacks, irreversible and missing
//! migrations.

use super::*;

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

/// A rollback killed as it finished the last migration of its batch: the next rollback of the
/// last batch finishes it and stops there (the batch before is not the one it was undoing).
#[test]
fn a_resumed_rollback_keeps_its_batch_as_the_last() {
    let files = [
        file("1", "a", true),
        file("2", "b", true),
        file("3", "c", true),
    ];
    let rows = [
        row("1", "a", 1),
        row("2", "b", 1),
        MigrationRow {
            batch: 2,
            ..failed("3", Direction::Down, 1, 1, true, false)
        },
    ];
    let rb = |s| ids(&run(&files, &rows, Request::Rollback(s)).unwrap());
    assert_eq!(rb(Scope::LastBatch), ["-3@1"]);
    assert_eq!(rb(Scope::Step(1)), ["-3@1"]);
    assert_eq!(rb(Scope::Step(2)), ["-3@1", "-2"]);
    assert_eq!(rb(Scope::All), ["-3@1", "-2", "-1"]);
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
