//! Checked runs (`runner::checked`): one-statement migrations that create or drop a table or
//! view run with no ledger write between them, the schema recording which of them ran. These
//! tests check that a run, a failure inside one, a kill at any point and the settling after it
//! leave a ledger that tells the truth, and that nothing ever runs twice.

use std::time::{Duration, Instant};

use crate::helpers::*;

const MARK: &str = "dbtool: in flight in a checked run on connection ";

fn marked(db: &mut TestDb) -> u64 {
    if !db.has_table("dbtool_migrations") {
        return 0;
    }
    db.server.count(&format!(
        "SELECT COUNT(*) FROM dbtool_migrations WHERE error LIKE '{MARK}%'"
    ))
}

/// `n` migrations `<i>_c<i>`: `CREATE TABLE c<i>` up, `DROP TABLE c<i>` down.
fn creates(p: &Project, n: u32) {
    for i in 1..=n {
        p.migration(
            &format!("{i:03}_c{i}"),
            &format!("CREATE TABLE c{i} (id INT PRIMARY KEY, name VARCHAR(50));\n"),
            Some(&format!("DROP TABLE c{i};\n")),
        );
    }
}

/// Every log row of `action` per version: each migration must have exactly `times`.
fn logged_once(db: &mut TestDb, action: &str, n: u32, times: u64) -> Result<(), String> {
    for i in 1..=n {
        let c = db.server.count(&format!(
            "SELECT COUNT(*) FROM dbtool_log WHERE action = '{action}' AND version = '{i}'"
        ));
        if c != times {
            return Err(format!(
                "version {i}: {c} `{action}` log rows, expected {times}"
            ));
        }
    }
    Ok(())
}

