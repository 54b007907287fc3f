//! Fleet runs: many databases in one command (`--all-targets`), on the real server.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::helpers::{Project, Server, server_url, wait_until};

/// `n` databases named `<prefix>000`…, dropped at the end of the test.
struct Fleet {
    prefix: String,
    names: Vec<String>,
    server: Server,
}

impl Fleet {
    fn new(n: usize) -> Fleet {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let prefix = format!("dbtool_f{}_{}_", std::process::id(), nanos % 100_000);
        let mut server = Server::connect(None);
        let names: Vec<String> = (0..n).map(|i| format!("{prefix}{i:03}")).collect();
        for name in &names {
            server.exec(&format!("CREATE DATABASE `{name}`"));
        }
        Fleet {
            prefix,
            names,
            server,
        }
    }

    /// A project whose environment's targets are the fleet (a targets file of database names
    /// on the test server).
    fn project(&self) -> Project {
        let p = Project::with_url(&format!("{}/{}main", server_url(), self.prefix));
        p.write(
            "knexfile.toml",
            &format!(
                "[development]\nurl = \"{}/{}main\"\nlock_timeout = 30\ntargets_file = \"tenants.txt\"\n",
                server_url(),
                self.prefix
            ),
        );
        let mut list = String::from("# one tenant per line\n");
        for n in &self.names {
            list.push_str(n);
            list.push('\n');
        }
        p.write("tenants.txt", &list);
        p
    }

    /// Every target's ledger: (database, version) -> (state, statements done).
    fn ledgers(&mut self) -> BTreeMap<(String, String), (String, u32)> {
        let union: Vec<String> = self
            .names
            .iter()
            .map(|n| {
                format!(
                    "SELECT '{n}', version, state, statements_done FROM `{n}`.dbtool_migrations"
                )
            })
            .collect();
        self.server
            .rows(&union.join(" UNION ALL "))
            .into_iter()
            .map(|r| {
                let s = |i: usize| r[i].clone().unwrap();
                ((s(0), s(1)), (s(2), s(3).parse().unwrap()))
            })
            .collect()
    }

    /// Every target's log rows, counted: what a rerun must not add to where it had nothing to do.
    fn log_counts(&mut self) -> BTreeMap<String, u64> {
        let union: Vec<String> = self
            .names
            .iter()
            .map(|n| format!("SELECT '{n}', COUNT(*) FROM `{n}`.dbtool_log"))
            .collect();
        self.server
            .rows(&union.join(" UNION ALL "))
            .into_iter()
            .map(|r| {
                (
                    r[0].clone().unwrap(),
                    r[1].as_deref().unwrap().parse().unwrap(),
                )
            })
            .collect()
    }

    /// How many targets have their ledger table.
    fn with_ledger(&mut self) -> u64 {
        self.server.count(&format!(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA LIKE '{}%' \
             AND TABLE_NAME = 'dbtool_migrations'",
            self.prefix.replace('_', "\\_")
        ))
    }

    /// Connections of the server inside the fleet's databases.
    fn connections(&mut self) -> u64 {
        self.server.count(&format!(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB LIKE '{}%'",
            self.prefix.replace('_', "\\_")
        ))
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = self
                .server
                .try_exec(&format!("DROP DATABASE IF EXISTS `{n}`"));
        }
    }
}

/// Four migrations; the third creates `t3`.
fn migrations(p: &Project, slow: bool) {
    let pause = if slow { "\nDO SLEEP(0.05);" } else { "" };
    for (i, name) in ["one", "two", "three", "four"].iter().enumerate() {
        let n = i + 1;
        p.migration(
            &format!("00{n}_{name}"),
            &format!("CREATE TABLE t{n} (id INT PRIMARY KEY);{pause}\n"),
            Some(&format!("DROP TABLE t{n};\n")),
        );
    }
}

