//! The migration engine against the real server: the tutorial workflow, batches, drift,
//! failure and resume, crashes, concurrency, DELIMITER, read-only commands.

use std::time::Duration;

use crate::helpers::*;

#[test]
fn tutorial_workflow() {
    let mut db = TestDb::new();
    let p = Project::example(&db);
    p.run(&["migrate:latest"])
        .ok()
        .stdout_has("Applied 1 migration (batch 1)")
        .stdout_has("20240101000000_create_accounts");
    assert!(db.has_table("accounts"));
    p.run(&["migrate:rollback"])
        .ok()
        .stdout_has("Rolled back 1 migration");
    assert!(!db.has_table("accounts"));
    p.run(&["migrate:latest"]).ok().stdout_has("(batch 2)");
    let status = p.run(&["migrate:status"]).ok();
    let line = status
        .stdout
        .lines()
        .find(|l| l.contains("create_accounts"))
        .unwrap();
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cols[0], "20240101000000", "{status}");
    assert_eq!(cols[2], "2", "batch 2: {status}");
    assert_eq!(*cols.last().unwrap(), "applied", "{status}");
    status.stdout_has("1 applied · lock free");
    assert_eq!(
        db.ledger(),
        [("20240101000000".into(), "applied".into(), 1, 2)]
    );
    // The log keeps the whole history.
    let actions: Vec<String> = db
        .server
        .rows("SELECT action FROM dbtool_log ORDER BY id")
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    assert_eq!(actions, ["applied", "rolled_back", "applied"]);
}

fn five(p: &Project) {
    for i in 1..=5 {
        p.migration(
            &format!("{i}_t{i}"),
            &format!("CREATE TABLE t{i} (id INT PRIMARY KEY);\n"),
            Some(&format!("DROP TABLE t{i};\n")),
        );
    }
}

#[test]
fn batches_and_every_rollback_scope() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration("1_t1", "CREATE TABLE t1 (id INT);", Some("DROP TABLE t1;"));
    p.migration("2_t2", "CREATE TABLE t2 (id INT);", Some("DROP TABLE t2;"));
    p.run(&["migrate:latest"]).ok();
    p.migration("3_t3", "CREATE TABLE t3 (id INT);", Some("DROP TABLE t3;"));
    p.migration("4_t4", "CREATE TABLE t4 (id INT);", Some("DROP TABLE t4;"));
    p.run(&["migrate:latest"])
        .ok()
        .stdout_has("Applied 2 migrations (batch 2)");
    let batches: Vec<u32> = db.ledger().iter().map(|r| r.3).collect();
    assert_eq!(batches, [1, 1, 2, 2]);

    // rollback undoes only the last batch, newest first
    let r = p.run(&["migrate:rollback"]).ok();
    assert!(
        r.stdout.find("4_t4").unwrap() < r.stdout.find("3_t3").unwrap(),
        "{r}"
    );
    assert_eq!(db.tables().iter().filter(|t| t.starts_with('t')).count(), 2);

    // up applies the next pending; down undoes the last applied
    p.run(&["migrate:up"]).ok().stdout_has("3_t3");
    assert!(db.has_table("t3") && !db.has_table("t4"));
    p.run(&["migrate:down"]).ok().stdout_has("3_t3");
    assert!(!db.has_table("t3"));
    p.run(&["migrate:up", "4"]).ok().stdout_has("4_t4");
    assert!(db.has_table("t4") && !db.has_table("t3"));
    p.run(&["migrate:down", "1"]).ok().stdout_has("1_t1");
    assert!(!db.has_table("t1"));
    p.run(&["migrate:up", "1"]).code(0);

    // --step, --to, --all
    p.run(&["migrate:latest"]).ok();
    p.run(&["migrate:rollback", "--step", "2"])
        .ok()
        .stdout_has("Rolled back 2 migrations");
    assert_eq!(db.ledger().len(), 2);
    p.run(&["migrate:latest"]).ok();
    p.run(&["migrate:rollback", "--to", "2"]).ok();
    let left: Vec<String> = db.ledger().into_iter().map(|r| r.0).collect();
    assert_eq!(left, ["1", "2"]);
    p.run(&["migrate:rollback", "--all"]).ok();
    assert!(db.ledger().is_empty());
    assert!(
        db.tables().iter().all(|t| !t.starts_with('t')),
        "{:?}",
        db.tables()
    );
    p.run(&["migrate:rollback"])
        .ok()
        .stdout_has("Nothing to roll back");
    p.run(&["migrate:up", "9"])
        .code(2)
        .stderr_has("no migration has version 9");
}

