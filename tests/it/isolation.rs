//! Nothing a migration or seed does reaches the next file, corrupts the ledger, or is
//! misreported (issue: "Nothing a migration or seed does can corrupt the ledger…"). One test
//! per family; the ledger families compare the schema with the ledger, as the kill trials do.

use crate::helpers::*;

/// A second database beside the test's, dropped with it.
struct Other {
    name: String,
}

impl Other {
    fn new(db: &TestDb) -> Other {
        let name = format!("{}_other", db.name);
        let mut s = Server::connect(None);
        s.exec(&format!("CREATE DATABASE `{name}`"));
        Other { name }
    }
}

impl Drop for Other {
    fn drop(&mut self) {
        let _ = Server::connect(None).try_exec(&format!("DROP DATABASE IF EXISTS `{}`", self.name));
    }
}

#[test]
fn use_in_one_file_does_not_move_the_next() {
    let mut db = TestDb::new();
    let other = Other::new(&db);
    let p = Project::new(&db);
    let o = &other.name;
    p.migration(
        "1_away",
        &format!("CREATE TABLE here1 (id INT);\nUSE `{o}`;\n"),
        None,
    );
    p.migration("2_next", "CREATE TABLE here2 (id INT PRIMARY KEY);\n", None);
    p.seed("01_away.sql", &format!("USE `{o}`;\n"));
    p.seed(
        "02_rows.sql",
        "DELETE FROM here2;\nINSERT INTO here2 VALUES (1), (2);\n",
    );
    p.run(&["migrate:latest"]).ok();
    p.run(&["seed:run"]).ok();
    assert!(db.has_table("here2"), "{:?}", db.tables());
    assert_eq!(db.server.count("SELECT COUNT(*) FROM here2"), 2);
    let in_other = db.server.count(&format!(
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{o}'"
    ));
    assert_eq!(in_other, 0, "a table was created in the other database");
}

#[test]
fn session_settings_stay_in_their_file() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration(
        "1_tables",
        "CREATE TABLE parent (id INT PRIMARY KEY) ENGINE=InnoDB;\n\
         CREATE TABLE child (id INT PRIMARY KEY, parent INT, FOREIGN KEY (parent) REFERENCES parent (id)) ENGINE=InnoDB;\n\
         CREATE TABLE txt (v VARCHAR(20) CHARACTER SET utf8mb4);\n",
        None,
    );
    // Each of these settings would change what the next file does.
    p.migration(
        "2_settings",
        "SET FOREIGN_KEY_CHECKS = 0;\nSET NAMES latin1;\nSET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES';\n\
         SET SESSION completion_type = 'RELEASE';\nSET autocommit = 0;\n",
        None,
    );
    p.migration(
        "3_text",
        "INSERT INTO txt VALUES ('é');\nINSERT INTO txt VALUES ('a\\nb');\n",
        None,
    );
    p.migration("4_orphan", "INSERT INTO child VALUES (1, 99);\n", None);
    let r = p.run(&["migrate:latest"]).code(1);
    // Foreign-key checks are back on: the orphan is refused.
    assert!(r.stderr.contains("4_orphan.up.sql:1"), "{r}");
    assert!(r.stderr.contains("foreign key constraint"), "{r}");
    assert_eq!(db.server.count("SELECT COUNT(*) FROM child"), 0);
    // The client's character set and the default sql_mode: 'é' is two bytes of UTF-8, and the
    // backslash escapes a newline.
    let hex: Vec<String> = db
        .server
        .rows("SELECT HEX(v) FROM txt ORDER BY HEX(v)")
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    assert_eq!(hex, ["610A62", "C3A9"]);
    // autocommit was back on: what 3_text wrote is committed (this is another session), and
    // the orphan's migration, which ran in one transaction, left no row.
    assert_eq!(
        db.ledger().iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
        ["applied", "applied", "applied"]
    );
}

