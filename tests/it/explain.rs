//! `migrate:latest --dry-run --explain` on the real server: its verdicts against what the real
//! ALTERs do on the real tables, chains of migrations, and the scratch schema it leaves behind
//! (none).

use serde_json::Value;

use crate::helpers::*;

/// The order in which the server prefers algorithms and locks (as `--explain` tries them).
const TRIES: [(&str, Option<&str>); 7] = [
    ("INSTANT", None),
    ("INPLACE", Some("NONE")),
    ("INPLACE", Some("SHARED")),
    ("INPLACE", Some("EXCLUSIVE")),
    ("COPY", Some("NONE")),
    ("COPY", Some("SHARED")),
    ("COPY", Some("EXCLUSIVE")),
];

/// What the server really does with one statement on the live table: the first algorithm and
/// lock it accepts, appended the plain way (`, ALGORITHM=…, LOCK=…` after an ALTER's clauses,
/// ` ALGORITHM=… LOCK=…` after a CREATE INDEX), and whether the table was rebuilt (new InnoDB
/// table id). None when it accepts none of them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Real {
    algorithm: String,
    lock: Option<String>,
    rebuilds: bool,
}

fn table_id(db: &mut TestDb, table: &str) -> String {
    let view = if db.server.is_mariadb() {
        "INNODB_SYS_TABLES"
    } else {
        "INNODB_TABLES"
    };
    let name = db.name.clone();
    db.server
        .value(&format!(
            "SELECT TABLE_ID FROM information_schema.{view} WHERE NAME = '{name}/{table}'"
        ))
        .unwrap_or_else(|| panic!("no InnoDB table {name}/{table}"))
}

fn real(db: &mut TestDb, table: &str, stmt: &str) -> Option<Real> {
    // DROP INDEX i ON t is ALTER TABLE t DROP INDEX i (MariaDB's DROP INDEX takes no options).
    let alter;
    let stmt = match stmt
        .strip_prefix("DROP INDEX ")
        .and_then(|r| r.split_once(" ON "))
    {
        Some((index, on)) => {
            alter = format!("ALTER TABLE {on} DROP INDEX {index}");
            alter.as_str()
        }
        None => stmt,
    };
    let index = stmt.starts_with("CREATE");
    let before = table_id(db, table);
    for (algorithm, lock) in TRIES {
        let sql = match (index, lock) {
            (false, None) => format!("{stmt}, ALGORITHM={algorithm}"),
            (false, Some(l)) => format!("{stmt}, ALGORITHM={algorithm}, LOCK={l}"),
            (true, None) => format!("{stmt} ALGORITHM={algorithm}"),
            (true, Some(l)) => format!("{stmt} ALGORITHM={algorithm} LOCK={l}"),
        };
        if db.server.try_exec(&sql).is_ok() {
            let rebuilds = table_id(db, table) != before;
            return Some(Real {
                algorithm: algorithm.into(),
                lock: lock.map(Into::into),
                rebuilds,
            });
        }
    }
    db.server.exec(stmt);
    None
}

