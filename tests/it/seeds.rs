//! Seeds against the real server: the tutorial's rerunnable seed, run modes, atomic failure,
//! batches, selection, dry runs and streaming memory.

use crate::helpers::*;

fn seed_row(db: &mut TestDb, path: &str) -> Option<(u64, String)> {
    db.server
        .rows(&format!(
            "SELECT run_count, checksum FROM dbtool_seeds WHERE path = '{path}'"
        ))
        .into_iter()
        .next()
        .map(|r| {
            (
                r[0].as_deref().unwrap().parse().unwrap(),
                r[1].clone().unwrap(),
            )
        })
}

#[test]
fn the_example_seed_is_rerunnable() {
    let mut db = TestDb::new();
    let p = Project::example(&db);
    p.run(&["migrate:latest"]).ok();
    p.run(&["seed:run"]).ok().stdout_has("01_accounts.sql");
    p.run(&["seed:run"]).ok();
    let rows = db
        .server
        .rows("SELECT id, name, description FROM accounts ORDER BY id");
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| r.into_iter().map(Option::unwrap).collect())
        .collect();
    assert_eq!(
        rows,
        [
            ["1", "John Smith", "CEO"],
            ["2", "Ed Williams", "CTO"],
            ["3", "Wendy Jones", "CFO"]
        ]
    );
    assert_eq!(seed_row(&mut db, "01_accounts.sql").unwrap().0, 2);
    p.run(&["seed:status"])
        .ok()
        .stdout_has("01_accounts.sql  always  2");
    let log = db
        .server
        .count("SELECT COUNT(*) FROM dbtool_log WHERE action = 'seed_run'");
    assert_eq!(log, 2);
}

#[test]
fn run_modes() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    db.server.exec("CREATE TABLE hits (seed VARCHAR(20))");
    p.seed("a_always.sql", "INSERT INTO hits VALUES ('always');\n");
    p.seed(
        "b_once.sql",
        "-- dbtool:run once\nINSERT INTO hits VALUES ('once');\n",
    );
    p.seed(
        "c_change.sql",
        "-- reference data\n-- dbtool:run on-change\nINSERT INTO hits VALUES ('change');\n",
    );
    let hits = |db: &mut TestDb, s: &str| {
        db.server
            .count(&format!("SELECT COUNT(*) FROM hits WHERE seed = '{s}'"))
    };
    p.run(&["seed:run"]).ok();
    p.run(&["seed:run"])
        .ok()
        .stdout_has("skipped: runs once and already ran")
        .stdout_has("skipped: on-change and unchanged");
    assert_eq!(
        (
            hits(&mut db, "always"),
            hits(&mut db, "once"),
            hits(&mut db, "change")
        ),
        (2, 1, 1)
    );

    // a CRLF-only change is not a change
    p.seed(
        "c_change.sql",
        "-- reference data\r\n-- dbtool:run on-change\r\nINSERT INTO hits VALUES ('change');\r\n",
    );
    p.run(&["seed:run"]).ok();
    assert_eq!(hits(&mut db, "change"), 1);
    let st = p.run(&["seed:status"]).ok();
    let line = st
        .stdout
        .lines()
        .find(|l| l.contains("c_change.sql"))
        .unwrap();
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        (cols[1], cols[2], *cols.last().unwrap()),
        ("on-change", "1", "unchanged"),
        "{st}"
    );

    // a real change is
    p.seed(
        "c_change.sql",
        "-- dbtool:run on-change\nINSERT INTO hits VALUES ('change');\nINSERT INTO hits VALUES ('change');\n",
    );
    p.run(&["seed:status"]).ok().stdout_has("changed");
    p.run(&["seed:run"]).ok();
    assert_eq!(hits(&mut db, "change"), 3);

    // --specific runs the named seeds whatever their mode, by bare name or path
    p.run(&[
        "seed:run",
        "--specific",
        "b_once",
        "--specific",
        "db/seeds/c_change.sql",
    ])
    .ok();
    assert_eq!((hits(&mut db, "once"), hits(&mut db, "change")), (2, 5));
    assert_eq!(
        hits(&mut db, "always"),
        4,
        "--specific runs only those named"
    );

    // --changed runs only new or changed seeds
    p.seed("d_new.sql", "INSERT INTO hits VALUES ('new');\n");
    p.run(&["seed:run", "--changed"])
        .ok()
        .stdout_has("skipped: unchanged (--changed)");
    assert_eq!((hits(&mut db, "new"), hits(&mut db, "always")), (1, 4));

    // unknown names list the available seeds
    p.run(&["seed:run", "--specific", "nope"])
        .code(2)
        .stderr_has("no seed `nope`")
        .stderr_has("available seeds: a_always.sql, b_once.sql, c_change.sql, d_new.sql");

    // a seed whose file is gone shows as missing
    p.remove("db/seeds/d_new.sql");
    p.run(&["seed:status"]).ok().stdout_has("missing");
    let j = p.run(&["seed:status", "--json"]).ok().json();
    assert_eq!(j["seeds"][3]["state"], "missing");
    assert_eq!(j["seeds"][0]["run_count"], 4);
}