#[test]
fn autocommit_off_inside_a_migration_cannot_desync_its_ledger() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration(
        "1_a",
        "SET autocommit = 0;\nCREATE TABLE a (id INT);\nCREATE TABLE b (id INT);\nTHIS IS NOT SQL;\n",
        None,
    );
    p.run(&["migrate:latest"]).code(1);
    // Three statements ran and committed (DDL commits itself); the ledger says so.
    assert!(db.has_table("a") && db.has_table("b"));
    assert_eq!(db.ledger(), [("1".into(), "failed".into(), 3, 1)]);
}

#[test]
fn completion_type_release_does_not_end_the_session() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration(
        "1_a",
        "SET SESSION completion_type = 2;\nCREATE TABLE a (id INT);\nINSERT INTO a VALUES (1);\nCREATE TABLE b (id INT);\n",
        None,
    );
    p.run(&["migrate:latest"]).ok();
    assert!(db.has_table("b"));
    assert_eq!(db.ledger(), [("1".into(), "applied".into(), 4, 1)]);
}

#[test]
fn statements_that_write_the_ledger_or_drop_the_database_are_refused_before_anything_runs() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration("1_ok", "CREATE TABLE ok (id INT);\n", None);
    p.run(&["migrate:latest"]).ok();
    let name = db.name.clone();
    for (i, sql, says) in [
        (
            2,
            "TRUNCATE TABLE dbtool_migrations",
            "dbtool's own ledger table `dbtool_migrations`",
        ),
        (3, "DELETE FROM dbtool_log", "`dbtool_log`"),
        (
            4,
            "RENAME TABLE dbtool_migrations TO old_ledger",
            "`dbtool_migrations`",
        ),
        (
            5,
            &format!("DROP DATABASE `{name}`"),
            "the database being migrated",
        ),
        (6, "LOCK TABLES ok WRITE", "LOCK TABLES"),
    ] {
        let id = format!("{i}_bad");
        p.migration(&id, &format!("CREATE TABLE t{i} (id INT);\n{sql};\n"), None);
        let r = p.run(&["migrate:latest"]).code(2);
        assert!(
            r.stderr
                .contains(&format!("{id}.up.sql:2: statement 2 is refused")),
            "{r}"
        );
        assert!(r.stderr.contains(says), "{r}");
        assert!(!db.has_table(&format!("t{i}")), "statement 1 of {id} ran");
        p.remove(&format!("db/migrations/{id}.up.sql"));
    }
    // A dry run says so too.
    p.migration("7_bad", "UPDATE dbtool_migrations SET batch = 9;\n", None);
    p.run(&["migrate:latest", "--dry-run"])
        .code(2)
        .stderr_has("is refused");
    p.remove("db/migrations/7_bad.up.sql");
    // The ledger is as it was.
    assert_eq!(db.ledger(), [("1".into(), "applied".into(), 1, 1)]);
    // A seed may not write the ledger either; it may lock tables (mysqldump does).
    p.seed(
        "01_locks.sql",
        "LOCK TABLES ok WRITE;\nINSERT INTO ok VALUES (1);\nUNLOCK TABLES;\n",
    );
    p.run(&["seed:run"]).ok();
    assert_eq!(db.server.count("SELECT COUNT(*) FROM ok"), 1);
    p.seed(
        "02_bad.sql",
        "INSERT INTO ok VALUES (2);\nDELETE FROM dbtool_seeds;\n",
    );
    p.run(&["seed:run"])
        .code(2)
        .stderr_has("02_bad.sql:2: statement 2 is refused");
    assert_eq!(db.server.count("SELECT COUNT(*) FROM ok WHERE id = 2"), 0);
    assert_eq!(db.server.count("SELECT COUNT(*) FROM dbtool_seeds"), 1);
}