/// The ledger against the schema after a kill: rows without a marker exactly (applied <=> the
/// table exists), marked rows a run in flight whose effects are a prefix in the run's order.
fn truthful_after_kill(db: &mut TestDb, n: u32, up: bool) -> Result<(), String> {
    let tables = db.tables();
    let rows: Vec<(String, String, u32, Option<String>)> = if db.has_table("dbtool_migrations") {
        db.server
            .rows("SELECT version, state, statements_done, error FROM dbtool_migrations")
            .into_iter()
            .map(|r| {
                (
                    r[0].clone().unwrap(),
                    r[1].clone().unwrap(),
                    r[2].as_deref().unwrap().parse().unwrap(),
                    r[3].clone(),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut order: Vec<u32> = (1..=n).collect();
    if !up {
        order.reverse();
    }
    let mut effects_in_run = Vec::new();
    for i in order {
        let exists = tables.contains(&format!("c{i}"));
        let row = rows.iter().find(|r| r.0 == i.to_string());
        match row {
            Some((_, _, 0, Some(e))) if e.starts_with(MARK) => {
                effects_in_run.push(exists == up);
            }
            Some((_, state, done, _)) => {
                // An unmarked row: applied, or in flight with `done` statements done.
                let says_exists = match (state.as_str(), done) {
                    ("applied", _) => true,
                    (_, d) => (*d == 1) == up,
                };
                if says_exists != exists {
                    return Err(format!("c{i}: row {row:?}, table exists: {exists}"));
                }
            }
            None if exists => return Err(format!("c{i} exists, no row")),
            None => {}
        }
    }
    let k = effects_in_run.iter().take_while(|e| **e).count();
    if effects_in_run[k..].iter().any(|e| *e) {
        return Err(format!("marked effects not a prefix: {effects_in_run:?}"));
    }
    Ok(())
}

#[test]
fn create_table_migrations_run_checked_and_record_every_one() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    creates(&p, 40);
    p.run(&["migrate:latest"]).ok();
    assert_eq!(marked(&mut db), 0);
    let rows = db.ledger_with("statements_total");
    assert_eq!(rows.len(), 40);
    assert!(
        rows.iter()
            .all(|r| r.1 == "applied" && r.2 == 1 && r.3 == 1),
        "{rows:?}"
    );
    // Each row has its own time and duration, and the log row copies them.
    let nulls = db.server.count(
        "SELECT COUNT(*) FROM dbtool_migrations WHERE duration_ms IS NULL OR applied_at IS NULL \
         OR prefix_checksum IS NULL OR error IS NOT NULL",
    );
    assert_eq!(nulls, 0);
    logged_once(&mut db, "applied", 40, 1).unwrap();
    let order = |db: &mut TestDb, action: &str| -> Vec<u32> {
        db.server
            .rows(&format!(
                "SELECT version FROM dbtool_log WHERE action = '{action}' ORDER BY id"
            ))
            .into_iter()
            .map(|r| r[0].as_deref().unwrap().parse().unwrap())
            .collect()
    };
    assert_eq!(order(&mut db, "applied"), (1..=40).collect::<Vec<_>>());
    p.run(&["migrate:status"]).ok().stdout_has("40 applied");
    p.run(&["migrate:rollback", "--all"]).ok();
    assert!(db.ledger().is_empty());
    assert!(!db.tables().iter().any(|t| t.starts_with('c')));
    logged_once(&mut db, "rolled_back", 40, 1).unwrap();
    assert_eq!(
        order(&mut db, "rolled_back"),
        (1..=40).rev().collect::<Vec<_>>()
    );
}

#[test]
fn a_statement_refused_inside_a_checked_run_is_reported_as_usual() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    creates(&p, 6);
    p.write(
        "db/migrations/004_c4.up.sql",
        "CREATE TABLE c4 (id NOSUCHTYPE);\n",
    );
    p.run(&["migrate:latest"])
        .code(1)
        .stderr_has("004_c4.up.sql:1: statement 1 of 1 failed");
    let rows = db.ledger();
    let states: Vec<(&str, &str)> = rows.iter().map(|r| (r.0.as_str(), r.1.as_str())).collect();
    assert_eq!(
        states,
        [
            ("1", "applied"),
            ("2", "applied"),
            ("3", "applied"),
            ("4", "failed")
        ]
    );
    assert_eq!(marked(&mut db), 0);
    let error = db
        .server
        .value("SELECT error FROM dbtool_migrations WHERE version = '4'")
        .unwrap();
    assert!(error.starts_with("statement 1 (line 1): "), "{error}");
    assert_eq!(db.tables().iter().filter(|t| t.starts_with('c')).count(), 3);
    // Fixed, the same command goes on from there.
    p.write(
        "db/migrations/004_c4.up.sql",
        "CREATE TABLE c4 (id INT PRIMARY KEY, name VARCHAR(50));\n",
    );
    p.run(&["migrate:latest"]).ok();
    assert_eq!(db.ledger().len(), 6);
    logged_once(&mut db, "applied", 6, 1).unwrap();
}

#[test]
fn a_drop_refused_inside_a_checked_rollback_leaves_the_rest_applied_as_they_were() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    creates(&p, 6);
    p.run(&["migrate:latest"]).ok();
    let before = db.server.rows(
        "SELECT version, batch, checksum, down_checksum, statements_done, statements_total, \
         prefix_checksum, applied_at, duration_ms FROM dbtool_migrations WHERE version IN \
         ('1', '2') ORDER BY version",
    );
    // A view on c3: dropping c3 still works on both servers, so hold it with a foreign key.
    db.server
        .exec("CREATE TABLE holder (id INT, c INT, FOREIGN KEY (c) REFERENCES c3 (id))");
    p.run(&["migrate:rollback", "--all"])
        .code(1)
        .stderr_has("003_c3.down.sql:1: statement 1 of 1 failed");
    let rows = db.ledger();
    let states: Vec<(&str, &str)> = rows.iter().map(|r| (r.0.as_str(), r.1.as_str())).collect();
    assert_eq!(
        states,
        [("1", "applied"), ("2", "applied"), ("3", "failed")]
    );
    assert_eq!(marked(&mut db), 0);
    let after = db.server.rows(
        "SELECT version, batch, checksum, down_checksum, statements_done, statements_total, \
         prefix_checksum, applied_at, duration_ms FROM dbtool_migrations WHERE version IN \
         ('1', '2') ORDER BY version",
    );
    assert_eq!(before, after, "the rows not rolled back are as they were");
    db.server.exec("DROP TABLE holder");
    p.run(&["migrate:rollback", "--all"]).ok();
    assert!(db.ledger().is_empty());
    logged_once(&mut db, "rolled_back", 6, 1).unwrap();
}

/// Kills `command` at a random point once the checked run is marked, then checks the ledger
/// and that the next run settles and finishes it, never running a migration twice.
fn kill_trials(up: bool) {
    const N: u32 = 120;
    let mut rng = 0x5EED_u64 + u64::from(up);
    let trials: u32 = std::env::var("DBTOOL_KILL_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(8, |t: u32| (t / 3).max(2));
    let command: &[&str] = if up {
        &["migrate:latest"]
    } else {
        &["migrate:rollback", "--all"]
    };
    let (mut settled, mut mid_run) = (0, 0);
    for trial in 0..trials {
        let mut db = TestDb::new();
        let p = Project::new(&db);
        creates(&p, N);
        if !up {
            p.run(&["migrate:latest"]).ok();
        }
        let mut child = p.cmd(command).spawn().unwrap();
        // Synchronise on the marks (observable), then a random further wait inside the run.
        let start = Instant::now();
        while marked(&mut db) == 0 && child.try_wait().unwrap().is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no checked run started"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis((rng >> 33) % 300));
        if child.try_wait().unwrap().is_none() {
            mid_run += 1;
        }
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        wait_quiet(&mut db);
        truthful_after_kill(&mut db, N, up).unwrap_or_else(|e| panic!("trial {trial}: {e}"));
        if marked(&mut db) > 0 {
            settled += 1;
        }
        let r = p.run(command);
        assert_eq!(
            r.code, 0,
            "trial {trial}: the run after the kill failed:\n{r}"
        );
        assert_eq!(marked(&mut db), 0);
        let cs = db.tables().iter().filter(|t| t.starts_with('c')).count();
        if up {
            assert_eq!(cs, N as usize, "trial {trial}");
            assert_eq!(db.ledger().len(), N as usize);
            logged_once(&mut db, "applied", N, 1).unwrap_or_else(|e| panic!("trial {trial}: {e}"));
        } else {
            assert_eq!(cs, 0, "trial {trial}");
            assert!(db.ledger().is_empty());
            logged_once(&mut db, "rolled_back", N, 1)
                .unwrap_or_else(|e| panic!("trial {trial}: {e}"));
        }
    }
    eprintln!("checked kill trials ({command:?}): {trials}, {mid_run} mid-run, {settled} settled");
    assert!(
        settled > 0,
        "no kill left a checked run to settle: the trials proved nothing"
    );
}

#[test]
fn sigkill_inside_a_checked_run_is_settled_from_the_schema() {
    kill_trials(true);
}

#[test]
fn sigkill_inside_a_checked_rollback_is_settled_from_the_schema() {
    kill_trials(false);
}

/// Marks rows 1..=3 as a killed checked run on connection `conn` would leave them.
fn mark_by_hand(db: &mut TestDb, conn: u32) {
    db.server.exec(&format!(
        "UPDATE dbtool_migrations SET state = 'failed', statements_done = 0, prefix_checksum = \
         NULL, error = CONCAT('{MARK}', {conn}, '; the schema shows whether it ran, and the \
         next migrate command records it') WHERE version IN ('1', '2', '3')"
    ));
}

#[test]
fn marked_rows_the_schema_cannot_explain_are_refused_and_nothing_changes() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    creates(&p, 3);
    p.run(&["migrate:latest"]).ok();
    mark_by_hand(&mut db, 999_999);
    db.server.exec("DROP TABLE c2");
    let before = db.ledger();
    p.run(&["migrate:status"]).ok().stdout_has(
        "failed (0/1 statements, in a checked run: the next migrate command records it from the \
         schema)",
    );
    p.run(&["migrate:latest"])
        .code(3)
        .stderr_has("the schema shows a later one ran while an earlier one did not")
        .stderr_has("2_c2: `c2` does not exist (did not run)");
    assert_eq!(db.ledger(), before);
    // The schema agrees again: the same command settles them all as applied.
    db.server
        .exec("CREATE TABLE c2 (id INT PRIMARY KEY, name VARCHAR(50))");
    p.run(&["migrate:latest"])
        .ok()
        .stderr_has("the schema shows 3 of them ran");
    assert!(db.ledger().iter().all(|r| r.1 == "applied"));
    assert_eq!(marked(&mut db), 0);
}

#[test]
fn a_marked_run_whose_connection_is_still_on_the_server_is_not_settled() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    creates(&p, 3);
    p.run(&["migrate:latest"]).ok();
    // The test's own connection stands for the killed run's, still on the server.
    let me = db.server.id();
    mark_by_hand(&mut db, me);
    p.write(
        "knexfile.toml",
        &format!("[development]\nurl = \"{}\"\nlock_timeout = 1\n", db.url()),
    );
    p.run(&["migrate:latest"]).code(1).stderr_has(&format!(
        "connection {me}, which ran the interrupted checked run, is still on the server"
    ));
    assert_eq!(marked(&mut db), 3);
}

