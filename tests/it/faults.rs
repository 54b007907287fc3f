//! The fault matrix (docs/RELIABILITY.md): processes killed at random points, connections and
//! queries killed by the server, the connection dropped mid-run, lock contention, privileges.
//! Every test ends by checking that the ledger tells the truth and the next run can go on.
//! Races synchronise on observable state (the process list, the ledger), never on sleeps alone.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::helpers::*;

/// A small deterministic generator (no dependency, fixed seed: every run tries the same points).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// One statement of a generated migration and how to see that it took effect.
struct Stmt {
    sql: String,
    probe: String,
}

/// 30 migrations mixing DDL (each statement commits), DML (atomic) and both.
fn mixed_migrations() -> Vec<(String, Vec<Stmt>)> {
    let mut out = Vec::new();
    for i in 1..=30u32 {
        let id = format!("{i:03}_m{i}");
        let stmts = match i % 3 {
            // three DDL statements
            0 => (1..=3)
                .map(|k| Stmt {
                    sql: format!("CREATE TABLE d{i}_{k} (id INT PRIMARY KEY)"),
                    probe: format!("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'd{i}_{k}'"),
                })
                .collect(),
            // DML only: one transaction with its ledger row
            1 => (1..=3)
                .map(|k| Stmt {
                    sql: format!("INSERT INTO dml (mig, k) VALUES ({i}, {k})"),
                    probe: format!("SELECT COUNT(*) FROM dml WHERE mig = {i} AND k = {k}"),
                })
                .collect(),
            // DDL, then two writes (one unit), then DDL
            _ => vec![
                Stmt {
                    sql: format!("CREATE TABLE x{i} (id INT PRIMARY KEY)"),
                    probe: format!("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'x{i}'"),
                },
                Stmt {
                    sql: format!("INSERT INTO x{i} VALUES (1)"),
                    probe: format!("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'x{i}' AND TABLE_ROWS >= 0 AND (SELECT COUNT(*) FROM x{i} WHERE id = 1) = 1"),
                },
                Stmt {
                    sql: format!("INSERT INTO x{i} VALUES (2)"),
                    probe: format!("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'x{i}' AND (SELECT COUNT(*) FROM x{i} WHERE id = 2) = 1"),
                },
                Stmt {
                    sql: format!("CREATE TABLE y{i} (id INT)"),
                    probe: format!("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'y{i}'"),
                },
            ],
        };
        out.push((id, stmts));
    }
    out
}

/// How many leading statements of `stmts` show their effect; panics if the effects are not a
/// prefix (a later statement took effect while an earlier did not).
fn effects(db: &mut TestDb, stmts: &[Stmt]) -> u32 {
    let seen: Vec<bool> = stmts
        .iter()
        .map(|s| {
            // x{i} may not exist: a probe on a missing table errors; that is "no effect".
            db.server
                .try_exec("DO 1")
                .ok()
                .and_then(|_| {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        db.server.count(&s.probe)
                    }))
                    .ok()
                })
                .unwrap_or(0)
                > 0
        })
        .collect();
    let k = seen.iter().take_while(|b| **b).count();
    assert!(
        seen[k..].iter().all(|b| !b),
        "effects are not a prefix: {seen:?}"
    );
    k as u32
}

/// For every migration: the ledger's account equals what the schema shows.
fn check_consistent(db: &mut TestDb, migrations: &[(String, Vec<Stmt>)]) -> Result<(), String> {
    let rows = if db.has_table("dbtool_migrations") {
        db.ledger_with("statements_total")
    } else {
        Vec::new()
    };
    for (id, stmts) in migrations {
        // The ledger stores versions without leading zeros.
        let version = id.split('_').next().unwrap().trim_start_matches('0');
        let seen = effects(db, stmts);
        let expected = match rows.iter().find(|r| r.0 == version) {
            None => 0,
            Some((_, state, done, total)) if state == "applied" => {
                if done != total {
                    return Err(format!("{id}: applied with {done}/{total}"));
                }
                *total
            }
            Some((_, _, done, _)) => *done,
        };
        if seen != expected {
            return Err(format!(
                "{id}: ledger says {expected} statements done, schema shows {seen}"
            ));
        }
    }
    Ok(())
}

