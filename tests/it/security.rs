//! Passwords never reach any output, the log, or --help; table names from config are quoted
//! by the one validating helper.

use crate::helpers::*;

/// A user with a password, dropped at the end.
struct User {
    name: String,
    password: String,
}

impl User {
    fn new(db: &TestDb, tag: &str) -> User {
        let name = format!("dbtool_{tag}_{}", std::process::id());
        // Characters that URLs must escape, so redaction is tested on the decoded form too.
        let password = format!("Pw_SeCrEt_{}!x@y", std::process::id());
        let mut s = Server::connect(None);
        s.exec(&format!("DROP USER IF EXISTS '{name}'@'%'"));
        s.exec(&format!(
            "CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'"
        ));
        s.exec(&format!("GRANT ALL ON `{}`.* TO '{name}'@'%'", db.name));
        User { name, password }
    }

    fn url(&self, db: &TestDb) -> String {
        let host = server_url().split('@').next_back().unwrap().to_owned();
        let enc = self.password.replace('!', "%21").replace('@', "%40");
        format!("mysql://{}:{enc}@{host}/{}", self.name, db.name)
    }
}

impl Drop for User {
    fn drop(&mut self) {
        let mut s = Server::connect(None);
        let _ = s.try_exec(&format!("DROP USER IF EXISTS '{}'@'%'", self.name));
    }
}

#[test]
fn no_command_ever_prints_the_password() {
    let mut db = TestDb::new();
    let user = User::new(&db, "pw");
    let url = user.url(&db);
    let secret = user.password.clone();
    let encoded = url
        .split(':')
        .nth(2)
        .unwrap()
        .split('@')
        .next()
        .unwrap()
        .to_owned();
    let p = Project::example(&db);
    p.write(
        "knexfile.toml",
        &format!("[development]\nurl = \"{url}\"\nlock_timeout = 5\n"),
    );
    p.migration(
        "20300101000000_bad",
        "CREATE TABLE ok (id INT);\nSELECT nosuchcolumn FROM ok;\n",
        Some("DROP TABLE ok;\n"),
    );
    let mut outputs = Vec::new();
    // Each run with the exit code it must have: a command that fails before it reaches the
    // server would prove nothing about what the server's answers print.
    let runs: Vec<(Vec<&str>, i32)> = vec![
        (vec!["migrate:status"], 0),
        (vec!["migrate:status", "--json"], 0),
        (vec!["migrate:latest", "--dry-run", "-vv"], 0),
        (vec!["migrate:latest", "-vv"], 1),
        (vec!["migrate:latest", "--json"], 1),
        (vec!["migrate:validate"], 3),
        (vec!["migrate:validate", "--json"], 3),
        (
            vec!["migrate:resolve", "20300101000000", "--rolled-back"],
            0,
        ),
        (vec!["migrate:up", "-v"], 1),
        (vec!["migrate:resolve", "20300101000000", "--applied"], 0),
        (vec!["migrate:repair"], 0),
        (vec!["migrate:unlock", "--json"], 0),
        (vec!["seed:run", "-vv"], 0),
        (vec!["seed:run", "--dry-run", "--json"], 0),
        (vec!["seed:status"], 0),
        (vec!["seed:status", "--json"], 0),
        (vec!["migrate:rollback", "--all", "--dry-run"], 0),
        (vec!["migrate:rollback", "--all", "-vv"], 0),
        (vec!["db:wait"], 0),
        (vec!["db:create", "--json"], 0),
        (vec!["--help"], 0),
        (vec!["migrate:latest", "--help"], 0),
    ];
    for (args, code) in &runs {
        let r = p.run(args);
        assert_eq!(r.code, *code, "`{}`:\n{r}", args.join(" "));
        outputs.push((args.join(" "), r));
    }
    // The same through DATABASE_URL and --url, and with a wrong database and a wrong password.
    let mut env_p = Project::example(&db);
    env_p.write("knexfile.toml", "[development]\n");
    env_p.env.push(("DATABASE_URL".into(), url.clone()));
    outputs.push((
        "DATABASE_URL migrate:status".into(),
        env_p.run(&["migrate:status"]),
    ));
    outputs.push(("DATABASE_URL --help".into(), env_p.run(&["--help"])));
    outputs.push((
        "--url wrong db".into(),
        p.run(&[
            "migrate:status",
            "--url",
            &url.replace(&db.name, "dbtool_nope_db"),
        ]),
    ));
    let wrong = url.replace(&encoded, "Pw_SeCrEt_wrong");
    outputs.push((
        "wrong password".into(),
        p.run(&["migrate:status", "--url", &wrong]),
    ));
    outputs.push((
        "RUST_LOG=trace".into(),
        Run::from(
            p.cmd(&["migrate:status"])
                .env("RUST_LOG", "trace")
                .output()
                .unwrap(),
        ),
    ));

    for (what, r) in &outputs {
        for needle in [secret.as_str(), encoded.as_str(), "Pw_SeCrEt"] {
            assert!(
                !r.stdout.contains(needle) && !r.stderr.contains(needle),
                "`{what}` printed the password:\n{r}"
            );
        }
    }
    // The commands really ran (the password worked), and some failed on purpose.
    assert!(
        outputs
            .iter()
            .any(|(w, r)| w == "migrate:latest -vv" && r.code == 1)
    );
    assert!(
        outputs
            .iter()
            .any(|(w, r)| w == "wrong password" && r.stderr.contains(":***@"))
    );
    assert!(db.server.count("SELECT COUNT(*) FROM dbtool_log") > 3);
    let log = db.server.rows("SELECT * FROM dbtool_log");
    for row in log {
        for v in row.into_iter().flatten() {
            assert!(
                !v.contains("Pw_SeCrEt"),
                "dbtool_log holds the password: {v}"
            );
        }
    }
    for table in ["dbtool_migrations", "dbtool_seeds"] {
        for row in db.server.rows(&format!("SELECT * FROM {table}")) {
            for v in row.into_iter().flatten() {
                assert!(!v.contains("Pw_SeCrEt"), "{table} holds the password: {v}");
            }
        }
    }
}

