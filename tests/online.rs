//! The online path (`-- dbtool:online`): ALTERs through pt-online-schema-change while the
//! table stays writable. These tests load the server hard (a million-row copy beside a busy
//! writer), so they have a binary of their own: cargo runs test binaries one after another.
//!
//! pt-online-schema-change must be installed (`.ci/run` installs Debian's percona-toolkit):
//! without it these tests fail, never skip.

#![allow(unreachable_pub)] // a test crate: nothing in it is reachable from outside

#[path = "it/helpers.rs"]
mod helpers;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use helpers::*;

fn require_pt_osc() {
    let found = std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p).any(|d| d.join("pt-online-schema-change").is_file())
    });
    assert!(
        found,
        "pt-online-schema-change is not on PATH: apt-get install percona-toolkit (.ci/run does)"
    );
}

/// `big (id, v, pad)` with at least `rows` rows (doubling), and `mirror`, a copy of it.
fn big_table(db: &mut TestDb, rows: u64) -> u64 {
    db.server.exec(
        "CREATE TABLE big (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL, \
         pad VARCHAR(40) NOT NULL)",
    );
    db.server.exec("INSERT INTO big (v, pad) VALUES (1, 'row')");
    let mut n = 1;
    while n < rows {
        db.server
            .exec("INSERT INTO big (v, pad) SELECT v + 1, CONCAT(pad, 'x') FROM big");
        n *= 2;
    }
    db.server.exec("CREATE TABLE mirror LIKE big");
    db.server.exec("INSERT INTO mirror SELECT * FROM big");
    n
}

/// COUNT(*) and a checksum of every row of `table`.
fn fingerprint(db: &mut TestDb, table: &str) -> (String, String) {
    let r = db.server.rows(&format!(
        "SELECT COUNT(*), SUM(CRC32(CONCAT_WS('/', id, v, pad))) FROM {table}"
    ));
    (
        r[0][0].clone().unwrap(),
        r[0][1].clone().unwrap_or_default(),
    )
}

/// What the writer saw.
struct Writes {
    ops: u64,
    retries: u64,
    longest: Duration,
    /// When the longest stall began.
    longest_at: Option<Instant>,
}