#[test]
fn sigkill_at_random_points_never_leaves_an_inconsistent_ledger() {
    let migrations = mixed_migrations();
    let mut rng = Lcg(0xDB70_0125);
    let trials = std::env::var("DBTOOL_KILL_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    let mut inconsistencies = Vec::new();
    let mut killed_mid_run = 0;
    // How long a whole run takes here, to spread the kill points over it.
    let mut full_ms = 0u64;
    // Trial 0 measures an uninterrupted run; trials 1..=trials kill.
    for trial in 0..=trials {
        let mut db = TestDb::new();
        let p = Project::new(&db);
        db.server.exec("CREATE TABLE dml (mig INT, k INT)");
        for (id, stmts) in &migrations {
            let text: String = stmts.iter().map(|s| format!("{};\n", s.sql)).collect();
            p.migration(id, &text, None);
        }
        if trial == 0 {
            let start = std::time::Instant::now();
            p.run(&["migrate:latest"]).ok();
            full_ms = start.elapsed().as_millis() as u64;
            check_consistent(&mut db, &migrations).unwrap();
            continue;
        }
        // Inside the run: a run can be faster than the measured one.
        let at = rng.next() % (full_ms * 4 / 5).max(20);
        let mut child = p.cmd(&["migrate:latest"]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(at));
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        if !finished {
            killed_mid_run += 1;
        }
        wait_quiet(&mut db);
        if let Err(e) = check_consistent(&mut db, &migrations) {
            inconsistencies.push(format!("trial {trial} (kill at {at} ms): {e}"));
        }
        // The next run always completes.
        let r = p.run(&["migrate:latest"]);
        assert_eq!(
            r.code, 0,
            "trial {trial}: the run after the kill failed:\n{r}"
        );
        check_consistent(&mut db, &migrations).unwrap();
        assert_eq!(db.ledger().len(), 30);
    }
    eprintln!(
        "kill trials: {trials} ({killed_mid_run} killed mid-run), inconsistencies: {}",
        inconsistencies.len()
    );
    assert!(inconsistencies.is_empty(), "{inconsistencies:#?}");
    assert!(
        killed_mid_run >= trials / 3,
        "most kills should land inside a run"
    );
}

/// For every migration of the rollback trial: the ledger's account equals the tables left.
/// Each up creates r{i}_1..3; its down drops r{i}_3, r{i}_2, r{i}_1 (one DDL unit each).
fn check_rollback_consistent(db: &mut TestDb, n: u32) -> Result<(), String> {
    let rows = db.ledger_with("statements_total");
    let tables = db.tables();
    for i in 1..=n {
        let present: Vec<bool> = (1..=3)
            .map(|k| tables.contains(&format!("r{i}_{k}")))
            .collect();
        let left = present.iter().filter(|p| **p).count() as u32;
        // Tables go newest first, so what is left is always r{i}_1..left.
        if present.iter().skip(left as usize).any(|p| *p) {
            return Err(format!(
                "migration {i}: tables {present:?} are not a prefix"
            ));
        }
        let expected = match rows.iter().find(|r| r.0 == i.to_string()) {
            None => 0,
            Some((_, state, _, _)) if state == "applied" => 3,
            // A rollback part-way: `done` down statements ran.
            Some((_, _, done, _)) => 3 - done,
        };
        if left != expected {
            return Err(format!(
                "migration {i}: the ledger says {expected} tables are left, there are {left}"
            ));
        }
    }
    Ok(())
}

#[test]
fn sigkill_during_a_rollback_leaves_a_truthful_ledger_and_the_rollback_resumes() {
    const N: u32 = 20;
    let mut rng = Lcg(0xDB70_0126);
    let trials = std::env::var("DBTOOL_KILL_TRIALS")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .map_or(10, |t| (t / 2).max(1));
    let mut inconsistencies = Vec::new();
    let mut killed_mid_run = 0;
    // Kills that left a rollback part-way (a `failed` down row), which the next run resumes.
    let mut part_way = 0;
    let mut full_ms = 0u64;
    for trial in 0..=trials {
        let mut db = TestDb::new();
        let p = Project::new(&db);
        for i in 1..=N {
            let up: String = (1..=3)
                .map(|k| format!("CREATE TABLE r{i}_{k} (id INT PRIMARY KEY);\n"))
                .collect();
            let down: String = (1..=3)
                .rev()
                .map(|k| format!("DROP TABLE r{i}_{k};\n"))
                .collect();
            p.migration(&format!("{i}_r{i}"), &up, Some(&down));
        }
        p.run(&["migrate:latest"]).ok();
        if trial == 0 {
            let start = std::time::Instant::now();
            p.run(&["migrate:rollback", "--all"]).ok();
            full_ms = start.elapsed().as_millis() as u64;
            check_rollback_consistent(&mut db, N).unwrap();
            continue;
        }
        // Inside the run: a run can be faster than the measured one.
        let at = rng.next() % (full_ms * 4 / 5).max(20);
        let mut child = p.cmd(&["migrate:rollback", "--all"]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(at));
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        if !finished {
            killed_mid_run += 1;
        }
        wait_quiet(&mut db);
        if db.ledger().iter().any(|r| r.1 == "failed") {
            part_way += 1;
        }
        if let Err(e) = check_rollback_consistent(&mut db, N) {
            inconsistencies.push(format!("trial {trial} (kill at {at} ms): {e}"));
        }
        // The next rollback finishes the one stopped part-way first, then the rest.
        let r = p.run(&["migrate:rollback", "--all"]);
        assert_eq!(
            r.code, 0,
            "trial {trial}: the rollback after the kill failed:\n{r}"
        );
        check_rollback_consistent(&mut db, N).unwrap();
        assert!(db.ledger().is_empty(), "trial {trial}: {:?}", db.ledger());
        assert!(!db.tables().iter().any(|t| t.starts_with('r')));
    }
    eprintln!(
        "rollback kill trials: {trials} ({killed_mid_run} killed mid-run, {part_way} left a \
         rollback part-way), inconsistencies: {}",
        inconsistencies.len()
    );
    assert!(inconsistencies.is_empty(), "{inconsistencies:#?}");
    assert!(
        part_way > 0,
        "no kill left a rollback part-way: the trial proved nothing"
    );
    assert!(
        killed_mid_run >= trials / 3,
        "most kills should land inside a run"
    );
}

/// The id of the connection running `like` on the database, once it shows.
fn running(db: &mut TestDb, like: &str) -> String {
    let name = db.name.clone();
    let mut id = None;
    wait_until(&format!("`{like}` to run"), Duration::from_secs(20), || {
        id = db
            .server
            .value(&format!(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = '{name}' AND INFO LIKE '{like}%'"
            ));
        id.is_some()
    });
    id.unwrap()
}

fn lock_free(db: &mut TestDb) -> bool {
    let name = db.name.clone();
    db.server
        .value(&format!(
            "SELECT IS_USED_LOCK('dbtool:{name}.dbtool_migrations')"
        ))
        .is_none()
}

#[test]
fn connection_killed_during_a_migration() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration(
        "1_slow",
        "CREATE TABLE a (id INT);\nDO SLEEP(20);\nCREATE TABLE b (id INT);\n",
        None,
    );
    let child = p.spawn(&["migrate:latest"]);
    let id = running(&mut db, "DO SLEEP");
    db.server.exec(&format!("KILL {id}"));
    let r = Run::from(child.wait_with_output().unwrap());
    let r = r
        .code(1)
        .stderr_has("1_slow.up.sql:2: statement 2 of 3 failed")
        .stderr_has("lost the connection");
    assert!(!r.stderr.contains("panicked"), "{r}");
    wait_quiet(&mut db);
    assert_eq!(db.ledger(), [("1".into(), "failed".into(), 1, 1)]);
    assert!(db.has_table("a") && !db.has_table("b"));
    assert!(lock_free(&mut db));
    p.migration(
        "1_slow",
        "CREATE TABLE a (id INT);\nDO SLEEP(0);\nCREATE TABLE b (id INT);\n",
        None,
    );
    p.run(&["migrate:latest"])
        .ok()
        .stdout_has("resumed at statement 2");
    assert!(db.has_table("b"));
}