/// The `explain` objects of a `--json` dry run, statement by statement across the steps.
fn explains(j: &Value) -> Vec<Value> {
    j["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("no steps: {j}"))
        .iter()
        .flat_map(|s| s["statements"].as_array().unwrap().clone())
        .map(|s| s["explain"].clone())
        .collect()
}

fn verdict(e: &Value) -> Option<Real> {
    Some(Real {
        algorithm: e["algorithm"].as_str()?.to_owned(),
        lock: e["lock"].as_str().map(Into::into),
        rebuilds: e["rebuilds"].as_bool()?,
    })
}

fn schema_exists(db: &mut TestDb, name: &str) -> bool {
    db.server.count(&format!(
        "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{name}'"
    )) > 0
}

/// `big` with `rows` rows (doubling INSERT … SELECTs), a parent table, and fresh statistics.
fn big_table(db: &mut TestDb, rows: u64) {
    db.server.exec("CREATE TABLE parent (id INT PRIMARY KEY)");
    db.server.exec("INSERT INTO parent VALUES (1), (2)");
    db.server.exec(
        "CREATE TABLE big (id INT PRIMARY KEY, n INT NOT NULL, pid INT NOT NULL, \
         name VARCHAR(50) NOT NULL, note VARCHAR(100) CHARACTER SET utf8mb4, old INT, KEY (pid)) \
         ENGINE=InnoDB",
    );
    db.server
        .exec("INSERT INTO big VALUES (1, 1, 1, 'name1', REPEAT('x', 60), 1)");
    let mut have = 1;
    while have < rows {
        db.server.exec(&format!(
            "INSERT INTO big SELECT id + {have}, n + {have}, 1 + (id % 2), CONCAT('name', id + \
             {have}), note, old FROM big WHERE id + {have} <= {rows}"
        ));
        have = (have * 2).min(rows);
    }
    db.server.exec("ANALYZE TABLE big");
}

/// One ALTER after another on a 200,000-row table, covering the three verdicts (and the
/// locks and rebuilds between them) on both servers: columns added, moved, dropped, renamed,
/// retyped, widened, generated; indexes added, renamed, dropped; a foreign key; a character
/// set; a rebuild; a row format.
const CLAUSES: [&str; 22] = [
    "ALTER TABLE big ADD COLUMN added INT",
    "ALTER TABLE big ADD INDEX by_n (n)",
    "ALTER TABLE big MODIFY n BIGINT NOT NULL",
    "ALTER TABLE big DROP COLUMN old",
    "ALTER TABLE big RENAME COLUMN name TO title",
    "ALTER TABLE big ADD CONSTRAINT big_parent FOREIGN KEY (pid) REFERENCES parent (id)",
    "ALTER TABLE big MODIFY note VARCHAR(100) CHARACTER SET latin1",
    "ALTER TABLE big ADD FULLTEXT INDEX ft (title)",
    "ALTER TABLE big ENGINE=InnoDB",
    "CREATE INDEX by_pid_n ON big (pid, n)",
    "ALTER TABLE big DROP INDEX by_n",
    "ALTER TABLE big ALTER COLUMN n SET DEFAULT 5",
    "ALTER TABLE big ADD COLUMN mid INT AFTER id",
    "ALTER TABLE big MODIFY title VARCHAR(60) NOT NULL",
    "ALTER TABLE big MODIFY title VARCHAR(100) NOT NULL",
    "ALTER TABLE big ADD COLUMN v INT AS (n + 1) VIRTUAL",
    "ALTER TABLE big ADD COLUMN s INT AS (n + 1) STORED",
    "ALTER TABLE big DROP FOREIGN KEY big_parent",
    "ALTER TABLE big RENAME INDEX by_pid_n TO by_pid_and_n",
    "ALTER TABLE big ADD UNIQUE INDEX uq (id, n)",
    "DROP INDEX ft ON big",
    "ALTER TABLE big ROW_FORMAT=COMPACT",
];

#[test]
fn explain_verdicts_equal_what_the_real_alters_do_on_a_200000_row_table() {
    let mut db = TestDb::new();
    big_table(&mut db, 200_000);
    let p = Project::new(&db);
    for (i, clause) in CLAUSES.iter().enumerate() {
        p.migration(
            &format!("{}_step{}", i + 1, i + 1),
            &format!("{clause};\n"),
            None,
        );
    }
    let r = p
        .run(&["--json", "migrate:latest", "--dry-run", "--explain"])
        .ok();
    let j = r.json();
    let scratch = j["explain"]["scratch_schema"].as_str().unwrap().to_owned();
    assert!(scratch.starts_with("dbtool_explain_"), "{j}");
    assert!(
        !schema_exists(&mut db, &scratch),
        "{scratch} was left behind"
    );
    let explained = explains(&j);
    assert_eq!(explained.len(), CLAUSES.len(), "{j}");
    // The real ALTERs, in the same order, on the real table.
    let mut mismatches = Vec::new();
    for (clause, e) in CLAUSES.iter().zip(&explained) {
        assert!(e["algorithm"].is_string(), "not explained: {clause}: {e}");
        assert_eq!(e["table"], "big", "{clause}: {e}");
        let rows = e["rows"].as_u64().unwrap();
        assert!((100_000..=400_000).contains(&rows), "{clause}: rows {rows}");
        assert!(e["bytes"].as_u64().unwrap() > 4 << 20, "{clause}: {e}");
        let want = real(&mut db, "big", clause);
        if verdict(e) != want {
            mismatches.push(format!("{clause}\n  explain {e}\n  real    {want:?}"));
        }
        let consequence = e["consequence"].as_str().unwrap();
        let algorithm = e["algorithm"].as_str().unwrap_or("could not explain");
        assert!(consequence.starts_with(algorithm), "{consequence}");
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    // The three verdicts all occur (which clause gets which is each server's own business).
    for algorithm in ["INSTANT", "INPLACE", "COPY"] {
        assert!(
            explained.iter().any(|e| e["algorithm"] == algorithm),
            "no {algorithm}: {explained:?}"
        );
    }
}

#[test]
fn the_text_script_says_each_verdict_in_a_comment_before_its_statement() {
    let mut db = TestDb::new();
    big_table(&mut db, 1_000);
    let p = Project::new(&db);
    p.migration(
        "1_a",
        "ALTER TABLE big ADD COLUMN added INT;\nUPDATE big SET added = 1;\n",
        None,
    );
    p.migration("2_b", "ALTER TABLE big MODIFY n BIGINT NOT NULL;\n", None);
    let r = p.run(&["migrate:latest", "--dry-run", "--explain"]).ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    for stmt in [
        "ALTER TABLE big ADD COLUMN added INT;",
        "ALTER TABLE big MODIFY n BIGINT NOT NULL;",
    ] {
        let at = lines
            .iter()
            .position(|l| *l == stmt)
            .unwrap_or_else(|| panic!("{r}"));
        assert!(lines[at - 1].starts_with("-- explain: "), "{stmt}:\n{r}");
        assert!(
            lines[..at].iter().any(|l| l.ends_with("statement 1")),
            "{r}"
        );
    }
    // The UPDATE gets no verdict; every other line is a statement or a comment.
    let update = lines.iter().position(|l| l.starts_with("UPDATE")).unwrap();
    assert!(!lines[update - 1].starts_with("-- explain"), "{r}");
    for l in &lines {
        assert!(
            l.is_empty() || l.starts_with("-- ") || l.ends_with(';'),
            "not a comment nor a statement: {l:?}\n{r}"
        );
    }
    r.stdout_has("-- Explain: verdicts of the server (");
}

#[test]
fn a_chain_is_explained_on_the_tables_as_the_run_would_leave_them() {
    let mut db = TestDb::new();
    big_table(&mut db, 5_000);
    let p = Project::new(&db);
    let m1 = [
        "CREATE TABLE fresh (id INT PRIMARY KEY, n INT)",
        "INSERT INTO fresh VALUES (1, 1)",
    ];
    let m2 = [
        "ALTER TABLE fresh ADD COLUMN extra INT",
        "ALTER TABLE fresh MODIFY n BIGINT",
    ];
    let m3 = [
        "RENAME TABLE big TO huge",
        "ALTER TABLE huge ADD INDEX by_n (n)",
    ];
    for (id, stmts) in [
        ("1_create", &m1[..]),
        ("2_alter", &m2[..]),
        ("3_rename", &m3[..]),
    ] {
        p.migration(id, &format!("{};\n", stmts.join(";\n")), None);
    }
    let j = p
        .run(&["--json", "migrate:latest", "--dry-run", "--explain"])
        .ok()
        .json();
    let e = explains(&j);
    // CREATE, INSERT, RENAME get no verdict.
    for i in [0, 1, 4] {
        assert!(e[i].is_null(), "{i}: {j}");
    }
    for i in [2, 3] {
        assert_eq!(e[i]["table"], "fresh", "{j}");
        assert_eq!(e[i]["rows"], 0, "{j}");
        assert!(
            e[i]["consequence"].as_str().unwrap().contains("INSTANT")
                || e[i]["consequence"]
                    .as_str()
                    .unwrap()
                    .contains("the new table (created earlier in this run)"),
            "{j}"
        );
    }
    // The renamed table is the live `big`, with its rows.
    assert_eq!(e[5]["table"], "big", "{j}");
    assert!(e[5]["rows"].as_u64().unwrap() > 1_000, "{j}");
    // What the server really does, step by step.
    p.run(&["migrate:up"]).ok();
    assert_eq!(verdict(&e[2]), real(&mut db, "fresh", m2[0]), "{j}");
    assert_eq!(verdict(&e[3]), real(&mut db, "fresh", m2[1]), "{j}");
    db.server.exec(m3[0]);
    assert_eq!(verdict(&e[5]), real(&mut db, "huge", m3[1]), "{j}");
}

#[test]
fn a_session_variable_set_in_a_file_counts_for_that_file_only() {
    let mut db = TestDb::new();
    big_table(&mut db, 1_000);
    let p = Project::new(&db);
    let fk = |n: &str| {
        format!("ALTER TABLE big ADD CONSTRAINT {n} FOREIGN KEY (pid) REFERENCES parent (id)")
    };
    p.migration(
        "1_unchecked",
        &format!("SET FOREIGN_KEY_CHECKS = 0;\n{};\n", fk("fk1")),
        None,
    );
    p.migration("2_checked", &format!("{};\n", fk("fk2")), None);
    let j = p
        .run(&["--json", "migrate:latest", "--dry-run", "--explain"])
        .ok()
        .json();
    let e = explains(&j);
    assert!(e[0].is_null(), "{j}");
    db.server.exec("SET FOREIGN_KEY_CHECKS = 0");
    assert_eq!(verdict(&e[1]), real(&mut db, "big", &fk("fk1")), "{j}");
    db.server.exec("SET FOREIGN_KEY_CHECKS = 1");
    assert_eq!(verdict(&e[2]), real(&mut db, "big", &fk("fk2")), "{j}");
}

#[test]
fn a_statement_that_fails_on_the_copy_is_reported_and_the_scratch_schema_is_gone() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration(
        "1_bad",
        "ALTER TABLE missing ADD COLUMN c INT;\nCREATE TABLE t (id INT PRIMARY KEY);\n\
         ALTER TABLE t ADD PARTITION (PARTITION p1 VALUES LESS THAN (10));\n\
         ALTER TABLE other_db.t ADD COLUMN c INT;\n",
        None,
    );
    let j = p
        .run(&["--json", "migrate:latest", "--dry-run", "--explain"])
        .ok()
        .json();
    let e = explains(&j);
    let text = |i: usize| e[i]["consequence"].as_str().unwrap().to_owned();
    assert!(
        text(0).starts_with("could not explain: it fails on the empty copy"),
        "{j}"
    );
    assert!(text(0).contains("1146"), "{j}");
    assert!(e[1].is_null(), "{j}");
    assert!(text(2).starts_with("could not explain"), "{j}");
    assert!(text(3).contains("names the database `other_db`"), "{j}");
    let scratch = j["explain"]["scratch_schema"].as_str().unwrap().to_owned();
    assert!(!schema_exists(&mut db, &scratch));
    // Nothing was changed in the live database.
    assert!(!db.has_table("t"));
}

#[test]
fn explain_needs_a_dry_run() {
    let db = TestDb::new();
    let p = Project::new(&db);
    p.migration("1_a", "CREATE TABLE a (id INT PRIMARY KEY);\n", None);
    p.run(&["migrate:latest", "--explain"])
        .code(2)
        .stderr_has("--dry-run");
    p.run(&["migrate:up", "--explain"]).code(2);
    p.run(&["migrate:rollback", "--dry-run", "--explain"])
        .code(2);
}

#[test]
fn near_the_servers_limit_of_row_versions_the_verdict_is_the_live_tables() {
    let mut db = TestDb::new();
    db.server
        .exec("CREATE TABLE rv (id INT PRIMARY KEY, n INT)");
    db.server
        .exec("INSERT INTO rv VALUES (1, 1), (2, 2), (3, 3)");
    // Instant ADD and DROP COLUMNs until the server refuses one (MySQL: at its limit of row
    // versions, 64, or 255 from 9.1) or 256 of them ran (MariaDB has no such limit).
    let mut refused = None;
    for i in 0..256 {
        let sql = if i % 2 == 0 {
            "ALTER TABLE rv ADD COLUMN pad INT, ALGORITHM=INSTANT"
        } else {
            "ALTER TABLE rv DROP COLUMN pad, ALGORITHM=INSTANT"
        };
        if let Err(e) = db.server.try_exec(sql) {
            refused = Some(e);
            break;
        }
    }
    let p = Project::new(&db);
    let stmt = "ALTER TABLE rv ADD COLUMN extra INT";
    p.migration("1_extra", &format!("{stmt};\n"), None);
    let j = p
        .run(&["--json", "migrate:latest", "--dry-run", "--explain"])
        .ok()
        .json();
    let e = &explains(&j)[0];
    let want = real(&mut db, "rv", stmt);
    assert_eq!(verdict(e), want, "{j}");
    // Where the server refused an instant change, the live ALTER is not INSTANT either, and
    // explain says why.
    if let Some(refusal) = refused {
        assert_ne!(
            want.map(|w| w.algorithm),
            Some("INSTANT".into()),
            "{refusal}"
        );
        assert!(
            e["note"]
                .as_str()
                .unwrap_or("")
                .contains("limit of row versions"),
            "{refusal}: {j}"
        );
    }
}