/// Inserts and updates rows of `big` and `mirror` alike, one transaction per change, until
/// `stop`; each change retried after a deadlock or a lock wait (the copy's locks).
fn writer(db: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Writes> {
    std::thread::spawn(move || {
        let mut s = Server::connect(Some(&db));
        let max_id: u64 = s.count("SELECT MAX(id) FROM big");
        let mut w = Writes {
            ops: 0,
            retries: 0,
            longest: Duration::ZERO,
            longest_at: None,
        };
        let mut k: u64 = 0;
        while !stop.load(Ordering::SeqCst) {
            k += 1;
            let id = 1 + (k * 7919) % max_id;
            let sql = format!(
                "START TRANSACTION; \
                 INSERT INTO big (id, v, pad) VALUES ({n}, {k}, 'writer'); \
                 INSERT INTO mirror (id, v, pad) VALUES ({n}, {k}, 'writer'); \
                 UPDATE big SET v = v + 1 WHERE id = {id}; \
                 UPDATE mirror SET v = v + 1 WHERE id = {id}; COMMIT",
                n = 100_000_000 + k
            );
            let start = Instant::now();
            while let Err(e) = s.try_exec(&sql) {
                assert!(
                    e.contains("1213") || e.contains("1205") || e.contains("eadlock"),
                    "the writer failed: {e}"
                );
                let _ = s.try_exec("ROLLBACK");
                w.retries += 1;
            }
            if start.elapsed() > w.longest {
                w.longest = start.elapsed();
                w.longest_at = Some(start);
            }
            w.ops += 1;
        }
        w
    })
}

/// Runs `args` while the writer writes: the run, when it started, how long it took, what the
/// writer saw, and how many rows it had written when the run ended.
fn migrate_beside_writer(
    db: &mut TestDb,
    p: &Project,
    args: &[&str],
) -> (Run, Instant, Duration, Writes, u64) {
    let writer_rows = "SELECT COUNT(*) FROM big WHERE pad = 'writer'";
    let stop = Arc::new(AtomicBool::new(false));
    let w = writer(db.name.clone(), stop.clone());
    wait_until("the writer to write", Duration::from_secs(30), || {
        db.server.count(writer_rows) > 0
    });
    let started = Instant::now();
    let run = p.run(args);
    let took = started.elapsed();
    let during = db.server.count(writer_rows);
    stop.store(true, Ordering::SeqCst);
    let w = w.join().unwrap();
    (run, started, took, w, during)
}

#[test]
fn a_million_row_alter_runs_online_while_a_writer_keeps_writing_and_loses_nothing() {
    require_pt_osc();
    let rows: u64 = std::env::var("DBTOOL_ONLINE_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut db = TestDb::new();
    let n = big_table(&mut db, rows);
    let p = Project::new(&db);
    p.migration(
        "1_widen",
        "-- dbtool:online\nALTER TABLE big MODIFY v BIGINT NOT NULL;\n",
        None,
    );
    let (run, started, took, w, during) =
        migrate_beside_writer(&mut db, &p, &["-vv", "migrate:latest"]);
    let run = run.ok();
    assert!(
        run.stderr.contains("runs through pt-online-schema-change"),
        "{run}"
    );
    let column = db.server.value(
        "SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
         AND TABLE_NAME = 'big' AND COLUMN_NAME = 'v'",
    );
    assert_eq!(column.as_deref(), Some("bigint"));
    assert_eq!(
        fingerprint(&mut db, "big"),
        fingerprint(&mut db, "mirror"),
        "a row was lost or changed"
    );
    eprintln!(
        "online ALTER of {n} rows: {:.1} s; the writer made {} changes ({} retried), \
         its longest stall {} ms, {:.1} s after the run started",
        took.as_secs_f64(),
        w.ops,
        w.retries,
        w.longest.as_millis(),
        w.longest_at.map_or(0.0, |at| at
            .saturating_duration_since(started)
            .as_secs_f64())
    );
    assert!(
        during > 10,
        "the writer wrote only {during} rows while the copy ran"
    );
    assert!(
        w.longest * 2 < took,
        "the table was not writable throughout: a {} ms stall in a {} ms ALTER\n{run}",
        w.longest.as_millis(),
        took.as_millis()
    );
    assert_eq!(db.ledger(), [("1".into(), "applied".into(), 1, 1)]);
}

#[test]
fn what_an_engine_left_behind_is_shown_with_its_cleanup_and_nothing_runs() {
    require_pt_osc();
    let mut db = TestDb::new();
    big_table(&mut db, 64);
    let p = Project::new(&db);
    p.migration(
        "1_widen",
        "-- dbtool:online\nALTER TABLE big MODIFY v BIGINT NOT NULL;\n",
        None,
    );
    // What a pt-online-schema-change killed mid-copy leaves.
    db.server.exec("CREATE TABLE _big_new LIKE big");
    let name = db.name.clone();
    db.server.exec(&format!(
        "CREATE TRIGGER pt_osc_{name}_big_ins AFTER INSERT ON big FOR EACH ROW \
         REPLACE INTO _big_new (id, v, pad) VALUES (NEW.id, NEW.v, NEW.pad)"
    ));
    let run = p.run(&["migrate:latest"]).code(1);
    let drop_trigger = format!("DROP TRIGGER IF EXISTS `{name}`.`pt_osc_{name}_big_ins`;");
    let drop_table = format!("DROP TABLE IF EXISTS `{name}`.`_big_new`;");
    assert!(run.stderr.contains("left its work behind"), "{run}");
    assert!(
        run.stderr.contains(&drop_trigger) && run.stderr.contains(&drop_table),
        "{run}"
    );
    assert_eq!(db.ledger(), [("1".into(), "failed".into(), 0, 1)]);
    db.server.exec(&drop_trigger);
    db.server.exec(&drop_table);
    p.run(&["migrate:latest"]).ok();
    assert_eq!(db.ledger(), [("1".into(), "applied".into(), 1, 1)]);
}

#[test]
fn instant_alters_skip_the_engine_the_size_rule_sends_big_tables_and_failures_map() {
    require_pt_osc();
    let mut db = TestDb::new();
    big_table(&mut db, 2048);
    let p = Project::new(&db);
    p.write(
        "knexfile.toml",
        &format!(
            "[development]\nurl = \"{}\"\nlock_timeout = 30\n\n[online]\nmin_rows = 1000\n",
            db.url()
        ),
    );
    p.migration(
        "1_note",
        "-- dbtool:online\nALTER TABLE big ADD COLUMN note INT;\n",
        None,
    );
    p.migration(
        "2_widen",
        "ALTER TABLE big MODIFY v BIGINT NOT NULL;\n",
        None,
    );
    let run = p.run(&["migrate:latest"]).ok();
    assert!(
        run.stderr
            .contains("1_note.up.sql:2: statement 1 ran directly"),
        "{run}"
    );
    assert!(
        run.stderr
            .contains("2_widen.up.sql:1: statement 1 runs through pt-online-schema-change"),
        "the size rule sends the 2,048-row table online:\n{run}"
    );

    // pt-online-schema-change refuses a unique key over duplicates (it would drop rows).
    p.migration(
        "3_unique",
        "-- dbtool:online\nALTER TABLE big ADD UNIQUE KEY pad_v (pad);\n",
        None,
    );
    let run = p.run(&["migrate:latest"]).code(1);
    assert!(
        run.stderr
            .contains("pt-online-schema-change exited with code"),
        "{run}"
    );
    let ledger = db.ledger();
    assert_eq!(ledger[2].1, "failed", "{ledger:?}");
    assert!(!db.has_table("_big_new"), "the engine cleaned up");

    // Only an ALTER TABLE can be marked.
    p.run(&["migrate:resolve", "3", "--rolled-back"]).ok();
    p.remove("db/migrations/3_unique.up.sql");
    p.migration(
        "4_view",
        "-- dbtool:online\nCREATE VIEW v AS SELECT 1;\n",
        None,
    );
    p.run(&["migrate:latest"])
        .code(1)
        .stderr_has("only an ALTER TABLE can run online");
}

#[test]
fn gh_ost_is_refused_naming_the_precondition_that_fails() {
    let mut db = TestDb::new();
    big_table(&mut db, 16);
    let p = Project::new(&db);
    p.write(
        "knexfile.toml",
        &format!(
            "[development]\nurl = \"{}\"\n\n[online]\ntool = \"gh-ost\"\n",
            db.url()
        ),
    );
    db.server
        .exec("CREATE TRIGGER big_t BEFORE INSERT ON big FOR EACH ROW SET NEW.v = NEW.v");
    p.migration(
        "1_widen",
        "-- dbtool:online\nALTER TABLE big MODIFY v BIGINT NOT NULL;\n",
        None,
    );
    let run = p.run(&["migrate:latest"]).code(1);
    assert!(run.stderr.contains("gh-ost cannot run this ALTER"), "{run}");
    assert!(run.stderr.contains("big has triggers"), "{run}");
    let log_bin = db.server.value("SELECT @@log_bin").unwrap_or_default();
    assert_eq!(
        run.stderr.contains("the binary log is off"),
        log_bin != "1",
        "log_bin = {log_bin}:\n{run}"
    );
    assert_eq!(db.ledger()[0].1, "failed");
}

/// A figure, not a check (`make bench-online`): the same ALTER of the same table, online and
/// as a direct COPY, each beside the writer; the time and the writer's longest stall of each.
#[test]
#[ignore = "a measurement: make bench-online"]
fn measure_online_against_a_direct_copy() {
    require_pt_osc();
    let rows: u64 = std::env::var("DBTOOL_ONLINE_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    for (how, mark, extra) in [
        ("online (pt-online-schema-change)", "-- dbtool:online\n", ""),
        ("direct COPY", "", ", ALGORITHM=COPY"),
    ] {
        let mut db = TestDb::new();
        let n = big_table(&mut db, rows);
        let p = Project::new(&db);
        p.migration(
            "1_widen",
            &format!("{mark}ALTER TABLE big MODIFY v BIGINT NOT NULL{extra};\n"),
            None,
        );
        let (run, _, took, w, _) = migrate_beside_writer(&mut db, &p, &["migrate:latest"]);
        run.ok();
        assert_eq!(fingerprint(&mut db, "big"), fingerprint(&mut db, "mirror"));
        println!(
            "{how}: {n} rows in {:.1} s; the writer's longest stall {} ms ({} changes)",
            took.as_secs_f64(),
            w.longest.as_millis(),
            w.ops
        );
    }
}
