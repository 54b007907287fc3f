//! dbtool never waits on the server without a word, its own statements wait a bounded time,
//! and SIGINT or SIGTERM stop a run cleanly. Every race synchronises on observable state: the
//! server's process list and the lines dbtool prints.

use std::io::BufRead;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::helpers::*;

/// A running dbtool whose stderr lines are collected as they come.
struct Live {
    child: std::process::Child,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Live {
    fn start(p: &Project, args: &[&str]) -> Live {
        let mut child = p
            .cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                sink.lock().unwrap().push(line);
            }
        });
        Live {
            child,
            lines,
            reader: Some(reader),
        }
    }

    /// Waits until a stderr line contains `text`.
    fn wait_for_line(&self, text: &str, timeout: Duration) -> String {
        let mut found = None;
        wait_until(&format!("dbtool to print {text:?}"), timeout, || {
            found = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(text))
                .cloned();
            found.is_some()
        });
        found.unwrap()
    }

    fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} failed");
    }

    fn finish(mut self) -> Run {
        let out = self.child.wait_with_output().unwrap();
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: self.lines.lock().unwrap().join("\n") + "\n",
        }
    }
}

/// Waits until a connection of the database shows `state` (LIKE) in the process list.
fn wait_for_state(db: &mut TestDb, info: &str, state: &str) {
    let name = db.name.clone();
    wait_until(
        &format!("`{info}` to show {state}"),
        Duration::from_secs(30),
        || {
            db.server.count(&format!(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = '{name}' \
             AND INFO LIKE '{info}%' AND STATE LIKE '{state}'"
            )) > 0
        },
    );
}

#[test]
fn an_alter_behind_an_open_transaction_is_named_while_it_waits() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    db.server.exec("CREATE TABLE busy (id INT)");
    // Another session reads the table in a transaction it keeps open.
    let mut holder = Server::connect(Some(&db.name));
    holder.exec("START TRANSACTION");
    holder.exec("SELECT * FROM busy");
    let holder_id = holder.id();
    p.migration("1_alter", "ALTER TABLE busy ADD COLUMN note INT;\n", None);
    let live = Live::start(&p, &["migrate:latest"]);
    wait_for_state(
        &mut db,
        "ALTER TABLE busy",
        "Waiting for table metadata lock",
    );
    let line = live.wait_for_line("has waited", Duration::from_secs(20));
    assert!(line.contains("1_alter.up.sql:1: statement 1"), "{line}");
    assert!(line.contains("metadata lock"), "{line}");
    assert!(line.contains(&format!("connection {holder_id}")), "{line}");
    // Once the transaction ends, the migration goes through.
    holder.exec("COMMIT");
    let r = live.finish();
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(db.ledger(), [("1".into(), "applied".into(), 1, 1)]);
}

/// A knexfile whose statements wait `wait` seconds for a lock and are retried `retries` times.
fn ddl_knexfile(p: &Project, db: &TestDb, wait: u32, retries: u32) {
    p.write(
        "knexfile.toml",
        &format!(
            "[development]\nurl = \"{}\"\nddl_lock_wait = {wait}\nddl_retries = {retries}\n",
            db.url()
        ),
    );
}

#[test]
fn a_ddl_behind_an_open_transaction_gives_up_names_the_holder_and_resumes_later() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    ddl_knexfile(&p, &db, 1, 1);
    db.server.exec("CREATE TABLE busy (id INT)");
    let mut holder = Server::connect(Some(&db.name));
    holder.exec("START TRANSACTION");
    holder.exec("SELECT * FROM busy");
    let holder_id = holder.id();
    p.migration(
        "1_alter",
        "CREATE TABLE first_t (id INT);\nALTER TABLE busy ADD COLUMN note INT;\n",
        None,
    );
    let started = std::time::Instant::now();
    let r = p.run(&["migrate:latest"]).code(1);
    // Two tries of 1 s and a pause of 1 s: nowhere near the server's own lock_wait_timeout
    // (a day on MariaDB, a year on MySQL).
    assert!(started.elapsed() < Duration::from_secs(30), "{r}");
    assert!(
        r.stderr.contains(
            "1_alter.up.sql:2: statement 2 gave up after waiting 1 s for a lock (ddl_lock_wait)"
        ),
        "{r}"
    );
    assert!(r.stderr.contains("retry 1 of 1"), "{r}");
    assert!(r.stderr.contains(&format!("connection {holder_id}")), "{r}");
    assert!(
        r.stderr.contains(
            "it gave up waiting for a lock 2 times, 1 s each (ddl_lock_wait, ddl_retries)"
        ),
        "{r}"
    );
    assert!(
        r.stderr.contains("statement 1 was applied and committed"),
        "{r}"
    );
    assert!(
        r.stderr.contains("once the lock is free") && r.stderr.contains("resume at statement 2"),
        "{r}"
    );
    // The ledger tells the truth: statement 1 done, statement 2 not.
    assert_eq!(db.ledger(), [("1".into(), "failed".into(), 1, 1)]);
    assert!(db.has_table("first_t"));
    assert_eq!(
        db.server.count(&format!(
            "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{}' \
             AND TABLE_NAME = 'busy' AND COLUMN_NAME = 'note'",
            db.name
        )),
        0
    );
    // Once the transaction ends, the next run resumes and finishes.
    holder.exec("COMMIT");
    p.run(&["migrate:latest"])
        .ok()
        .stdout_has("resumed at statement 2");
    assert_eq!(db.ledger(), [("1".into(), "applied".into(), 2, 1)]);
}