#[test]
fn table_and_database_names_that_need_quoting_work_and_odd_ones_are_refused() {
    // A reserved word, digits only, a `$`: valid names that only work quoted. And a database
    // whose name has a hyphen and a dot.
    let name = format!("dbtool-odd.{}", std::process::id());
    let mut server = Server::connect(None);
    server.exec(&format!("DROP DATABASE IF EXISTS `{name}`"));
    server.exec(&format!("CREATE DATABASE `{name}`"));
    let url = format!("{}/{name}", server_url());
    let p = Project::with_url(&url);
    for f in [
        "db/migrations/20240101000000_create_accounts.up.sql",
        "db/migrations/20240101000000_create_accounts.down.sql",
        "db/seeds/01_accounts.sql",
    ] {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        p.write(f, &std::fs::read_to_string(root.join(f)).unwrap());
    }
    let knexfile = |m: &str, s: &str, l: &str| {
        format!(
            "[development]\nurl = \"{url}\"\nmigrations_table = \"{m}\"\nseeds_table = \"{s}\"\n\
             log_table = \"{l}\"\n"
        )
    };
    p.write("knexfile.toml", &knexfile("select", "2024", "log$1"));
    let outcome = std::panic::catch_unwind(|| {
        p.run(&["migrate:latest"]).ok();
        p.run(&["seed:run"]).ok();
        p.run(&["migrate:status"]).ok().stdout_has("1 applied");
        p.run(&["migrate:rollback"]).ok();
        let mut s = Server::connect(None);
        let mut tables: Vec<String> = s
            .rows(&format!(
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{name}'"
            ))
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect();
        tables.sort();
        // The ledger tables, and migrate:drift's snapshots beside the migrations table.
        assert_eq!(tables, ["2024", "log$1", "select", "select_schema"]);
        // Names that cannot be quoted safely are refused before anything connects.
        for (m, key) in [
            ("my table", "migrations_table"),
            ("a`b", "migrations_table"),
        ] {
            p.write("knexfile.toml", &knexfile(m, "s", "l"));
            p.run(&["migrate:latest"])
                .code(2)
                .stderr_has(&format!("development.{key}"));
        }
    });
    server.exec(&format!("DROP DATABASE IF EXISTS `{name}`"));
    if let Err(e) = outcome {
        std::panic::resume_unwind(e);
    }
}
