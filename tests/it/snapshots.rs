//! What users see, pinned: transcripts of real runs (command, exit code, stdout, stderr) against
//! the real server, compared with the reviewed snapshots in `tests/it/snapshots/`.
//!
//! A change to any message, table or JSON document shows up as a snapshot diff to review
//! (`cargo insta review`, or rename the `.snap.new` file). Run-to-run noise is replaced before
//! comparing: the test database's name, the project folder, the server's address, durations,
//! timestamps, connection ids and the server's name in its own messages. Both servers give
//! the same transcripts; where they cannot, the scenario says so.

use std::time::Duration;

use crate::helpers::*;

/// A transcript of commands run in one project.
struct Transcript<'a> {
    project: &'a Project,
    db_name: String,
    text: String,
}

impl<'a> Transcript<'a> {
    fn new(project: &'a Project, db: &TestDb) -> Self {
        Transcript {
            project,
            db_name: db.name.clone(),
            text: String::new(),
        }
    }

    fn offline(project: &'a Project) -> Self {
        Transcript {
            project,
            db_name: "\u{0}".into(),
            text: String::new(),
        }
    }

    /// Runs `dbtool ARGS` and records it.
    fn run(&mut self, args: &[&str]) -> Run {
        let r = self.project.run(args);
        self.record(args, &r);
        r
    }

    /// Runs with extra environment variables.
    fn run_env(&mut self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = self.project.cmd(args);
        for (k, v) in env {
            c.env(k, v);
        }
        let r = Run::from(c.output().unwrap());
        let shown: String = env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
        self.record_with(&shown, args, &r);
        r
    }

    fn record(&mut self, args: &[&str], r: &Run) {
        self.record_with("", args, r)
    }

    fn record_with(&mut self, env: &str, args: &[&str], r: &Run) {
        self.text.push_str(&format!(
            "$ {env}dbtool {}\nexit {}\n",
            args.join(" "),
            r.code
        ));
        for (name, out) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
            if !out.is_empty() {
                self.text.push_str(&format!("--- {name}\n{out}"));
                if !out.ends_with('\n') {
                    self.text.push_str("\n[no newline at end]\n");
                }
            }
        }
        self.text.push('\n');
    }

    fn note(&mut self, what: &str) {
        self.text.push_str(&format!("# {what}\n"));
    }

    /// The transcript with run-to-run noise replaced.
    fn finish(self) -> String {
        let root = self.project.path().to_string_lossy().into_owned();
        let root = std::fs::canonicalize(&root)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or(root);
        self.text
            .replace(&root, "[project]")
            .replace(
                &self.project.path().to_string_lossy().into_owned(),
                "[project]",
            )
            .replace(&self.db_name, "[db]")
            .replace(&server_url(), "mysql://root@[server]")
            .replace(&server_url().replacen("mysql://", "", 1), "root@[server]")
    }
}