#[test]
fn two_hundred_targets_with_one_failing_finish_resume_and_change_nothing_twice() {
    let mut fleet = Fleet::new(200);
    let p = fleet.project();
    migrations(&p, false);
    let bad = fleet.names[57].clone();
    fleet
        .server
        .exec(&format!("CREATE TABLE `{bad}`.t3 (x INT)"));
    let args = [
        "migrate:latest",
        "--all-targets",
        "--parallel",
        "8",
        "--on-error",
        "continue",
    ];
    let run = p.run(&args).code(1);
    assert!(
        run.stdout.contains(&format!("failed       {bad}")),
        "the failing target is named:\n{run}"
    );
    assert!(
        run.stdout
            .contains("200 targets: 199 succeeded, 1 failed, 0 not run"),
        "{run}"
    );
    assert!(run.stdout.contains("Table 't3' already exists"), "{run}");
    let ledgers = fleet.ledgers();
    for n in &fleet.names {
        let applied = ["1", "2", "3", "4"]
            .iter()
            .filter(|v| {
                ledgers
                    .get(&(n.clone(), v.to_string()))
                    .is_some_and(|(s, _)| s == "applied")
            })
            .count();
        assert_eq!(applied, if *n == bad { 2 } else { 4 }, "{n}: {ledgers:?}");
    }
    let logs = fleet.log_counts();

    // Fixed by hand, the same command completes the fleet and leaves the other 199 alone.
    fleet.server.exec(&format!("DROP TABLE `{bad}`.t3"));
    let run = p.run(&args).ok();
    assert!(
        run.stdout
            .contains("200 targets: 200 succeeded, 0 failed, 0 not run"),
        "{run}"
    );
    assert!(
        run.stdout
            .contains(&format!("ok           {bad}  002 → 004  2 applied")),
        "{run}"
    );
    let ledgers = fleet.ledgers();
    assert_eq!(ledgers.len(), 800, "{ledgers:?}");
    assert!(ledgers.values().all(|(s, _)| s == "applied"), "{ledgers:?}");
    let after = fleet.log_counts();
    for n in fleet.names.iter().filter(|n| **n != bad) {
        assert_eq!(logs[n], after[n], "{n} was written to again");
    }
    let status = p.run(&["migrate:status", "--all-targets"]).ok();
    assert!(
        status
            .stdout
            .contains("200 targets: 200 at 004, 0 behind, 0 failed"),
        "{status}"
    );
}

#[test]
fn a_fleet_run_killed_half_way_resumes_and_every_ledger_tells_the_truth() {
    let mut fleet = Fleet::new(200);
    let p = fleet.project();
    migrations(&p, true);
    let mut child = p.spawn(&["migrate:latest", "--all-targets", "--parallel", "8"]);
    wait_until(
        "a quarter of the fleet to start",
        Duration::from_secs(120),
        || fleet.with_ledger() >= 50,
    );
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    // Its children die with it (SIGTERM: each stops its statement and records what it did).
    wait_until(
        "the children's connections to go",
        Duration::from_secs(60),
        || fleet.connections() == 0,
    );
    let started = fleet.with_ledger();
    assert!(
        started < 200,
        "the run was not killed half-way ({started} targets started)"
    );

    let run = p
        .run(&["migrate:latest", "--all-targets", "--parallel", "8"])
        .ok();
    assert!(
        run.stdout
            .contains("200 targets: 200 succeeded, 0 failed, 0 not run"),
        "{run}"
    );
    let ledgers = fleet.ledgers();
    assert_eq!(ledgers.len(), 800);
    for ((db, v), (state, done)) in &ledgers {
        assert_eq!((state.as_str(), *done), ("applied", 2), "{db} {v}");
    }
    for n in fleet.names.clone() {
        let tables = fleet.server.count(&format!(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{n}' \
             AND TABLE_NAME IN ('t1', 't2', 't3', 't4')"
        ));
        assert_eq!(tables, 4, "{n}");
    }
}

#[test]
fn a_failed_canary_stops_the_run_and_on_error_stop_starts_no_more() {
    let mut fleet = Fleet::new(4);
    let p = fleet.project();
    migrations(&p, false);
    let names = fleet.names.clone();
    fleet
        .server
        .exec(&format!("CREATE TABLE `{}`.t2 (x INT)", names[2]));
    let run = p
        .run(&["migrate:latest", "--all-targets", "--canary", &names[2]])
        .code(1);
    assert!(
        run.stdout
            .contains("4 targets: 0 succeeded, 1 failed, 3 not run"),
        "{run}"
    );
    assert_eq!(fleet.with_ledger(), 1, "only the canary ran");

    // --on-error stop (the default) at one at a time: the first failure ends the run.
    let run = p
        .run(&["migrate:latest", "--all-targets", "--parallel", "1"])
        .code(1);
    assert!(
        run.stdout
            .contains("4 targets: 2 succeeded, 1 failed, 1 not run"),
        "{run}"
    );
    assert!(
        run.stdout
            .lines()
            .any(|l| l.contains(&names[3]) && l.contains("not run")),
        "{run}"
    );

    // Waves of two, continuing past the failure.
    let run = p
        .run(&[
            "migrate:latest",
            "--all-targets",
            "--wave",
            "2",
            "--on-error",
            "continue",
        ])
        .code(1);
    assert!(
        run.stdout
            .contains("4 targets: 3 succeeded, 1 failed, 0 not run"),
        "{run}"
    );
    let status = p.run(&["migrate:status", "--all-targets"]).ok();
    assert!(
        status
            .stdout
            .contains("4 targets: 3 at 004, 1 at 001, 1 behind, 1 failed"),
        "{status}"
    );
    let run = p
        .run(&["migrate:status", "--all-targets", "--exit-code"])
        .code(3);
    assert!(run.stdout.contains(&names[2]), "{run}");
}