#[test]
fn drift_is_refused_and_repaired() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    five(&p);
    p.run(&["migrate:latest"]).ok();
    p.run(&["migrate:validate"]).ok().stdout_has("Valid");

    // CRLF-only and BOM-only changes are not drift
    p.write(
        "db/migrations/2_t2.up.sql",
        "CREATE TABLE t2 (id INT PRIMARY KEY);\r\n",
    );
    p.write_bytes(
        "db/migrations/3_t3.up.sql",
        b"\xEF\xBB\xBFCREATE TABLE t3 (id INT PRIMARY KEY);\n",
    );
    p.run(&["migrate:validate"]).ok();

    // an edit is
    p.write(
        "db/migrations/2_t2.up.sql",
        "CREATE TABLE t2 (id BIGINT PRIMARY KEY);\n",
    );
    p.migration("6_t6", "CREATE TABLE t6 (id INT);", Some("DROP TABLE t6;"));
    p.run(&["migrate:validate"])
        .code(3)
        .stderr_has("1 applied migration differs from its file (drift)")
        .stderr_has("2_t2  modified  ledger");
    p.run(&["migrate:latest"])
        .code(3)
        .stderr_has("2_t2  modified")
        .stderr_has("migrate:repair");
    assert!(!db.has_table("t6"));
    let st = p.run(&["migrate:status", "--json"]).ok().json();
    assert_eq!(st["counts"]["modified"], 1);

    // a deleted file is `missing`
    p.remove("db/migrations/4_t4.up.sql");
    p.remove("db/migrations/4_t4.down.sql");
    p.run(&["migrate:latest"])
        .code(3)
        .stderr_has("4_t4  missing");

    // repair accepts both, then latest runs
    p.run(&["migrate:repair"])
        .ok()
        .stdout_has("2_t2  checksum")
        .stdout_has("4_t4  file gone");
    p.run(&["migrate:validate"]).ok();
    p.run(&["migrate:latest"]).ok().stdout_has("6_t6");
    assert!(db.has_table("t6"));
    let repaired = db
        .server
        .count("SELECT COUNT(*) FROM dbtool_log WHERE action = 'repaired'");
    assert_eq!(repaired, 2);
}

const FIVE_DDL: &str = "\
-- five DDL statements; the third is wrong
CREATE TABLE a1 (id INT);
CREATE TABLE a2 (id INT);

ALTER TABLE a1 ADD COLUMN x INT AFTER nosuchcolumn;
CREATE TABLE a4 (id INT);
CREATE TABLE a5 (id INT);
";

/// A resume whose remaining statements are all transactional runs as one transaction; the row
/// it finishes takes the fixed file's checksum, like any other resume.
#[test]
fn a_resume_in_one_transaction_records_the_fixed_files_checksum() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    let broken = "CREATE TABLE people (id INT, name VARCHAR(20));
                  INSERT INTO people (id, name) SELECT 1, nickname;
                  INSERT INTO people VALUES (2, 'b');
";
    p.migration("1_people", broken, None);
    p.run(&["migrate:latest"])
        .code(1)
        .stderr_has("statement 2 of 3 failed");
    p.migration("1_people", &broken.replace("nickname", "'a'"), None);
    p.run(&["migrate:latest"])
        .ok()
        .stdout_has("resumed at statement 2");
    assert_eq!(db.ledger(), [("1".into(), "applied".into(), 3, 1)]);
    p.run(&["migrate:status"]).ok().stdout_lacks("modified");
    p.run(&["migrate:validate"]).ok();
    assert_eq!(db.server.count("SELECT COUNT(*) FROM people"), 2);
}