#[test]
fn a_run_whose_last_statement_ends_after_a_batch_was_written_ends_cleanly() {
    // The second statement takes longer than the quarter second after which the ends are
    // written: they are written after it, and nothing is left for the run's end (MySQL
    // refuses an empty query).
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration("1_a", "CREATE TABLE a (id INT);\n", None);
    p.migration("2_b", "CREATE TABLE b AS SELECT SLEEP(0.3) AS s;\n", None);
    p.run(&["migrate:latest"]).ok();
    assert!(db.ledger().iter().all(|r| r.1 == "applied"));
    assert_eq!(db.ledger().len(), 2);
    assert_eq!(marked(&mut db), 0);
}

#[test]
fn sigint_inside_a_checked_run_records_what_ran_and_marks_nothing() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    creates(&p, 200);
    let mut child = p
        .cmd(&["migrate:latest"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Inside the run: once its marks are in the ledger, and a few statements later.
    let start = Instant::now();
    while marked(&mut db) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no checked run started"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before its marks were seen"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    wait_until(
        "a few migrations to be recorded",
        Duration::from_secs(30),
        || {
            db.server
                .count("SELECT COUNT(*) FROM dbtool_log WHERE action = 'applied'")
                >= 3
        },
    );
    let ok = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("SIGINT inside a checked run: exit {:?}", out.status.code());
    if out.status.code() == Some(0) {
        // The signal came as the run's last statement ran: everything is applied.
        assert_eq!(db.ledger().len(), 200, "{stderr}");
    } else {
        assert_eq!(out.status.code(), Some(130), "{stderr}");
        assert!(stderr.contains("interrupted (SIGINT)"), "{stderr}");
    }
    // Nothing marked, and the ledger is exact: a row is applied exactly when its table exists.
    assert_eq!(marked(&mut db), 0);
    truthful_after_kill(&mut db, 200, true).unwrap();
    let applied = db.ledger().iter().filter(|r| r.1 == "applied").count();
    let tables = db.tables().iter().filter(|t| t.starts_with('c')).count();
    assert_eq!(applied, tables, "{stderr}");
    p.run(&["migrate:latest"]).ok();
    assert_eq!(db.ledger().len(), 200);
    logged_once(&mut db, "applied", 200, 1).unwrap();
}