#[test]
fn a_failing_seed_leaves_none_of_its_rows() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    db.server
        .exec("CREATE TABLE t (id INT PRIMARY KEY, who VARCHAR(10))");
    p.seed("01_first.sql", "INSERT INTO t VALUES (1, 'first');\n");
    p.seed(
        "02_bad.sql",
        "INSERT INTO t VALUES (10, 'bad');\nINSERT INTO t VALUES (11, 'bad');\n\
         INSERT INTO t VALUES (12, 'bad');\n-- the fourth fails\nINSERT INTO t VALUES (10, 'dup');\n\
         INSERT INTO t VALUES (13, 'bad');\n",
    );
    p.seed("03_later.sql", "INSERT INTO t VALUES (20, 'later');\n");
    p.run(&["seed:run"])
        .code(1)
        .stderr_has("db/seeds/02_bad.sql:5: statement 4 failed")
        .stderr_has("Duplicate entry '10'")
        .stderr_has("none of its rows were written")
        .stderr_has("seeds after it did not run")
        .stdout_has("01_first.sql");
    let who: Vec<String> = db
        .server
        .rows("SELECT who FROM t ORDER BY id")
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    assert_eq!(
        who,
        ["first"],
        "earlier seed kept, failed and later seeds left nothing"
    );
    assert!(seed_row(&mut db, "01_first.sql").is_some());
    assert!(
        seed_row(&mut db, "02_bad.sql").is_none(),
        "ledger unchanged for the failed seed"
    );
    assert!(seed_row(&mut db, "03_later.sql").is_none());
}

#[test]
fn a_failing_statement_inside_a_batch_is_reported_with_its_own_line() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    db.server.exec("CREATE TABLE t (id INT PRIMARY KEY)");
    let mut sql = String::new();
    for i in 0..2000 {
        sql.push_str(&format!("INSERT INTO t VALUES ({i});\n"));
        if i == 1234 {
            sql.push_str("INSERT INTO t VALUES  (7);\n"); // line 1236, statement 1236
        }
    }
    p.seed("big.sql", &sql);
    p.run(&["seed:run"])
        .code(1)
        .stderr_has("db/seeds/big.sql:1236: statement 1236 failed")
        .stderr_has("Duplicate entry '7'");
    assert_eq!(db.server.count("SELECT COUNT(*) FROM t"), 0);
    // without the duplicate, all 2000 rows arrive, batched
    p.seed("big.sql", &sql.replace("INSERT INTO t VALUES  (7);\n", ""));
    p.run(&["seed:run", "-v"]).ok().stderr_has("statements 1-");
    assert_eq!(db.server.count("SELECT COUNT(*) FROM t"), 2000);
}

#[test]
fn implicit_commits_warn_and_still_run() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    db.server.exec("CREATE TABLE t (id INT)");
    db.server.exec("INSERT INTO t VALUES (99)");
    p.seed(
        "reset.sql",
        "TRUNCATE TABLE t;\nINSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);\n",
    );
    p.run(&["seed:run"])
        .ok()
        .stderr_has("db/seeds/reset.sql:1: statement 1 commits implicitly")
        .stderr_has("use DELETE FROM");
    assert_eq!(db.server.count("SELECT COUNT(*) FROM t"), 2);
    assert_eq!(seed_row(&mut db, "reset.sql").unwrap().0, 1);
}

