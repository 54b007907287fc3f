//! schema:dump and schema:load on the real server.

use crate::helpers::*;

fn project(db: &TestDb) -> Project {
    let p = Project::new(db);
    p.migration(
        "1_init",
        "CREATE TABLE accounts (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL DEFAULT 'x', j JSON);\n\
         INSERT INTO accounts (name) VALUES ('a');\n\
         CREATE TABLE orders (id INT PRIMARY KEY, account INT, FOREIGN KEY (account) REFERENCES accounts (id));\n\
         CREATE VIEW big AS SELECT id FROM orders WHERE id > 100;\n\
         DELIMITER $$\n\
         CREATE TRIGGER tr BEFORE INSERT ON orders FOR EACH ROW BEGIN SET NEW.id = NEW.id + 0; END$$\n\
         CREATE PROCEDURE p() BEGIN SELECT 1; END$$\n\
         DELIMITER ;\n",
        Some("DROP PROCEDURE p;\nDROP TRIGGER tr;\nDROP VIEW big;\nDROP TABLE orders;\nDROP TABLE accounts;\n"),
    );
    p
}

#[test]
fn a_dump_is_the_same_every_run_and_loads_into_an_empty_database_that_dumps_the_same() {
    let mut db = TestDb::new();
    let p = project(&db);
    p.run(&["migrate:latest"]).ok();
    let r = p.run(&["schema:dump"]).ok();
    assert!(
        r.stdout.contains(
            "Wrote db/schema.sql: 1 procedure, 4 tables, 1 trigger, 1 view, 1 ledger row."
        ),
        "{r}"
    );
    let first = std::fs::read(p.path().join("db/schema.sql")).unwrap();
    // Rows inserted since (the AUTO_INCREMENT counter moved) change nothing.
    db.server.exec("INSERT INTO accounts (name) VALUES ('b')");
    p.run(&["schema:dump"]).ok();
    assert_eq!(
        first,
        std::fs::read(p.path().join("db/schema.sql")).unwrap()
    );
    let text = String::from_utf8(first.clone()).unwrap();
    let sql: String = text
        .lines()
        .filter(|l| !l.starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!sql.contains("DEFINER"), "{text}");
    assert!(!sql.contains("AUTO_INCREMENT="), "{text}");
    assert!(!sql.contains(&format!("`{}`.", db.name)), "{text}");

    // Into a fresh database: status shows everything applied, and its dump is the same bytes.
    let copy = TestDb::new();
    let q = Project::new(&copy);
    std::fs::create_dir_all(q.path().join("db")).unwrap();
    std::fs::write(q.path().join("db/schema.sql"), &first).unwrap();
    q.run(&["schema:load"]).ok().stdout_has(
        "Loaded db/schema.sql: 1 procedure, 4 tables, 1 trigger, 1 view, 1 ledger row.",
    );
    for f in ["1_init.up.sql", "1_init.down.sql"] {
        std::fs::copy(
            p.path().join("db/migrations").join(f),
            q.path().join("db/migrations").join(f),
        )
        .unwrap();
    }
    q.run(&["migrate:status"]).ok().stdout_has("1 applied");
    q.run(&["migrate:validate"]).ok();
    q.run(&["schema:dump", "--output", "again.sql"]).ok();
    assert_eq!(
        String::from_utf8(std::fs::read(q.path().join("again.sql")).unwrap()).unwrap(),
        text
    );
    // Loading twice is refused: the database is no longer empty.
    q.run(&["schema:load"]).code(3).stderr_has("is not empty");
}

#[test]
fn drift_names_what_was_changed_by_hand_and_a_migration_is_not_drift() {
    let mut db = TestDb::new();
    let p = project(&db);
    p.run(&["migrate:drift"]).ok().stdout_has("No snapshot yet");
    p.run(&["migrate:latest"]).ok();
    p.run(&["migrate:drift"]).ok().stdout_has("No drift");
    db.server.exec("ALTER TABLE orders ADD COLUMN note TEXT");
    db.server
        .exec("ALTER TABLE orders DROP FOREIGN KEY orders_ibfk_1");
    db.server.exec("DROP INDEX account ON orders");
    let r = p.run(&["migrate:drift"]).code(3);
    for expected in [
        "table `orders`: column `note` added by hand",
        "table `orders`: index `account` dropped by hand",
        "table `orders`: constraint `orders_ibfk_1` dropped by hand",
    ] {
        assert!(r.stdout.contains(expected), "{expected:?}:\n{r}");
    }
    let j = p.run(&["--json", "migrate:drift"]).code(3).json();
    assert_eq!(j["changes"].as_array().map(Vec::len), Some(3), "{j}");
    // Changes made by a migration are not drift: its run stores a new snapshot.
    db.server.exec("ALTER TABLE orders DROP COLUMN note");
    p.migration(
        "2_widen",
        "ALTER TABLE accounts MODIFY name VARCHAR(80) NOT NULL DEFAULT 'x';\n",
        Some("ALTER TABLE accounts MODIFY name VARCHAR(50) NOT NULL DEFAULT 'x';\n"),
    );
    p.run(&["migrate:latest"]).ok();
    p.run(&["migrate:drift"]).ok().stdout_has("No drift");
}

#[test]
fn dump_schema_writes_the_schema_file_after_each_run_that_changes_the_schema() {
    let db = TestDb::new();
    let p = project(&db);
    p.write(
        "knexfile.toml",
        &format!(
            "[development]\nurl = \"{}\"\ndump_schema = true\n",
            db.url()
        ),
    );
    let run = p.run(&["migrate:latest"]).ok();
    assert!(
        run.stderr.contains("wrote db/schema.sql (dump_schema)"),
        "{run}"
    );
    let after_latest = std::fs::read_to_string(p.path().join("db/schema.sql")).unwrap();
    p.run(&["schema:dump", "--output", "by-hand.sql"]).ok();
    let by_hand = std::fs::read_to_string(p.path().join("by-hand.sql")).unwrap();
    assert_eq!(after_latest, by_hand, "the file is what schema:dump writes");
    // Nothing to do: nothing written.
    std::fs::remove_file(p.path().join("db/schema.sql")).unwrap();
    p.run(&["migrate:latest"]).ok();
    assert!(!p.path().join("db/schema.sql").exists());
    p.run(&["migrate:rollback"]).ok();
    let after_rollback = std::fs::read_to_string(p.path().join("db/schema.sql")).unwrap();
    assert_ne!(after_rollback, after_latest, "a rollback rewrites it");
}

#[test]
fn status_with_drift_says_in_one_line_whether_the_schema_was_changed_by_hand() {
    let mut db = TestDb::new();
    let p = project(&db);
    p.run(&["migrate:status", "--drift"])
        .ok()
        .stdout_has("schema: no snapshot yet");
    p.run(&["migrate:latest"]).ok();
    p.run(&["migrate:status", "--drift"])
        .ok()
        .stdout_has("schema: no drift since the run of");
    db.server.exec("ALTER TABLE accounts ADD COLUMN note INT");
    let run = p.run(&["migrate:status", "--drift"]).ok();
    assert!(
        run.stdout
            .contains("schema: DRIFT, 1 change by hand since the run of")
            && run.stdout.contains("table `accounts`"),
        "{run}"
    );
    p.run(&["migrate:status", "--drift", "--exit-code"]).code(3);
    let json = p.run(&["migrate:status", "--drift", "--json"]).ok().json();
    assert_eq!(json["drift"]["changes"].as_array().map(Vec::len), Some(1));
    // Without --drift, status reads no schema and says nothing of it.
    p.run(&["migrate:status"]).ok().stdout_lacks("schema:");
}