#[test]
fn a_failing_ddl_statement_stops_resumes_and_resolves() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration(
        "20260101120000_add",
        FIVE_DDL,
        Some("DROP TABLE a5;\nDROP TABLE a4;\nDROP TABLE a2;\nDROP TABLE a1;"),
    );
    p.run(&["migrate:latest"])
        .code(1)
        .stderr_has("db/migrations/20260101120000_add.up.sql:5: statement 3 of 5 failed")
        .stderr_has("ERROR 1054 (42S22)")
        .stderr_has("statements 1-2 were applied and committed")
        .stderr_has("to resume at statement 3")
        .stderr_has("migrate:resolve 20260101120000 --rolled-back");
    assert_eq!(
        db.ledger(),
        [("20260101120000".into(), "failed".into(), 2, 1)]
    );
    assert!(db.has_table("a1") && db.has_table("a2") && !db.has_table("a4"));
    let err = db
        .server
        .value("SELECT error FROM dbtool_migrations")
        .unwrap();
    assert!(err.contains("statement 3 (line 5)"), "{err}");
    p.run(&["migrate:status"])
        .ok()
        .stdout_has("failed (2/5 statements)");

    // fix statement 3 only: latest resumes at 3 and finishes
    p.migration(
        "20260101120000_add",
        &FIVE_DDL.replace(" AFTER nosuchcolumn", ""),
        None,
    );
    p.run(&["migrate:latest"])
        .ok()
        .stdout_has("resumed at statement 3");
    assert_eq!(
        db.ledger(),
        [("20260101120000".into(), "applied".into(), 5, 1)]
    );
    assert!(db.has_table("a4") && db.has_table("a5"));

    // a second migration fails at statement 3; then statement 1 is edited: refused, resolved
    p.migration(
        "20260101130000_more",
        FIVE_DDL.replace("a", "b").as_str(),
        None,
    );
    p.run(&["migrate:latest"]).code(1);
    p.migration(
        "20260101130000_more",
        &FIVE_DDL
            .replace("a", "b")
            .replace("CREATE TABLE b1 (id INT)", "CREATE TABLE b1 (id BIGINT)"),
        None,
    );
    p.run(&["migrate:latest"])
        .code(3)
        .stderr_has("its first 2 statements were edited")
        .stderr_has("migrate:resolve 20260101130000");
    p.run(&["migrate:resolve", "20260101130000", "--rolled-back"])
        .ok()
        .stdout_has("Resolved 20260101130000_more");
    assert_eq!(db.ledger().len(), 1);
    let resolved = db
        .server
        .count("SELECT COUNT(*) FROM dbtool_log WHERE action = 'resolved_rolled_back'");
    assert_eq!(resolved, 1);
}

#[test]
fn a_failing_dml_only_migration_leaves_no_trace() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration(
        "1_table",
        "CREATE TABLE t (id INT PRIMARY KEY);",
        Some("DROP TABLE t;"),
    );
    p.run(&["migrate:latest"]).ok();
    p.migration(
        "2_rows",
        "INSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);\nINSERT INTO t VALUES (2);\nINSERT INTO t VALUES (4);\n",
        Some("DELETE FROM t;"),
    );
    p.run(&["migrate:latest"])
        .code(1)
        .stderr_has("2_rows.up.sql:3: statement 3 of 4 failed")
        .stderr_has("Duplicate entry")
        .stderr_has("rolled back: nothing of it was applied");
    assert_eq!(db.server.count("SELECT COUNT(*) FROM t"), 0);
    assert_eq!(db.ledger().len(), 1, "no row for the failed migration");
    assert_eq!(
        db.server
            .count("SELECT COUNT(*) FROM dbtool_log WHERE version = '2'"),
        0
    );
}

