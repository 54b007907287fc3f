use super::*;
use crate::sql::alter::{Action, read};

fn tries(sql: &str) -> Vec<(String, Option<String>, String)> {
    let Action::Explain(a) = read(sql) else {
        panic!("{sql}")
    };
    attempts(&a)
        .into_iter()
        .map(|t| {
            (
                t.algorithm,
                t.lock,
                a.with(sql, t.add_algorithm, t.add_lock),
            )
        })
        .collect()
}

#[test]
fn without_options_every_algorithm_and_lock_is_tried_in_the_servers_order() {
    let got = tries("ALTER TABLE t ADD c INT");
    let names: Vec<String> = got
        .iter()
        .map(|(a, l, _)| format!("{a} {}", l.as_deref().unwrap_or("-")))
        .collect();
    assert_eq!(
        names,
        [
            "INSTANT -",
            "INPLACE NONE",
            "INPLACE SHARED",
            "INPLACE EXCLUSIVE",
            "COPY NONE",
            "COPY SHARED",
            "COPY EXCLUSIVE"
        ]
    );
    assert_eq!(
        got[1].2,
        "ALTER TABLE t ALGORITHM=INPLACE, LOCK=NONE,  ADD c INT"
    );
}

#[test]
fn a_statements_own_options_narrow_the_tries() {
    let got = tries("ALTER TABLE t ADD INDEX i (c), ALGORITHM=INPLACE");
    assert_eq!(got.len(), 3);
    assert_eq!(
        got[0].2,
        "ALTER TABLE t LOCK=NONE,  ADD INDEX i (c), ALGORITHM=INPLACE"
    );
    let got = tries("ALTER TABLE t ADD INDEX i (c), LOCK=SHARED");
    let algorithms: Vec<&str> = got.iter().map(|(a, _, _)| a.as_str()).collect();
    assert_eq!(algorithms, ["INSTANT", "INPLACE", "COPY"]);
    let got = tries("ALTER TABLE t ADD c INT, ALGORITHM=COPY, LOCK=SHARED");
    assert_eq!(
        got,
        [(
            "COPY".into(),
            Some("SHARED".into()),
            "ALTER TABLE t ADD c INT, ALGORITHM=COPY, LOCK=SHARED".into()
        )]
    );
    let got = tries("ALTER TABLE t ADD c INT, ALGORITHM=DEFAULT");
    assert_eq!(got.len(), 7);
    assert_eq!(got[0].2, "ALTER TABLE t ADD c INT, ALGORITHM=INSTANT");
}

#[test]
fn only_what_an_empty_copy_cannot_check_gets_a_note() {
    let live = Target::Live {
        name: "t".into(),
        rows: 10,
        bytes: 1,
    };
    let note = |sql: &str, algorithm: &str| data_dependent(sql, algorithm, &live);
    let has = |sql: &str, algorithm: &str, what: &str| {
        note(sql, algorithm).is_some_and(|n| n.contains(what))
    };
    assert!(has(
        "ALTER TABLE t ADD UNIQUE KEY (c)",
        "INPLACE",
        "duplicates"
    ));
    assert!(has(
        "ALTER TABLE t ADD PRIMARY KEY (c)",
        "COPY",
        "duplicates"
    ));
    let fk = "ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES p (id)";
    assert!(has(fk, "COPY", "without a parent"));
    // With FOREIGN_KEY_CHECKS off (in place), the server checks no row.
    assert_eq!(note(fk, "INPLACE"), None);
    assert_eq!(note("ALTER TABLE t MODIFY c BIGINT NOT NULL", "COPY"), None);
    assert_eq!(
        data_dependent(
            "ALTER TABLE t ADD UNIQUE (c)",
            "INPLACE",
            &Target::New("t".into())
        ),
        None
    );
}

#[test]
fn statements_that_add_an_index_are_told_apart() {
    assert!(builds_index("ALTER TABLE t ADD INDEX (c)"));
    assert!(builds_index("CREATE UNIQUE INDEX i ON t (c)"));
    assert!(builds_index("alter table t add unique key (c)"));
    assert!(!builds_index("ALTER TABLE t DROP INDEX i"));
    assert!(!builds_index("ALTER TABLE t RENAME INDEX a TO b"));
    assert!(!builds_index("ALTER TABLE t ADD COLUMN c INT"));
}
