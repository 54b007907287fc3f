//! The ledger's own values: versions in one canonical form, every value read validated (exit 3
//! naming the row), schema versions and columns checked, paths compared byte for byte, and a
//! v1 ledger upgraded in place.

use crate::helpers::*;

#[test]
fn a_failed_migration_renamed_with_leading_zeros_resumes_and_finishes() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration(
        "1_a",
        "CREATE TABLE a (id INT);\nCREATE TABLE a (id INT);\n",
        None,
    );
    p.run(&["migrate:latest"]).code(1);
    p.remove("db/migrations/1_a.up.sql");
    p.migration(
        "001_a",
        "CREATE TABLE a (id INT);\nCREATE TABLE b (id INT);\n",
        None,
    );
    p.run(&["migrate:latest"])
        .ok()
        .stdout_has("001_a")
        .stdout_has("resumed at statement 2");
    assert_eq!(db.ledger(), [("1".into(), "applied".into(), 2, 1)]);
    p.run(&["migrate:latest"])
        .ok()
        .stdout_has("Already up to date");
    p.run(&["migrate:status"]).ok().stdout_has("1 applied");
}

#[test]
fn one_version_stored_twice_is_named_not_misread() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration("1_a", "CREATE TABLE a (id INT);\n", Some("DROP TABLE a;\n"));
    p.run(&["migrate:latest"]).ok();
    db.server.exec(
        "INSERT INTO dbtool_migrations SELECT '001', name, batch, checksum, checksum_algo, \
         down_checksum, state, direction, statements_done, statements_total, prefix_checksum, \
         error, applied_at, duration_ms, applied_by, tool_version FROM dbtool_migrations",
    );
    for cmd in [
        vec!["migrate:status"],
        vec!["migrate:latest"],
        vec!["migrate:rollback", "--all"],
    ] {
        p.run(&cmd)
            .code(3)
            .stderr_has("version 1 is recorded twice (as \"001\" and \"1\")");
    }
    assert!(db.has_table("a"), "a rollback ran over the doubled ledger");
}

#[test]
fn a_batch_at_the_columns_maximum_is_an_error_not_a_wrap() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration("1_a", "CREATE TABLE a (id INT);\n", Some("DROP TABLE a;\n"));
    p.run(&["migrate:latest"]).ok();
    db.server
        .exec("UPDATE dbtool_migrations SET batch = 4294967295");
    p.migration("2_b", "CREATE TABLE b (id INT);\n", Some("DROP TABLE b;\n"));
    p.run(&["migrate:latest"])
        .code(3)
        .stderr_has("batch numbers are exhausted");
    assert!(!db.has_table("b"));
}

#[test]
fn an_unknown_ledger_schema_version_or_a_missing_column_is_exit_3() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration("1_a", "CREATE TABLE a (id INT);\n", None);
    p.run(&["migrate:latest"]).ok();
    db.server
        .exec("ALTER TABLE dbtool_migrations COMMENT = 'dbtool ledger v99999999999'");
    p.migration("2_b", "CREATE TABLE b (id INT);\n", None);
    for cmd in ["migrate:status", "migrate:latest"] {
        p.run(&[cmd])
            .code(3)
            .stderr_has("has schema version 99999999999")
            .stderr_has("upgrade dbtool");
    }
    assert!(!db.has_table("b"));
    db.server.exec(
        "ALTER TABLE dbtool_migrations COMMENT = 'dbtool ledger v2', DROP COLUMN prefix_checksum",
    );
    for cmd in ["migrate:status", "migrate:latest"] {
        p.run(&[cmd])
            .code(3)
            .stderr_has("lacks the column prefix_checksum");
    }
    assert!(!db.has_table("b"));
}

#[test]
fn seed_paths_are_compared_byte_for_byte() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration("1_t", "CREATE TABLE t (v VARCHAR(20));\n", None);
    p.run(&["migrate:latest"]).ok();
    for (name, v) in [
        ("Users.sql", "U"),
        ("users.sql", "u"),
        ("cafe.sql", "e"),
        ("café.sql", "é"),
    ] {
        p.seed(
            name,
            &format!("-- dbtool:run once\nINSERT INTO t VALUES ('{v}');\n"),
        );
    }
    p.run(&["seed:run"]).ok().stdout_has("Ran 4 seeds");
    p.run(&["seed:run"]).ok().stdout_has("Ran 0 seeds");
    assert_eq!(db.server.count("SELECT COUNT(*) FROM dbtool_seeds"), 4);
    assert_eq!(db.server.count("SELECT COUNT(*) FROM t"), 4);
}