#[test]
fn delimiter_trigger_procedure_and_function_apply_and_roll_back() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration(
        "1_routines",
        "CREATE TABLE t (a INT, b INT);\n\
         DELIMITER $$\n\
         CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW\n\
         BEGIN\n  SET NEW.b = NEW.a * 2;\n  IF NEW.a > 100 THEN SET NEW.a = 100; END IF;\nEND$$\n\
         CREATE PROCEDURE add_row(IN x INT)\nBEGIN\n  INSERT INTO t (a) VALUES (x);\n  SELECT COUNT(*) FROM t;\nEND $$\n\
         CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC\nBEGIN\n  RETURN x * 2; -- ; inside\nEND$$\n\
         DELIMITER ;\n\
         CALL add_row(7);\n",
        Some(
            "DROP FUNCTION twice;\nDROP PROCEDURE add_row;\nDROP TRIGGER t_bi;\nDROP TABLE t;\n",
        ),
    );
    p.run(&["migrate:latest"]).ok();
    assert_eq!(db.server.value("SELECT b FROM t").as_deref(), Some("14"));
    assert_eq!(db.server.value("SELECT twice(21)").as_deref(), Some("42"));
    p.run(&["migrate:rollback"]).ok();
    assert!(!db.has_table("t"));
    assert_eq!(
        db.server.count(&format!(
            "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = '{}'",
            db.name
        )),
        0
    );
}

#[test]
fn read_only_commands_create_nothing() {
    let mut db = TestDb::new();
    let p = Project::example(&db);
    p.run(&["migrate:status"]).ok().stdout_has("pending");
    p.run(&["migrate:status", "--exit-code"]).code(5);
    p.run(&["migrate:validate"]).ok();
    p.run(&["migrate:latest", "--dry-run"])
        .ok()
        .stdout_has("CREATE TABLE accounts");
    p.run(&["migrate:rollback", "--dry-run"]).ok();
    p.run(&["migrate:unlock"]).ok().stdout_has("is free");
    assert_eq!(db.tables(), Vec::<String>::new());
}

#[test]
fn irreversible_migrations_refuse_before_anything_runs() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration("1_a", "CREATE TABLE a (id INT);", None);
    p.migration("2_b", "CREATE TABLE b (id INT);", Some("DROP TABLE b;"));
    p.run(&["migrate:latest"]).ok();
    p.run(&["migrate:rollback"])
        .code(2)
        .stderr_has("1_a")
        .stderr_has("no down file");
    assert!(db.has_table("a") && db.has_table("b"), "nothing was undone");
}

#[test]
fn kill_9_mid_migration_leaves_a_resumable_row() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration(
        "1_slow",
        "CREATE TABLE k1 (id INT);\nCREATE TABLE k2 (id INT);\nDO SLEEP(30);\nCREATE TABLE k3 (id INT);\n",
        None,
    );
    let mut child = p.cmd(&["migrate:latest"]).spawn().unwrap();
    // Wait until the server runs the sleep: statements 1-2 are then done.
    let mut watcher = Server::connect(None);
    let dbname = db.name.clone();
    wait_until("the SLEEP to start", Duration::from_secs(20), || {
        watcher.count(&format!(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = '{dbname}' AND INFO LIKE 'DO SLEEP%'"
        )) > 0
    });
    child.kill().unwrap();
    child.wait().unwrap();
    // The server ends the sleep when it notices; kill it to be quick.
    let ids = watcher.rows(&format!(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = '{dbname}' AND INFO LIKE 'DO SLEEP%'"
    ));
    for id in ids {
        let _ = watcher.try_exec(&format!("KILL {}", id[0].clone().unwrap()));
    }
    wait_until("the connection to go", Duration::from_secs(20), || {
        watcher.count(&format!(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = '{dbname}' AND ID <> CONNECTION_ID()"
        )) <= 1
    });
    let rows = db.ledger();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1, "failed");
    assert_eq!(rows[0].2, 2, "statements 1-2 done: {rows:?}");
    assert!(db.has_table("k1") && db.has_table("k2") && !db.has_table("k3"));

    // Resume: the sleep is statement 3; make it short.
    p.migration(
        "1_slow",
        "CREATE TABLE k1 (id INT);\nCREATE TABLE k2 (id INT);\nDO SLEEP(0);\nCREATE TABLE k3 (id INT);\n",
        None,
    );
    p.run(&["migrate:latest"])
        .ok()
        .stderr_has("statement 3 (line 3) was running when an earlier run was interrupted")
        .stdout_has("resumed at statement 3");
    assert!(db.has_table("k3"));
    assert_eq!(db.ledger()[0].1, "applied");
}