#[test]
fn a_ledger_changed_by_a_migration_at_run_time_stops_the_run_with_the_truth() {
    // Dynamic SQL hides the table name from the check before the run; the guard after the
    // next ledger write catches it.
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration("1_ok", "CREATE TABLE ok (id INT);\n", None);
    p.run(&["migrate:latest"]).ok();
    p.migration(
        "2_sneaky",
        "CREATE TABLE s (id INT);\n\
         SET @q = CONCAT('TRUNCATE TABLE dbtool', '_migrations');\nPREPARE q FROM @q;\nEXECUTE q;\n\
         CREATE TABLE after_it (id INT);\n",
        None,
    );
    let r = p.run(&["migrate:latest"]).code(3);
    assert!(r.stderr.contains("2_sneaky.up.sql"), "{r}");
    assert!(
        r.stderr.contains("dbtool could not record statement"),
        "{r}"
    );
    assert!(r.stderr.contains("changed dbtool's ledger"), "{r}");
    // It stopped before the next statement.
    assert!(!db.has_table("after_it"));
}

#[test]
fn a_migration_that_releases_all_locks_does_not_let_a_second_run_in() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.write(
        "knexfile.toml",
        &format!("[development]\nurl = \"{}\"\nlock_timeout = 1\n", db.url()),
    );
    p.migration(
        "1_a",
        "CREATE TABLE a (id INT);\nDO RELEASE_ALL_LOCKS();\nCREATE TABLE b (id INT);\nDO SLEEP(3);\n",
        None,
    );
    let first = p.spawn(&["migrate:latest"]);
    let name = db.name.clone();
    wait_until(
        "the first run to sleep",
        std::time::Duration::from_secs(20),
        || {
            db.server.count(&format!(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = '{name}' \
             AND INFO LIKE 'DO SLEEP%'"
            )) > 0
        },
    );
    // The lock is still held (on its own connection): the second run times out.
    p.run(&["migrate:latest"])
        .code(4)
        .stderr_has("could not get the migration lock");
    Run::from(first.wait_with_output().unwrap()).ok();
    assert_eq!(db.ledger(), [("1".into(), "applied".into(), 4, 1)]);
}

#[test]
fn writes_to_non_transactional_tables_are_reported_as_kept() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration(
        "1_tables",
        "CREATE TABLE m (id INT) ENGINE=MyISAM;\nCREATE TABLE i (id INT PRIMARY KEY) ENGINE=InnoDB;\n",
        None,
    );
    p.migration(
        "2_rows",
        "INSERT INTO m VALUES (1);\nINSERT INTO i VALUES (1);\nINSERT INTO i VALUES (1);\n",
        None,
    );
    let r = p.run(&["migrate:latest"]).code(1);
    assert!(
        r.stderr
            .contains("rows written to MyISAM table `m` were not rolled back"),
        "{r}"
    );
    assert!(!r.stderr.contains("nothing of it was applied"), "{r}");
    assert_eq!(db.server.count("SELECT COUNT(*) FROM m"), 1);
    assert_eq!(db.server.count("SELECT COUNT(*) FROM i"), 0);
}

#[test]
fn mariadb_only_set_statement_for_is_classified_by_its_statement() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration(
        "1_t",
        "CREATE TABLE t1 (id INT PRIMARY KEY);\nCREATE TABLE t2 (id INT);\nINSERT INTO t2 VALUES (9);\n",
        None,
    );
    p.run(&["migrate:latest"]).ok();
    p.seed(
        "01_s.sql",
        "INSERT INTO t1 VALUES (1);\nSET STATEMENT max_statement_time = 10 FOR TRUNCATE TABLE t2;\n\
         INSERT INTO t1 VALUES (1);\n",
    );
    let r = p.run(&["seed:run"]).code(1);
    assert!(
        r.stderr
            .contains("01_s.sql:2: statement 2 commits implicitly"),
        "{r}"
    );
    assert!(r.stderr.contains("what ran before them was kept"), "{r}");
    assert!(!r.stderr.contains("none of its rows were written"), "{r}");
    // The truth: the TRUNCATE and the row before it stayed.
    assert_eq!(db.server.count("SELECT COUNT(*) FROM t2"), 0);
    assert_eq!(db.server.count("SELECT COUNT(*) FROM t1"), 1);
}