#[test]
fn connection_killed_during_a_seed() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    db.server.exec("CREATE TABLE t (id INT)");
    p.seed(
        "01_slow.sql",
        "INSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);\nDO SLEEP(20);\nINSERT INTO t VALUES (3);\n",
    );
    let child = p.spawn(&["seed:run"]);
    let id = running(&mut db, "DO SLEEP");
    db.server.exec(&format!("KILL {id}"));
    let r = Run::from(child.wait_with_output().unwrap())
        .code(1)
        .stderr_has("db/seeds/01_slow.sql:3: statement 3 failed")
        .stderr_has("lost the connection");
    assert!(!r.stderr.contains("panicked"), "{r}");
    wait_quiet(&mut db);
    assert_eq!(
        db.server.count("SELECT COUNT(*) FROM t"),
        0,
        "the seed's rows were rolled back"
    );
    assert_eq!(db.server.count("SELECT COUNT(*) FROM dbtool_seeds"), 0);
    assert!(lock_free(&mut db));
}

#[test]
fn killed_query_is_a_failed_statement_with_its_line() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration(
        "1_q",
        "CREATE TABLE a (id INT);\n\nSELECT * FROM (SELECT SLEEP(20)) x WHERE 1;\nCREATE TABLE b (id INT);\n",
        None,
    );
    let child = p.spawn(&["migrate:latest"]);
    let id = running(&mut db, "SELECT * FROM (SELECT SLEEP");
    db.server.exec(&format!("KILL QUERY {id}"));
    Run::from(child.wait_with_output().unwrap())
        .code(1)
        .stderr_has("1_q.up.sql:3: statement 2 of 3 failed")
        .stderr_has("ERROR 1317 (70100)");
    assert_eq!(db.ledger(), [("1".into(), "failed".into(), 1, 1)]);
    let err = db
        .server
        .value("SELECT error FROM dbtool_migrations")
        .unwrap();
    assert!(err.contains("1317"), "{err}");
    assert!(lock_free(&mut db));
}

