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
        None,
    );
    let mut outputs = Vec::new();
    let runs: Vec<Vec<&str>> = vec![
        vec!["migrate:status"],
        vec!["migrate:status", "--json"],
        vec!["migrate:latest", "--dry-run", "-vv"],
        vec!["migrate:latest", "-vv"],
        vec!["migrate:latest", "--json"],
        vec!["migrate:validate"],
        vec!["migrate:validate", "--json"],
        vec!["migrate:resolve", "20300101000000", "--rolled-back"],
        vec!["migrate:up", "-v"],
        vec!["migrate:resolve", "20300101000000", "--applied"],
        vec!["migrate:repair"],
        vec!["migrate:unlock", "--json"],
        vec!["seed:run", "-vv"],
        vec!["seed:run", "--dry-run", "--json"],
        vec!["seed:status"],
        vec!["seed:status", "--json"],
        vec!["migrate:rollback", "--all", "--dry-run"],
        vec!["migrate:rollback", "--all", "-vv"],
        vec!["db:wait"],
        vec!["db:create", "--json"],
        vec!["--help"],
        vec!["migrate:latest", "--help"],
    ];
    for args in &runs {
        let r = p.run(args);
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
fn configured_table_names_are_quoted_and_used() {
    let mut db = TestDb::new();
    let p = Project::example(&db);
    p.write(
        "knexfile.toml",
        &format!(
            "[development]\nurl = \"{}\"\nmigrations_table = \"my$migrations\"\nseeds_table = \"Seeds_2\"\nlog_table = \"history\"\n",
            db.url()
        ),
    );
    p.run(&["migrate:latest"]).ok();
    p.run(&["seed:run"]).ok();
    let mut tables = db.tables();
    tables.sort();
    assert_eq!(tables, ["Seeds_2", "accounts", "history", "my$migrations"]);
}