/// Replaces what differs from run to run and between the two servers.
macro_rules! assert_transcript {
    ($name:expr, $text:expr) => {
        insta::with_settings!({
            snapshot_path => "snapshots",
            prepend_module_to_snapshot => false,
            filters => vec![
                (r"\b\d+ ms\b", "[ms] ms"),
                (r#""(duration_ms|waited_ms)": \d+"#, r#""$1": "[ms]""#),
                (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z", "[timestamp]"),
                (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", "[time]      "),
                (r"connection \d+", "connection [id]"),
                (r"KILL \d+", "KILL [id]"),
                (r#""connection_id": \d+"#, r#""connection_id": "[id]""#),
                (r"idle for \d+ s", "idle for [n] s"),
                (r#""seconds": \d+"#, r#""seconds": "[n]""#),
                (r"\(root@[^,)]*", "(root@[host]"),
                (r#""host": "[^"]*""#, r#""host": "[host]""#),
                (r#""state": ("[^"]*"|null)"#, r#""state": "[state]""#),
                (r"for key '[^']*'", "for key '[key]'"),
                (r"(MariaDB|MySQL) server version", "[server] server version"),
                (r"answered after \d+\.\d s", "answered after [n] s"),
            ],
        }, {
            insta::assert_snapshot!($name, $text);
        });
    };
}

fn accounts(p: &Project) {
    p.migration(
        "1_create_accounts",
        "-- The accounts table.\nCREATE TABLE accounts (\n  id INT PRIMARY KEY,\n  email VARCHAR(100) NOT NULL\n);\n",
        Some("DROP TABLE accounts;\n"),
    );
    p.migration(
        "2_seed_plans",
        "CREATE TABLE plans (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL);\n\
         INSERT INTO plans VALUES (1, 'free'), (2, 'pro');\n",
        Some("DROP TABLE plans;\n"),
    );
    p.migration(
        "3_fill_accounts",
        "INSERT INTO accounts VALUES (1, 'a@example.com');\nINSERT INTO accounts VALUES (2, 'b@example.com');\n",
        Some("DELETE FROM accounts WHERE id IN (1, 2);\n"),
    );
    p.seed(
        "01_plans.sql",
        "-- dbtool:run always\nDELETE FROM plans WHERE id > 2;\nINSERT INTO plans VALUES (3, 'team');\n",
    );
    p.seed(
        "02_once.sql",
        "-- dbtool:run once\nUPDATE plans SET name = 'Free' WHERE id = 1;\n",
    );
}

#[test]
fn snapshot_the_everyday_loop() {
    let db = TestDb::new();
    let p = Project::new(&db);
    accounts(&p);
    let mut t = Transcript::new(&p, &db);
    t.run(&["migrate:status"]);
    t.run(&["migrate:latest", "--dry-run"]);
    t.run(&["migrate:latest"]);
    t.run(&["migrate:latest"]);
    t.run(&["migrate:status"]);
    t.run(&["--json", "migrate:status"]);
    t.run(&["migrate:validate"]);
    t.run(&["--json", "migrate:validate"]);
    t.run(&["seed:run", "--dry-run"]);
    t.run(&["seed:run"]);
    t.run(&["seed:run"]);
    t.run(&["seed:status"]);
    t.run(&["--json", "seed:status"]);
    t.run(&["migrate:unlock"]);
    t.run(&["migrate:rollback", "--step", "1", "--dry-run"]);
    t.run(&["--json", "migrate:rollback", "--step", "1"]);
    t.run(&["migrate:rollback"]);
    t.run(&["migrate:rollback"]);
    t.run(&["--json", "migrate:latest"]);
    t.run(&["migrate:down"]);
    t.run(&["migrate:up"]);
    t.run(&["migrate:rollback", "--all"]);
    assert_transcript!("everyday_loop", t.finish());
}

#[test]
fn snapshot_failure_resume_drift_repair_resolve() {
    let db = TestDb::new();
    let p = Project::new(&db);
    p.migration(
        "1_init",
        "CREATE TABLE t1 (id INT PRIMARY KEY);\n",
        Some("DROP TABLE t1;\n"),
    );
    p.migration(
        "2_add",
        "CREATE TABLE t2 (id INT PRIMARY KEY);\nCREATE TABLE t3 (id INT PRIMARY KEY);\n\
         ALTER TABLE t1 ADD COLUMN note VARCHAR(10);\nINSERT INTO t_missing VALUES (1);\n\
         CREATE TABLE t4 (id INT PRIMARY KEY);\n",
        Some("DROP TABLE t4;\nDROP TABLE t3;\nDROP TABLE t2;\n"),
    );
    let mut t = Transcript::new(&p, &db);
    t.run(&["migrate:latest"]);
    t.run(&["migrate:status"]);
    t.run(&["--json", "migrate:status"]);
    t.run(&["migrate:rollback"]);
    t.note("fix statement 4 and resume");
    p.migration(
        "2_add",
        "CREATE TABLE t2 (id INT PRIMARY KEY);\nCREATE TABLE t3 (id INT PRIMARY KEY);\n\
         ALTER TABLE t1 ADD COLUMN note VARCHAR(10);\nUPDATE t1 SET note = 'x';\n\
         CREATE TABLE t4 (id INT PRIMARY KEY);\n",
        Some("DROP TABLE t4;\nDROP TABLE t3;\nDROP TABLE t2;\n"),
    );
    t.run(&["migrate:latest"]);
    p.migration(
        "3_gone",
        "CREATE TABLE t5 (id INT);\n",
        Some("DROP TABLE t5;\n"),
    );
    t.run(&["migrate:latest"]);
    t.note("edit an applied file and remove another");
    p.migration(
        "1_init",
        "CREATE TABLE t1 (id INT PRIMARY KEY); -- edited\n",
        Some("DROP TABLE t1;\n"),
    );
    p.remove("db/migrations/3_gone.up.sql");
    p.remove("db/migrations/3_gone.down.sql");
    t.run(&["migrate:latest"]);
    t.run(&["migrate:validate"]);
    t.run(&["--json", "migrate:validate"]);
    t.run(&["migrate:status"]);
    t.run(&["migrate:repair"]);
    t.run(&["migrate:repair"]);
    t.run(&["migrate:validate"]);
    t.note("a failure whose done statements are then edited: resolve");
    p.migration(
        "4_bad",
        "CREATE TABLE t6 (id INT PRIMARY KEY);\nCREATE TABLE t6 (id INT PRIMARY KEY);\n",
        Some("DROP TABLE t6;\n"),
    );
    t.run(&["migrate:latest"]);
    p.migration(
        "4_bad",
        "CREATE TABLE t7 (id INT PRIMARY KEY);\nCREATE TABLE t8 (id INT PRIMARY KEY);\n",
        Some("DROP TABLE t6;\n"),
    );
    t.run(&["migrate:latest"]);
    t.run(&["migrate:resolve", "4", "--rolled-back"]);
    t.run(&["migrate:resolve", "4", "--rolled-back"]);
    t.run(&["migrate:status"]);
    assert_transcript!("failure_resume_drift_repair_resolve", t.finish());
}

#[test]
fn snapshot_refusals() {
    let db = TestDb::new();
    let p = Project::new(&db);
    p.migration("1_a", "CREATE TABLE a (id INT PRIMARY KEY);\n", None);
    p.migration(
        "2_b",
        "CREATE TABLE b (id INT PRIMARY KEY);\n",
        Some("DROP TABLE b;\n"),
    );
    let mut t = Transcript::new(&p, &db);
    t.run(&["migrate:latest"]);
    t.run(&["migrate:rollback", "--all"]);
    t.run(&["migrate:up", "99"]);
    t.run(&["migrate:down", "99"]);
    t.run(&["migrate:up", "2"]);
    t.run(&["migrate:rollback", "--step", "0"]);
    t.run(&["migrate:resolve", "2", "--applied"]);
    t.run(&["migrate:latest", "--to", "abc"]);
    t.note("a DML-only migration that fails leaves nothing");
    p.migration(
        "3_dml",
        "INSERT INTO b VALUES (1);\nINSERT INTO b VALUES (1);\n",
        Some("DELETE FROM b;\n"),
    );
    t.run(&["migrate:latest"]);
    t.note("a syntax error");
    p.migration(
        "3_dml",
        "INSERT INTO b VALUES (1);\nINSERT INTO b VALUES (2);\n",
        Some("DELETE FROM b;\n"),
    );
    p.migration(
        "4_syntax",
        "CREATE TABLE c (id INT);\nCREATE TABEL d (id INT);\n",
        None,
    );
    t.run(&["migrate:latest"]);
    t.run(&["--json", "migrate:latest"]);
    t.note("a protected environment");
    p.write(
        "knexfile.toml",
        &format!(
            "[development]\nurl = \"{}\"\nprotected = true\nlock_timeout = 30\n",
            db.url()
        ),
    );
    t.run(&["migrate:rollback"]);
    t.run(&["seed:run"]);
    assert_transcript!("refusals", t.finish());
}

#[test]
fn snapshot_seeds() {
    let db = TestDb::new();
    let p = Project::new(&db);
    p.migration(
        "1_t",
        "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10));\n",
        Some("DROP TABLE t;\n"),
    );
    p.seed(
        "01_a.sql",
        "INSERT INTO t VALUES (1, 'a');\nDELETE FROM t WHERE id = 1;\n",
    );
    p.seed(
        "02_changes.sql",
        "-- dbtool:run on-change\nINSERT INTO t VALUES (2, 'b') ON DUPLICATE KEY UPDATE v = 'b';\n",
    );
    p.seed(
        "03_truncate.sql",
        "TRUNCATE TABLE t;\nINSERT INTO t VALUES (3, 'c');\nDELETE FROM t;\n",
    );
    let mut t = Transcript::new(&p, &db);
    t.run(&["seed:run"]);
    t.run(&["migrate:latest"]);
    t.run(&["seed:run"]);
    t.run(&["seed:run", "--changed"]);
    t.run(&["seed:run", "--specific", "02_changes"]);
    t.run(&["seed:run", "--specific", "nope"]);
    p.seed(
        "04_bad.sql",
        "INSERT INTO t VALUES (4, 'd');\nINSERT INTO t VALUES (4, 'd');\n",
    );
    t.run(&["seed:run"]);
    t.run(&["--json", "seed:run"]);
    p.seed("05_mode.sql", "-- dbtool:run sometimes\nSELECT 1;\n");
    t.run(&["seed:run"]);
    p.remove("db/seeds/05_mode.sql");
    p.remove("db/seeds/04_bad.sql");
    p.remove("db/seeds/01_a.sql");
    t.run(&["seed:status"]);
    assert_transcript!("seeds", t.finish());
}

#[test]
fn snapshot_offline_commands_and_bad_input() {
    let p = Project::with_url("mysql://root@127.0.0.1:1/none");
    std::fs::remove_file(p.path().join("knexfile.toml")).unwrap();
    std::fs::remove_dir_all(p.path().join("db")).unwrap();
    let mut t = Transcript::offline(&p);
    t.run(&["init"]);
    t.run(&["init"]);
    t.run(&["seed:make", "02 Orders"]);
    t.run(&["migrate:make", "!!!"]);
    t.run(&["migrate:status"]);
    t.run_env(&["migrate:status"], &[("DATABASE_URL", "postgres://x@y/z")]);
    t.run(&["--env", "staging", "migrate:status"]);
    p.write("knexfile.toml", "[development]\nurl = 3\n");
    t.run(&["migrate:status"]);
    p.write("knexfile.toml", "[development\nurl = \"x\"\n");
    t.run(&["migrate:status"]);
    p.write(
        "knexfile.toml",
        "[development]\nurl = \"${NOPE_NOT_SET}\"\nlock_timout = 5\n",
    );
    t.run(&["migrate:status"]);
    p.write(
        "knexfile.toml",
        "[development]\nurl = \"mysql://root@127.0.0.1:1/none\"\nconnect_timeout = 2\n",
    );
    p.write("db/migrations/1_a.up.sql", "SELECT 1;\n");
    p.write("db/migrations/001_b.up.sql", "SELECT 1;\n");
    p.write("db/migrations/2_c.down.sql", "SELECT 1;\n");
    p.write("db/migrations/notes.sql", "SELECT 1;\n");
    p.write_bytes("db/migrations/3_d.up.sql", b"SELECT '\xff';\n");
    p.write("db/migrations/README.md", "ignored\n");
    t.run(&["migrate:latest"]);
    t.run(&["--json", "migrate:latest"]);
    for f in [
        "1_a.up.sql",
        "001_b.up.sql",
        "2_c.down.sql",
        "notes.sql",
        "3_d.up.sql",
    ] {
        p.remove(&format!("db/migrations/{f}"));
    }
    p.write("db/migrations/1_a.up.sql", "SELECT 'unterminated;\n");
    t.run(&["migrate:latest"]);
    t.run(&["migrate:validate"]);
    p.write("db/migrations/1_a.up.sql", "SELECT 1;\n");
    t.run(&["migrate:status"]);
    t.run(&["migrate:nope"]);
    t.run(&["migrate:rollback", "--all", "--step", "2"]);
    t.run(&["migrate:resolve", "1"]);
    let text = t.finish();
    // migrate:make's version is the time; seed:make's name is fixed.
    let text = regex_lite_replace_versions(&text);
    assert_transcript!("offline_commands_and_bad_input", text);
}

/// `migrate:make` versions are the current UTC time: 14 digits followed by `_`.
fn regex_lite_replace_versions(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(|c: char| c.is_ascii_digit()) {
        let run = rest[i..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len() - i);
        out.push_str(&rest[..i]);
        let digits = &rest[i..i + run];
        if digits.len() == 14 && rest[i + run..].starts_with('_') {
            out.push_str("[version]");
        } else {
            out.push_str(digits);
        }
        rest = &rest[i + run..];
    }
    out.push_str(rest);
    out
}

#[test]
fn snapshot_a_held_lock() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.write(
        "knexfile.toml",
        &format!("[development]\nurl = \"{}\"\nlock_timeout = 1\n", db.url()),
    );
    p.migration("1_a", "CREATE TABLE a (id INT PRIMARY KEY);\n", None);
    let mut t = Transcript::new(&p, &db);
    // Another connection takes the lock first.
    let name = format!("dbtool:{}.dbtool_migrations", db.name);
    db.server.exec(&format!("DO GET_LOCK('{name}', 10)"));
    wait_until("the lock is held", Duration::from_secs(10), || {
        db.server
            .value(&format!("SELECT IS_USED_LOCK('{name}')"))
            .is_some()
    });
    t.run(&["migrate:latest"]);
    t.run(&["migrate:status"]);
    t.run(&["migrate:unlock"]);
    t.run(&["--json", "migrate:unlock"]);
    let text = t.finish().replace(&name, "dbtool:[db].dbtool_migrations");
    assert_transcript!("a_held_lock", text);
}