/// A TCP proxy to the server whose connections the test can cut, as a server restart or a
/// network failure would.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = {
            let u = server_url();
            let hostport = u
                .split('@')
                .next_back()
                .unwrap()
                .trim_start_matches("mysql://")
                .to_owned();
            if hostport.contains(':') {
                hostport
            } else {
                format!("{hostport}:3306")
            }
        };
        let cut = Arc::new(AtomicBool::new(false));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let (c, s) = (cut.clone(), streams.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                if c.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                s.lock().unwrap().push(client.try_clone().unwrap());
                s.lock().unwrap().push(server.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Proxy { port, cut, streams }
    }

    /// Drops every connection through the proxy.
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for s in self.streams.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

#[test]
fn connection_dropped_mid_run_is_clear_and_resumable() {
    let mut db = TestDb::new();
    let proxy = Proxy::start();
    let user = server_url()
        .split("://")
        .nth(1)
        .unwrap()
        .split('@')
        .next()
        .unwrap()
        .to_owned();
    let via_proxy = format!("mysql://{user}@127.0.0.1:{}/{}", proxy.port, db.name);
    let p = Project::with_url(&via_proxy);
    // The sleep reads its length from a table, so the file need not change to resume.
    db.server.exec("CREATE TABLE pause (secs INT)");
    db.server.exec("INSERT INTO pause VALUES (20)");
    p.migration("1_a", "CREATE TABLE a (id INT);\n", None);
    p.migration(
        "2_b",
        "CREATE TABLE b (id INT);\nDO SLEEP((SELECT secs FROM pause));\nCREATE TABLE c (id INT);\n",
        None,
    );
    let child = p.spawn(&["migrate:latest"]);
    running(&mut db, "DO SLEEP");
    proxy.cut();
    let r = Run::from(child.wait_with_output().unwrap())
        .code(1)
        .stderr_has("2_b.up.sql:2: statement 2 of 3 failed")
        .stderr_has("lost the connection")
        .stdout_has("1_a");
    assert!(!r.stderr.contains("panicked"), "{r}");
    wait_quiet(&mut db);
    // The server saw its client go: it may have cut the sleep short and finished the packet
    // (statement 2 and its ledger write), or not. Either way the ledger tells the truth. 1_a's
    // end was still to be written when both connections went: its row may say every statement
    // done, still `failed`, which the next run finishes.
    let rows = db.ledger();
    assert!(
        rows[0] == ("1".into(), "applied".into(), 1, 1)
            || rows[0] == ("1".into(), "failed".into(), 1, 1),
        "{rows:?}"
    );
    assert_eq!((rows[1].0.as_str(), rows[1].1.as_str()), ("2", "failed"));
    let done = rows[1].2;
    assert!(done == 1 || done == 2, "{rows:?}");
    assert!(db.has_table("b") && !db.has_table("c"));
    // Straight to the server, the same files: it resumes.
    db.server.exec("UPDATE pause SET secs = 0");
    let direct = Project::new(&db);
    for f in ["1_a.up.sql", "2_b.up.sql"] {
        let text = std::fs::read_to_string(p.path().join("db/migrations").join(f)).unwrap();
        direct.write(&format!("db/migrations/{f}"), &text);
    }
    direct
        .run(&["migrate:latest"])
        .ok()
        .stdout_has(&format!("resumed at statement {}", done + 1));
    assert!(db.has_table("c"));
    assert!(
        db.ledger().iter().all(|r| r.1 == "applied"),
        "{:?}",
        db.ledger()
    );
    assert!(lock_free(&mut db));
}

#[test]
fn lock_contention_16_migrators_and_4_seeders() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    for i in 1..=20 {
        p.migration(
            &format!("{i:03}_m{i}"),
            &format!("CREATE TABLE m{i} (id INT);\nINSERT INTO m{i} VALUES ({i});\n"),
            None,
        );
    }
    // The seed is slow (sleeps between writes, so it spans many packets) and marks every row
    // with its connection: interleaved seeds would interleave their ids.
    db.server
        .exec("CREATE TABLE marks (id INT AUTO_INCREMENT PRIMARY KEY, conn BIGINT)");
    let mut seed = String::new();
    for _ in 0..20 {
        seed.push_str("INSERT INTO marks (conn) VALUES (CONNECTION_ID());\nDO SLEEP(0.005);\n");
    }
    p.seed("01_marks.sql", &seed);
    let mut children = Vec::new();
    for i in 0..20 {
        let args: &[&str] = if i % 5 == 4 {
            &["seed:run"]
        } else {
            &["migrate:latest"]
        };
        children.push(p.spawn(args));
    }
    let runs: Vec<Run> = children
        .into_iter()
        .map(|c| Run::from(c.wait_with_output().unwrap()))
        .collect();
    for r in &runs {
        assert!(
            r.code == 0 || r.code == 4,
            "only a lock timeout may fail a run:\n{r}"
        );
    }
    let ok = runs.iter().filter(|r| r.code == 0).count();
    eprintln!(
        "lock contention: 20 processes, {ok} succeeded, {} timed out",
        20 - ok
    );
    let rows = db.ledger();
    assert_eq!(rows.len(), 20);
    for i in 1..=20 {
        assert_eq!(
            db.server.count(&format!("SELECT COUNT(*) FROM m{i}")),
            1,
            "m{i} applied once"
        );
    }
    // Seeds never interleaved: each run's rows have consecutive ids.
    let marks: Vec<(u64, String)> = db
        .server
        .rows("SELECT id, conn FROM marks ORDER BY id")
        .into_iter()
        .map(|r| {
            (
                r[0].as_deref().unwrap().parse().unwrap(),
                r[1].clone().unwrap(),
            )
        })
        .collect();
    let mut runs_seen = Vec::<String>::new();
    for (_, conn) in &marks {
        if runs_seen.last() != Some(conn) {
            assert!(
                !runs_seen.contains(conn),
                "seed runs interleaved: {marks:?}"
            );
            runs_seen.push(conn.clone());
        }
    }
    assert_eq!(runs_seen.len(), 4, "four seed runs");
    assert!(lock_free(&mut db));
}

#[test]
fn privileges_are_named_and_read_only_users_can_read() {
    let mut db = TestDb::new();
    let admin = Project::example(&db);
    admin.run(&["migrate:latest"]).ok();
    let user = format!("dbtool_ro_{}", std::process::id());
    let mut s = Server::connect(None);
    s.exec(&format!("DROP USER IF EXISTS '{user}'@'%'"));
    s.exec(&format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY 'ro-pass-1'"
    ));
    s.exec(&format!("GRANT SELECT ON `{}`.* TO '{user}'@'%'", db.name));
    let host = server_url().split('@').next_back().unwrap().to_owned();
    let ro = Project::example(&db);
    ro.write(
        "knexfile.toml",
        &format!(
            "[development]\nurl = \"mysql://{user}:ro-pass-1@{host}/{}\"\n",
            db.name
        ),
    );
    ro.migration("20990101000000_more", "CREATE TABLE more (id INT);\n", None);
    ro.run(&["migrate:status"])
        .ok()
        .stdout_has("1 applied · 1 pending");
    ro.run(&["migrate:latest"])
        .code(1)
        .stderr_has("command denied to user");
    assert!(!db.has_table("more"));
    s.exec(&format!("DROP USER '{user}'@'%'"));
}