/// The ledger as dbtool 0.1 wrote it: the database's default collation, versions as written.
const V1_MIGRATIONS: &str = "CREATE TABLE dbtool_migrations (
  version VARCHAR(32) NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL,
  batch INT UNSIGNED NOT NULL, checksum CHAR(64) NOT NULL, checksum_algo VARCHAR(32) NOT NULL,
  down_checksum CHAR(64) NULL, state VARCHAR(16) NOT NULL,
  direction VARCHAR(4) NOT NULL DEFAULT 'up', statements_done INT UNSIGNED NOT NULL,
  statements_total INT UNSIGNED NOT NULL, prefix_checksum CHAR(64) NULL, error TEXT NULL,
  applied_at DATETIME(6) NOT NULL, duration_ms BIGINT UNSIGNED NOT NULL DEFAULT 0,
  applied_by VARCHAR(300) NOT NULL, tool_version VARCHAR(32) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='dbtool ledger v1'";

const V1_LOG: &str = "CREATE TABLE dbtool_log (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, at DATETIME(6) NOT NULL,
  action VARCHAR(32) NOT NULL, version VARCHAR(32) NULL, name VARCHAR(255) NULL,
  seed VARCHAR(512) NULL, checksum CHAR(64) NULL, batch INT UNSIGNED NULL, outcome TEXT NULL,
  duration_ms BIGINT UNSIGNED NULL, actor VARCHAR(300) NOT NULL,
  tool_version VARCHAR(32) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='dbtool ledger v1'";

#[test]
fn a_v1_ledger_is_upgraded_in_place() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration(
        "001_a",
        "CREATE TABLE a (id INT);\n",
        Some("DROP TABLE a;\n"),
    );
    p.migration("2_b", "CREATE TABLE b (id INT);\n", Some("DROP TABLE b;\n"));
    db.server.exec(V1_MIGRATIONS);
    db.server.exec(V1_LOG);
    db.server.exec("CREATE TABLE a (id INT)");
    let checksum = p.run(&["--json", "migrate:status"]).json()["migrations"][0]["checksum"]
        .as_str()
        .unwrap()
        .to_owned();
    db.server.exec(&format!(
        "INSERT INTO dbtool_migrations VALUES ('001', 'a', 1, '{checksum}', 'sha256-lf-v1', NULL, \
         'applied', 'up', 1, 1, NULL, NULL, UTC_TIMESTAMP(6), 1, 'root@localhost', '0.1.0')"
    ));
    // A read-only command reads the v1 ledger as it is.
    p.run(&["migrate:status"])
        .ok()
        .stdout_has("1 applied · 1 pending");
    p.run(&["migrate:latest"]).ok().stdout_has("2_b");
    let comments = db.server.rows(&format!(
        "SELECT TABLE_NAME, TABLE_COMMENT, TABLE_COLLATION FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME LIKE 'dbtool%' ORDER BY TABLE_NAME",
        db.name
    ));
    for row in comments {
        assert_eq!(row[1].as_deref(), Some("dbtool ledger v2"), "{row:?}");
        assert_eq!(row[2].as_deref(), Some("utf8mb4_bin"), "{row:?}");
    }
    assert_eq!(
        db.ledger(),
        [
            ("1".into(), "applied".into(), 1, 1),
            ("2".into(), "applied".into(), 1, 2)
        ]
    );
    p.run(&["migrate:rollback", "--all"]).ok();
    assert!(!db.has_table("a") && !db.has_table("b"));
}

/// The log of a run of DDL migrations: one `applied` row per migration, in order, each at the
/// time its row says it was applied (their ends are written after the run's last statement, or
/// every quarter second, see `db::ledger::write::deferred`). A rollback logs the same way.
#[test]
fn deferred_ends_are_written_in_order_by_the_end_of_the_run() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    for i in 1..=5 {
        p.migration(
            &format!("{i}_t{i}"),
            &format!("CREATE TABLE t{i} (id INT);\n"),
            Some(&format!("DROP TABLE t{i};\n")),
        );
    }
    // An atomic step in the middle writes the ends pending before it in its own transaction.
    p.migration(
        "6_rows",
        "INSERT INTO t1 VALUES (1);\n",
        Some("DELETE FROM t1;\n"),
    );
    p.migration(
        "7_t7",
        "CREATE TABLE t7 (id INT);\n",
        Some("DROP TABLE t7;\n"),
    );
    p.run(&["migrate:latest"]).ok();
    let rows = db.ledger_with("statements_total");
    assert_eq!(rows.len(), 7);
    assert!(
        rows.iter().all(|r| r.1 == "applied" && r.2 == r.3),
        "{rows:?}"
    );
    let log = db.server.rows(
        "SELECT l.version, l.outcome, l.at = m.applied_at FROM dbtool_log l \
         JOIN dbtool_migrations m USING (version) WHERE l.action = 'applied' ORDER BY l.id",
    );
    let versions: Vec<_> = log.iter().map(|r| r[0].clone().unwrap()).collect();
    assert_eq!(versions, ["1", "2", "3", "4", "5", "6", "7"]);
    assert!(log.iter().all(|r| r[1].as_deref() == Some("statements: 1")));
    // DDL steps are logged at their row's time; the atomic one at its commit.
    assert!(
        log.iter().filter(|r| r[2].as_deref() == Some("1")).count() >= 6,
        "{log:?}"
    );

    p.run(&["migrate:rollback", "--all"]).ok();
    assert!(db.ledger().is_empty());
    let back = db
        .server
        .rows("SELECT version, outcome FROM dbtool_log WHERE action = 'rolled_back' ORDER BY id");
    let versions: Vec<_> = back.iter().map(|r| r[0].clone().unwrap()).collect();
    assert_eq!(versions, ["7", "6", "5", "4", "3", "2", "1"]);
    assert!(
        back.iter()
            .all(|r| r[1].as_deref() == Some("down statements: 1"))
    );
}