#[test]
fn a_ddl_that_gave_up_goes_through_on_a_retry_once_the_lock_is_free() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    ddl_knexfile(&p, &db, 1, 6);
    db.server.exec("CREATE TABLE busy (id INT)");
    let mut holder = Server::connect(Some(&db.name));
    holder.exec("START TRANSACTION");
    holder.exec("SELECT * FROM busy");
    p.migration("1_alter", "ALTER TABLE busy ADD COLUMN note INT;\n", None);
    let live = Live::start(&p, &["migrate:latest"]);
    live.wait_for_line("Trying again", Duration::from_secs(30));
    holder.exec("COMMIT");
    let r = live.finish();
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(db.ledger(), [("1".into(), "applied".into(), 1, 1)]);
}

#[test]
fn a_transaction_that_gave_up_waiting_is_rolled_back_before_its_retry() {
    // The second INSERT waits for a metadata lock held by LOCK TABLES: the retry must undo
    // the first INSERT before it runs the transaction again, or its row would be there twice.
    let mut db = TestDb::new();
    let p = Project::new(&db);
    ddl_knexfile(&p, &db, 1, 6);
    db.server.exec("CREATE TABLE busy (id INT) ENGINE=InnoDB");
    db.server.exec("CREATE TABLE other (id INT) ENGINE=InnoDB");
    let mut holder = Server::connect(Some(&db.name));
    holder.exec("LOCK TABLES busy WRITE");
    p.migration(
        "1_rows",
        "INSERT INTO other VALUES (1);\nINSERT INTO busy VALUES (2);\n",
        None,
    );
    let live = Live::start(&p, &["migrate:latest"]);
    live.wait_for_line("Trying again", Duration::from_secs(30));
    holder.exec("UNLOCK TABLES");
    let r = live.finish();
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(db.server.count("SELECT COUNT(*) FROM other"), 1);
    assert_eq!(db.server.count("SELECT COUNT(*) FROM busy"), 1);
    assert_eq!(db.ledger(), [("1".into(), "applied".into(), 2, 1)]);
}

#[test]
fn a_row_lock_on_the_ledger_is_named_and_the_ledger_stays_truthful() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.write(
        "knexfile.toml",
        &format!("[development]\nurl = \"{}\"\nlock_timeout = 3\n", db.url()),
    );
    // Statement 2 runs long enough for another session to lock the row in between.
    p.migration(
        "1_a",
        "CREATE TABLE a (id INT);\nDO SLEEP(1);\nCREATE TABLE b (id INT);\n",
        None,
    );
    let live = Live::start(&p, &["migrate:latest"]);
    wait_for_state(&mut db, "DO SLEEP", "%");
    let mut holder = Server::connect(Some(&db.name));
    holder.exec("START TRANSACTION");
    holder.exec("SELECT * FROM dbtool_migrations FOR UPDATE");
    let line = live.wait_for_line("has waited", Duration::from_secs(20));
    assert!(line.contains("row lock"), "{line}");
    assert!(
        line.contains(&format!("connection {}", holder.id())),
        "{line}"
    );
    let r = live.finish();
    holder.exec("ROLLBACK");
    assert_eq!(r.code, 4, "{r}");
    // Statement 2's transaction was rolled back with the write that recorded it: the ledger
    // says 1 statement done, which is what the database holds.
    assert_eq!(db.ledger(), [("1".into(), "failed".into(), 1, 1)]);
    assert!(db.has_table("a") && !db.has_table("b"));
    p.run(&["migrate:latest"])
        .ok()
        .stdout_has("resumed at statement 2");
    assert!(db.has_table("b"));
}