#[test]
fn targets_come_from_a_list_a_file_or_a_query_and_can_be_chosen_by_name() {
    let mut fleet = Fleet::new(3);
    let p = fleet.project();
    migrations(&p, false);
    let names = fleet.names.clone();
    let url = server_url();
    p.write(
        "knexfile.toml",
        &format!(
            "[development]\nurl = \"{url}/{}\"\ntargets = [\"${{TENANT_URL}}\", \"{}\"]\n\n\
             [queried]\nurl = \"{url}/{}\"\ntargets_query = \"SELECT SCHEMA_NAME FROM \
             information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE '{}%' ORDER BY 1\"\n",
            names[0],
            names[1],
            names[0],
            fleet.prefix.replace('_', "\\\\_"),
        ),
    );
    let mut p = p;
    p.env
        .push(("TENANT_URL".into(), format!("{url}/{}", names[0])));
    let run = p
        .run(&[
            "migrate:latest",
            "--all-targets",
            "--target",
            &names[1],
            "--json",
        ])
        .ok();
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(
        lines.len(),
        2,
        "one line per target, then the summary:\n{run}"
    );
    assert_eq!(lines[0]["target"], names[1].as_str());
    assert_eq!(lines[0]["applied"], 4);
    assert_eq!(lines[0]["to_version"], "004");
    assert_eq!(lines[1]["fleet"]["succeeded"], 1);
    assert_eq!(fleet.with_ledger(), 1);

    let run = p.run(&["migrate:latest", "--all-targets"]).ok();
    assert!(run.stdout.contains("2 targets: 2 succeeded"), "{run}");
    let run = p
        .run(&["--env", "queried", "migrate:latest", "--all-targets"])
        .ok();
    assert!(run.stdout.contains("3 targets: 3 succeeded"), "{run}");
    assert_eq!(fleet.with_ledger(), 3);

    let unknown = p.run(&["migrate:latest", "--target", "nope"]).code(2);
    assert!(
        unknown
            .stderr
            .contains("no target `nope` among the 2 targets"),
        "{unknown}"
    );
    p.run(&["migrate:latest", "--parallel", "2"])
        .code(2)
        .stderr_has("--parallel only applies to a fleet run");
}

#[test]
fn rollback_seeds_and_drift_run_across_the_fleet_and_passwords_stay_hidden() {
    let mut fleet = Fleet::new(3);
    let p = fleet.project();
    migrations(&p, false);
    p.seed(
        "01_rows.sql",
        "INSERT INTO t1 VALUES (1) ON DUPLICATE KEY UPDATE id = id;\n",
    );
    p.run(&["migrate:latest", "--all-targets"]).ok();
    let run = p.run(&["seed:run", "--all-targets"]).ok();
    assert!(run.stdout.contains("1 seeds run"), "{run}");
    let first = fleet.names[0].clone();
    fleet
        .server
        .exec(&format!("ALTER TABLE `{first}`.t1 ADD COLUMN note INT"));
    let run = p.run(&["migrate:drift", "--all-targets"]).code(3);
    assert!(
        run.stdout.contains(&format!("drift        {first}")),
        "{run}"
    );
    let run = p
        .run(&["migrate:rollback", "--all-targets", "--step", "1"])
        .ok();
    assert!(run.stdout.contains("004 → 003  1 rolled back"), "{run}");

    // A target that cannot be reached: its error, never its password.
    let bad = server_url().replace("://root@", "://root:s3cretpw@");
    p.write("tenants.txt", &format!("{bad}/{first}\n"));
    let run = p.run(&["migrate:status", "--all-targets"]).code(1);
    assert!(
        !run.stdout.contains("s3cretpw") && !run.stderr.contains("s3cretpw"),
        "{run}"
    );
    assert!(run.stdout.contains("1 not read"), "{run}");
}