/// What a run killed before it wrote a step's end leaves: the row with every statement done,
/// still `failed`. Status says so; the next run records the end without running anything.
#[test]
fn a_row_with_every_statement_done_is_finished_without_running_anything() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration("1_a", "CREATE TABLE a (id INT);\n", Some("DROP TABLE a;\n"));
    p.migration("2_b", "CREATE TABLE b (id INT);\n", Some("DROP TABLE b;\n"));
    p.run(&["migrate:latest"]).ok();
    // As a kill right after the last DDL leaves it (no error text).
    db.server
        .exec("UPDATE dbtool_migrations SET state = 'failed' WHERE version = '2'");
    p.run(&["migrate:status"])
        .ok()
        .stdout_has("failed (1/1 statements, all done)");
    // Running CREATE TABLE b again would fail: nothing runs.
    p.run(&["migrate:latest"])
        .ok()
        .stdout_has("2_b")
        .stdout_lacks("resumed")
        .stderr_has("all 1 statements had run");
    assert_eq!(db.ledger()[1].1, "applied");

    // A rollback stopped the same way. Its row holds the checksum of the down statements done:
    // taken from another database where the same statement ran as an up file.
    let mut other = TestDb::new();
    let q = Project::new(&other);
    q.migration("1_b", "CREATE TABLE b (id INT);\n", None);
    q.migration("2_drop", "DROP TABLE b;\n", None);
    q.run(&["migrate:latest"]).ok();
    let prefix = other
        .server
        .value("SELECT prefix_checksum FROM dbtool_migrations WHERE version = '2'")
        .unwrap();
    db.server.exec("DROP TABLE b");
    db.server.exec(&format!(
        "UPDATE dbtool_migrations SET state = 'failed', direction = 'down', \
         prefix_checksum = '{prefix}' WHERE version = '2'"
    ));
    p.run(&["migrate:status"])
        .ok()
        .stdout_has("failed rollback (1/1 down statements, all done)");
    p.run(&["migrate:rollback"]).ok().stdout_has("2_b");
    assert_eq!(db.ledger().len(), 1);
    assert_eq!(
        db.server
            .count("SELECT COUNT(*) FROM dbtool_log WHERE action = 'rolled_back'"),
        1
    );
}

/// A statement that is only a comment to the server (`/*M! … */` on MySQL, a version gate
/// above the server's) runs as `DO 0`: counted and recorded, never an empty statement (MySQL's
/// ERROR 1064 inside a packet). `mariadb-dump` writes such lines.
#[test]
fn statements_the_server_reads_as_comments_run_as_nothing() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration(
        "1_gated",
        "/*M!100616 SET @dbtool_gated = 1 */;\n\
         CREATE TABLE a (id INT);\n\
         /*!999999 SET @dbtool_never = 1 */;\n\
         CREATE TABLE b (id INT);\n",
        None,
    );
    p.seed(
        "01_gated.sql",
        "/*M!100616 SET @dbtool_gated = 1 */;\nINSERT INTO a VALUES (1);\n/*!999999 SELECT 1 */;\n",
    );
    p.run(&["migrate:latest"]).ok();
    assert_eq!(
        db.ledger_with("statements_total")[0],
        ("1".into(), "applied".into(), 4, 4)
    );
    assert!(db.has_table("a") && db.has_table("b"));
    p.run(&["seed:run"]).ok();
    assert_eq!(db.server.count("SELECT COUNT(*) FROM a"), 1);
}