#[test]
fn concurrent_runs_apply_each_migration_once() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    for i in 1..=50 {
        p.migration(
            &format!("{i:03}_m{i}"),
            &format!("CREATE TABLE m{i} (id INT);\nINSERT INTO m{i} VALUES ({i});\n"),
            Some(&format!("DROP TABLE m{i};")),
        );
    }
    let children: Vec<_> = (0..8).map(|_| p.spawn(&["migrate:latest"])).collect();
    let runs: Vec<Run> = children
        .into_iter()
        .map(|c| Run::from(c.wait_with_output().unwrap()))
        .collect();
    for r in &runs {
        assert_eq!(r.code, 0, "{r}");
    }
    let applied: usize = runs
        .iter()
        .filter(|r| r.stdout.contains("Applied 50 migrations"))
        .count();
    assert_eq!(applied, 1, "exactly one process applied them");
    let rows = db.ledger();
    assert_eq!(rows.len(), 50);
    assert!(
        rows.iter().all(|r| r.1 == "applied" && r.3 == 1),
        "one batch"
    );
    for i in 1..=50 {
        assert_eq!(db.server.count(&format!("SELECT COUNT(*) FROM m{i}")), 1);
    }
    assert_eq!(
        db.server
            .count("SELECT COUNT(*) FROM dbtool_log WHERE action = 'applied'"),
        50
    );
}

#[test]
fn a_held_lock_times_out_with_exit_4_naming_the_holder() {
    let db = TestDb::new();
    let p = Project::new(&db);
    p.write(
        "knexfile.toml",
        &format!("[development]\nurl = \"{}\"\nlock_timeout = 1\n", db.url()),
    );
    p.migration("1_a", "CREATE TABLE a (id INT);", None);
    let mut holder = Server::connect(None);
    let name = format!("dbtool:{}.dbtool_migrations", db.name);
    assert_eq!(
        holder
            .value(&format!("SELECT GET_LOCK('{name}', 0)"))
            .as_deref(),
        Some("1")
    );
    let id = holder.id();
    p.run(&["migrate:latest"])
        .code(4)
        .stderr_has(&format!("held by connection {id} (root@"))
        .stderr_has(&format!("KILL {id}"));
    p.run(&["migrate:unlock"])
        .ok()
        .stdout_has(&format!("held by connection {id}"));
    p.run(&["migrate:status"])
        .ok()
        .stdout_has(&format!("lock held by connection {id}"));
    holder.exec(&format!("DO RELEASE_LOCK('{name}')"));
    p.run(&["migrate:latest"]).ok();
}

#[test]
fn status_json_has_the_documented_shape() {
    let db = TestDb::new();
    let p = Project::example(&db);
    p.migration("20990101000000_later", "CREATE TABLE later (id INT);", None);
    p.run(&["migrate:up"]).ok();
    let j = p.run(&["migrate:status", "--json"]).ok().json();
    assert_eq!(j["environment"], "development");
    assert_eq!(j["database"], db.name.as_str());
    assert_eq!(j["migrations"][0]["version"], "20240101000000");
    assert_eq!(j["migrations"][0]["state"], "applied");
    assert_eq!(j["migrations"][0]["batch"], 1);
    assert!(
        j["migrations"][0]["applied_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(j["migrations"][0]["checksum"].as_str().unwrap().len(), 64);
    assert_eq!(j["migrations"][1]["state"], "pending");
    assert_eq!(j["counts"]["applied"], 1);
    assert_eq!(j["counts"]["pending"], 1);
    assert!(j["lock"].is_null());
}

#[test]
fn protected_environments_need_yes_and_never_prompt_without_a_terminal() {
    let mut db = TestDb::new();
    let p = Project::example(&db);
    p.write(
        "knexfile.toml",
        &format!("[production]\nurl = \"{}\"\nprotected = true\n", db.url()),
    );
    p.run(&["migrate:latest", "--env", "production"]).ok();
    p.run(&["migrate:rollback", "--env", "production"])
        .code(2)
        .stderr_has("environment `production` is protected")
        .stderr_has("--yes");
    assert!(db.has_table("accounts"));
    p.run(&["migrate:rollback", "--env", "production", "--yes"])
        .ok();
    assert!(!db.has_table("accounts"));
}