#[test]
fn sigint_stops_the_running_statement_and_records_the_truth() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    // A statement that fails when it is stopped (KILL QUERY, ERROR 1317): an UPDATE waiting
    // for a row another session holds.
    db.server
        .exec("CREATE TABLE t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB");
    db.server.exec("INSERT INTO t VALUES (1, 0)");
    let mut holder = Server::connect(Some(&db.name));
    holder.exec("START TRANSACTION");
    holder.exec("SELECT * FROM t FOR UPDATE");
    p.migration(
        "1_a",
        "CREATE TABLE a (id INT);\nUPDATE t SET v = 1 WHERE id = 1;\nCREATE TABLE b (id INT);\n",
        None,
    );
    let live = Live::start(&p, &["migrate:latest"]);
    wait_for_state(&mut db, "UPDATE t SET", "%");
    live.signal("-INT");
    let r = live.finish();
    assert_eq!(r.code, 130, "{r}");
    assert!(r.stderr.contains("interrupted (SIGINT)"), "{r}");
    assert!(
        r.stderr.contains("1_a.up.sql:2: statement 2 of 3 failed"),
        "{r}"
    );
    assert!(
        r.stderr.contains("statement 1 was applied and committed"),
        "{r}"
    );
    the_ledger_records_the_stop(&mut db, 1, "interrupted");
    holder.exec("ROLLBACK");
    let again = p.run(&["migrate:latest"]).ok();
    assert!(!again.stderr.contains("may have completed"), "{again}");
    again.stdout_has("resumed at statement 2");
}

#[test]
fn sigterm_during_a_statement_that_completes_stops_before_the_next() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    // SLEEP ends early when stopped, without an error: the run stops after it.
    p.migration(
        "1_a",
        "CREATE TABLE a (id INT);\nDO SLEEP(60);\nCREATE TABLE b (id INT);\n",
        None,
    );
    let live = Live::start(&p, &["migrate:latest"]);
    wait_for_state(&mut db, "DO SLEEP", "%");
    live.signal("-TERM");
    let r = live.finish();
    assert_eq!(r.code, 143, "{r}");
    assert!(r.stderr.contains("interrupted (SIGTERM)"), "{r}");
    assert!(
        r.stderr
            .contains("stopped before statement 3 of db/migrations/1_a.up.sql"),
        "{r}"
    );
    assert!(!db.has_table("b"));
    the_ledger_records_the_stop(&mut db, 2, "stopped by SIGTERM before statement 3");
    let again = p.run(&["migrate:latest"]).ok();
    assert!(!again.stderr.contains("may have completed"), "{again}");
    again.stdout_has("resumed at statement 3");
    assert!(db.has_table("b"));
}

#[test]
fn a_signal_during_the_last_statement_that_completes_still_exits_as_interrupted() {
    // Nothing is left to stop before: the run finishes what it started, records it, and
    // still exits 130 / 143, as a command that was asked to stop must.
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration("1_a", "CREATE TABLE a (id INT);\nDO SLEEP(60);\n", None);
    let live = Live::start(&p, &["migrate:latest"]);
    wait_for_state(&mut db, "DO SLEEP", "%");
    live.signal("-INT");
    let r = live.finish();
    assert_eq!(r.code, 130, "{r}");
    assert!(
        r.stderr
            .contains("interrupted (SIGINT) as the run's last statement ran"),
        "{r}"
    );
    assert!(r.stderr.contains("nothing is left to do"), "{r}");
    assert_eq!(db.ledger(), [("1".into(), "applied".into(), 2, 1)]);
    p.run(&["migrate:latest"])
        .ok()
        .stdout_has("Already up to date");

    // A seed likewise.
    p.seed("slow.sql", "DO SLEEP(60);\n");
    let live = Live::start(&p, &["seed:run"]);
    // The seed's statement shares its packet with dbtool's: it is not first in it (and this
    // query's own text holds it too: the state tells them apart).
    wait_for_state(&mut db, "%DO SLEEP", "User sleep");
    live.signal("-TERM");
    let r = live.finish();
    assert_eq!(r.code, 143, "{r}");
    assert!(r.stderr.contains("interrupted (SIGTERM)"), "{r}");
}

/// The ledger holds the truth with the stop's text (so the next run does not guess that the
/// next statement may have completed), and the lock is free.
fn the_ledger_records_the_stop(db: &mut TestDb, done: u32, text: &str) {
    assert_eq!(db.ledger(), [("1".into(), "failed".into(), done, 1)]);
    let error = db.server.value("SELECT error FROM dbtool_migrations");
    assert!(
        error.as_deref().is_some_and(|e| e.contains(text)),
        "{error:?}"
    );
    let lock = format!("dbtool:{}.dbtool_migrations", db.name);
    assert!(
        db.server
            .value(&format!("SELECT IS_USED_LOCK('{lock}')"))
            .is_none()
    );
}