#[test]
fn dry_runs_write_nothing_and_protected_environments_need_yes() {
    let mut db = TestDb::new();
    let p = Project::example(&db);
    p.run(&["seed:run", "--dry-run"])
        .ok()
        .stdout_has("would run");
    assert!(db.tables().is_empty());
    p.write(
        "knexfile.toml",
        &format!("[production]\nurl = \"{}\"\nprotected = true\n", db.url()),
    );
    p.run(&["migrate:latest", "--env", "production"]).ok();
    p.run(&["seed:run", "--env", "production"])
        .code(2)
        .stderr_has("protected");
    assert_eq!(db.server.count("SELECT COUNT(*) FROM accounts"), 0);
    p.run(&["seed:run", "--env", "production", "--yes"]).ok();
    assert_eq!(db.server.count("SELECT COUNT(*) FROM accounts"), 3);
}

#[test]
fn pending_migrations_warn_but_seeds_run() {
    let mut db = TestDb::new();
    let p = Project::example(&db);
    db.server.exec(
        "CREATE TABLE accounts (id INT PRIMARY KEY, name VARCHAR(50), description VARCHAR(200))",
    );
    p.run(&["seed:run"])
        .ok()
        .stderr_has("1 migration(s) pending");
    assert_eq!(db.server.count("SELECT COUNT(*) FROM accounts"), 3);
}

/// Peak RSS of a seed run, in KiB, from /usr/bin/time -v.
fn peak_rss_kib(p: &Project, args: &[&str]) -> (Run, u64) {
    let mut cmd = std::process::Command::new("/usr/bin/time");
    cmd.arg("-v").arg(env!("CARGO_BIN_EXE_dbtool")).args(args);
    cmd.current_dir(p.path())
        .env_remove("DATABASE_URL")
        .env("NO_COLOR", "1");
    let run = Run::from(cmd.output().expect("/usr/bin/time runs"));
    let kib = run
        .stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no RSS in:\n{run}"));
    (run, kib)
}

#[test]
fn memory_does_not_grow_with_the_seed() {
    // 30 MB here keeps the suite quick; `make bench` measures 200 MB and 1 GB the same way.
    let mut db = TestDb::new();
    let p = Project::new(&db);
    db.server
        .exec("CREATE TABLE big (id INT PRIMARY KEY, pad VARCHAR(100))");
    let (sql, id) = big_insert_seed(80, 30 << 20);
    p.seed("big.sql", &sql);
    drop(sql);
    let (run, kib) = peak_rss_kib(&p, &["seed:run"]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(db.server.count("SELECT COUNT(*) FROM big"), id);
    // A run that held the file, or its statements, would need more than twice this.
    assert!(kib < 16 * 1024, "peak RSS {kib} KiB for a 30 MB seed");
}

#[test]
fn a_1_gb_seed_streams_in_constant_memory() {
    // 1 GiB of real statements: 1 MiB `DO` statements (each parsed by the server, which keeps
    // the run quick), with ten INSERTs spread through them. A run that held the file or its
    // statements would need the gigabyte; one that streams needs about one statement.
    let mut db = TestDb::new();
    let p = Project::new(&db);
    db.server.exec("CREATE TABLE marks (n INT)");
    let path = p.path().join("db/seeds/huge.sql");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        // Exactly 1 MiB each.
        let statement = format!("DO LENGTH('{}');\n", "x".repeat((1 << 20) - 15));
        for mib in 0..1024 {
            f.write_all(statement.as_bytes()).unwrap();
            if mib % 103 == 0 {
                writeln!(f, "INSERT INTO marks VALUES ({mib});").unwrap();
            }
        }
    }
    assert!(std::fs::metadata(&path).unwrap().len() >= 1 << 30);
    let (run, kib) = peak_rss_kib(&p, &["seed:run"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains("1034 statements"), "{run}");
    assert_eq!(db.server.count("SELECT COUNT(*) FROM marks"), 10);
    eprintln!("1 GiB seed: peak RSS {kib} KiB");
    // A few copies of the largest statement in flight (splitter window, packet, driver
    // buffer: about 10 MiB for 1 MiB statements) on top of the ~8 MiB every command needs:
    // far below the file's size, and independent of it.
    assert!(kib < 32 * 1024, "peak RSS {kib} KiB for a 1 GiB seed");
}
