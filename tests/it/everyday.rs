//! Everyday use as a Knex, dbmate or CI user meets it (issue "Everyday use, tried as a new
//! user would"): one test per numbered item.

use std::time::Duration;

use crate::helpers::*;

fn with_env(p: &Project, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = p.cmd(args);
    for (k, v) in env {
        c.env(k, v);
    }
    Run::from(c.output().unwrap())
}

// 1. An override is announced, protection follows the database reached, writers name it.
#[test]
fn database_url_is_announced_and_protection_follows_the_database_reached() {
    let mut prod = TestDb::new();
    let dev = TestDb::new();
    let p = Project::new(&prod);
    p.write(
        "knexfile.toml",
        &format!(
            "[development]\nurl = \"{}\"\n\n[production]\nurl = \"${{DATABASE_URL}}\"\nprotected = true\n",
            dev.url()
        ),
    );
    p.migration("1_a", "CREATE TABLE a (id INT);\n", Some("DROP TABLE a;\n"));
    let env = [("DATABASE_URL", prod.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = with_env(&p, &["--env", "development", "migrate:latest"], &env).ok();
    assert!(
        r.stderr
            .contains("DATABASE_URL replaces environment `development`'s connection"),
        "{r}"
    );
    assert!(r.stderr.contains("migrate:latest: root@"), "{r}");
    assert!(r.stderr.contains(&prod.name), "{r}");
    assert!(prod.has_table("a"));
    // The database reached is production's: the rollback is protected.
    let r = with_env(&p, &["--env", "development", "migrate:rollback"], &env).code(2);
    assert!(
        r.stderr
            .contains("environment `production`, which is protected"),
        "{r}"
    );
    assert!(prod.has_table("a"));
    with_env(
        &p,
        &["--env", "development", "--yes", "migrate:rollback"],
        &env,
    )
    .ok();
    assert!(!prod.has_table("a"));
}

// 2. CI checks fail over a broken database.
#[test]
fn status_exit_code_and_validate_fail_over_failed_or_modified_migrations() {
    let db = TestDb::new();
    let p = Project::new(&db);
    p.migration("1_a", "CREATE TABLE a (id INT);\n", None);
    p.run(&["migrate:latest"]).ok();
    p.migration("2_b", "CREATE TABLE b (id INT);\n", None);
    p.run(&["migrate:status", "--exit-code"]).code(5);
    p.migration(
        "2_b",
        "CREATE TABLE b (id INT);\nCREATE TABLE a (id INT);\n",
        None,
    );
    p.run(&["migrate:latest"]).code(1);
    p.run(&["migrate:status", "--exit-code"])
        .code(3)
        .stderr_has("2_b (failed)");
    p.run(&["migrate:validate"])
        .code(3)
        .stderr_has("2_b  failed  1 of 2 up statements applied");
    let j = p.run(&["--json", "migrate:validate"]).code(3).json();
    assert_eq!(j["valid"], false);
    p.run(&["migrate:resolve", "2", "--applied"]).ok();
    p.migration("1_a", "CREATE TABLE a (id INT); -- edited\n", None);
    p.run(&["migrate:status", "--exit-code"])
        .code(3)
        .stderr_has("1_a (modified)");
}

// 3. A migration in flight under a held lock is running, not failed.
#[test]
fn a_migration_being_applied_shows_as_running() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration("1_slow", "CREATE TABLE a (id INT);\nDO SLEEP(6);\n", None);
    let child = p.spawn(&["migrate:latest"]);
    let name = db.name.clone();
    // Until the sleep shows 3 s (MySQL rounds TIME up): the migration has then run 2 s at
    // least.
    wait_until("the run to sleep 3 s", Duration::from_secs(20), || {
        db.server.count(&format!(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = '{name}' \
             AND INFO LIKE 'DO SLEEP%' AND TIME >= 3"
        )) > 0
    });
    let r = p.run(&["migrate:status"]).ok();
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("slow"))
        .unwrap()
        .to_owned();
    assert!(
        line.contains("running (1/2 statements) · connection"),
        "{r}"
    );
    assert!(!line.contains("failed"), "{r}");
    // How long it has run, by the ledger's start time and the server's clock (not how long
    // dbtool's lock connection has been idle).
    let secs: u64 = line
        .split(", for ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no running time: {line}"));
    assert!((2..60).contains(&secs), "{line}");
    let j = p.run(&["--json", "migrate:status"]).ok().json();
    assert_eq!(j["migrations"][0]["state"], "running");
    assert_eq!(j["counts"]["running"], 1);
    Run::from(child.wait_with_output().unwrap()).ok();
    p.run(&["migrate:status"]).ok().stdout_has("1 applied");
}

// 4. A syntax error quotes the user's statement only, with the file's line.
#[test]
fn a_syntax_error_quotes_only_the_users_statement_at_the_files_line() {
    let db = TestDb::new();
    let p = Project::new(&db);
    p.migration(
        "1_a",
        "CREATE TABLE a (id INT);\n\nCREATE TABLE b (\n  id INT,\n  x INT NOT NOT NULL\n);\n",
        None,
    );
    let r = p.run(&["migrate:latest"]).code(1);
    assert!(
        r.stderr.contains("1_a.up.sql:3: statement 2 of 2 failed"),
        "{r}"
    );
    assert!(r.stderr.contains("near 'NOT NULL\n)' at line 5"), "{r}");
    assert!(
        !r.stderr.contains("dbtool_migrations") && !r.stderr.contains("START TRANSACTION"),
        "{r}"
    );
    p.run(&["migrate:resolve", "1", "--rolled-back"]).ok();
    p.remove("db/migrations/1_a.up.sql");
    p.migration("1_t", "CREATE TABLE t (id INT);\n", None);
    p.run(&["migrate:latest"]).ok();
    p.seed(
        "01_s.sql",
        "INSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2;\nINSERT INTO t VALUES (3);\n",
    );
    let r = p.run(&["seed:run"]).code(1);
    assert!(r.stderr.contains("01_s.sql:2: statement 2 failed"), "{r}");
    assert!(r.stderr.contains("at line 2"), "{r}");
    assert!(!r.stderr.contains("VALUES (3)"), "{r}");
    assert!(!r.stderr.contains("dbtool_seeds"), "{r}");
}

// 5. An unedited template is refused; a rollback that runs an empty down says so.
#[test]
fn unedited_templates_are_refused_and_empty_downs_warn() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.run(&["migrate:make", "add accounts"]).ok();
    let r = p.run(&["migrate:latest"]).code(2);
    assert!(r.stderr.contains("is still the template"), "{r}");
    assert!(!db.has_table("dbtool_migrations") || db.ledger().is_empty());
    // A deliberately empty file is a quiet no-op.
    for f in std::fs::read_dir(p.path().join("db/migrations")).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    p.migration(
        "1_noop",
        "-- nothing to do here\n",
        Some("-- nothing either\n"),
    );
    p.migration(
        "2_a",
        "CREATE TABLE a (id INT);\n",
        Some("-- forgot to drop it\n"),
    );
    let r = p.run(&["migrate:latest"]).ok();
    assert!(!r.stderr.contains("warning"), "{r}");
    let r = p.run(&["migrate:down"]).ok();
    assert!(
        r.stderr
            .contains("runs a down file with no statement: nothing is undone"),
        "{r}"
    );
    // A down still the template is refused like an up: nothing is undone, nothing recorded.
    db.server.exec("DROP TABLE a"); // the empty down above left it
    p.run(&["migrate:make", "add accounts"]).ok();
    let up = std::fs::read_dir(p.path().join("db/migrations"))
        .unwrap()
        .map(|f| f.unwrap().path())
        .find(|f| f.to_string_lossy().ends_with("_add_accounts.up.sql"))
        .unwrap();
    std::fs::write(&up, "CREATE TABLE accounts (id INT PRIMARY KEY);\n").unwrap();
    p.run(&["migrate:latest"]).ok();
    let r = p.run(&["migrate:rollback"]).code(2);
    assert!(
        r.stderr
            .contains("_add_accounts.down.sql is still the template"),
        "{r}"
    );
    assert!(db.has_table("accounts"));
    p.run(&["migrate:status"]).ok().stdout_has("applied");
}

// 7. One JSON document for every outcome, usage errors included.
#[test]
fn json_gives_one_document_for_every_outcome() {
    let db = TestDb::new();
    let p = Project::new(&db);
    p.migration("1_a", "CREATE TABLE a (id INT);\n", None);
    p.run(&["migrate:latest"]).ok();
    p.migration("1_a", "CREATE TABLE a (id INT); -- edited\n", None);
    for args in [
        vec!["--json", "migrate:validate"],
        vec!["--json", "migrate:latest"],
        vec!["--json", "migrate:rollback", "--all", "--step", "2"],
        vec!["--json", "migrate:sideways"],
        vec!["--json", "migrate:resolve", "1"],
    ] {
        let r = p.run(&args);
        assert!(r.code != 0, "{r}");
        let docs: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&r.stdout)
            .into_iter::<serde_json::Value>()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}):\n{r}"));
        assert_eq!(docs.len(), 1, "{args:?}:\n{r}");
    }
    // A usage error's document says what is wrong, not only its first line.
    let r = p.run(&["--json", "migrate:resolve", "1"]).code(2);
    assert_eq!(
        r.json()["error"]["message"],
        "the following required arguments were not provided: <--applied|--rolled-back>"
    );
}

// 8. A dry run is a script a DBA can read or run; repair has a dry run too.
#[test]
fn a_dry_run_is_a_script_the_client_runs() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration(
        "1_a",
        "CREATE TABLE a (id INT, n INT);\n\nDELIMITER $$\nCREATE TRIGGER a_bi BEFORE INSERT ON a FOR EACH ROW\nBEGIN\n  SET NEW.n = NEW.id * 2;\nEND$$\nDELIMITER ;\nINSERT INTO a (id) VALUES (21);\n",
        None,
    );
    let r = p.run(&["migrate:latest", "--dry-run"]).ok();
    assert!(r.stdout.starts_with("-- Dry run"), "{r}");
    assert!(r.stdout.contains("DELIMITER $$\nCREATE TRIGGER"), "{r}");
    // Run the script with the command-line client in a scratch database.
    let scratch = TestDb::new();
    let url = url::Url::parse(&server_url()).unwrap();
    let mut client = std::process::Command::new("mariadb");
    client
        .args(["--no-defaults", "--protocol=TCP", "-uroot"])
        .arg(format!("-h{}", url.host_str().unwrap()))
        .arg(format!("-P{}", url.port().unwrap_or(3306)))
        .arg(&scratch.name)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = client.spawn().expect("the mariadb client");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(r.stdout.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut s = Server::connect(Some(&scratch.name));
    assert_eq!(s.value("SELECT n FROM a").as_deref(), Some("42"));
    assert!(!db.has_table("a"));
    // repair --dry-run shows and changes nothing.
    p.run(&["migrate:latest"]).ok();
    p.migration("1_a", "CREATE TABLE a (id INT, n INT); -- edited\n", None);
    p.run(&["migrate:repair", "--dry-run"])
        .ok()
        .stdout_has("Dry run: would repair 1 ledger row")
        .stdout_has("1_a  checksum");
    p.run(&["migrate:validate"]).code(3);
}

// 9. Knex habits.
#[test]
fn knex_habits_work() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.write(
        "knexfile.toml",
        &format!(
            "[staging]\nurl = \"{}\"\n[staging.migrations]\ndirectory = \"sql/migrations\"\ntableName = \"knex_style\"\n",
            db.url()
        ),
    );
    p.write(
        "sql/migrations/20260101000000_a.up.sql",
        "CREATE TABLE a (id INT);\n",
    );
    p.write(
        "sql/migrations/20260101000000_a.down.sql",
        "DROP TABLE a;\n",
    );
    p.write(
        "sql/migrations/20260102000000_b.up.sql",
        "CREATE TABLE b (id INT);\n",
    );
    p.write(
        "sql/migrations/20260102000000_b.down.sql",
        "DROP TABLE b;\n",
    );
    // NODE_ENV chooses the environment; the knexfile is found from a sub-folder.
    std::fs::create_dir_all(p.path().join("sub/dir")).unwrap();
    let mut up = p.cmd(&["migrate:up", "20260101000000_a.up.sql"]);
    up.env("NODE_ENV", "staging")
        .current_dir(p.path().join("sub/dir"));
    Run::from(up.output().unwrap())
        .ok()
        .stdout_has("20260101000000_a");
    assert!(db.has_table("knex_style"));
    let mut cv = p.cmd(&["--cwd", "sub", "--env", "staging", "migrate:currentVersion"]);
    cv.current_dir(p.path());
    Run::from(cv.output().unwrap())
        .ok()
        .stdout_has("20260101000000");
    p.run(&["--env", "staging", "migrate:up", "20260102000000_b"])
        .ok();
    p.run(&["--env", "staging", "migrate:down", "20260102000000_b"])
        .ok();
    assert!(!db.has_table("b"));
    // camelCase names, as Knex users write them.
    p.run(&["--env", "staging", "migrate:make", "addIndexToPosts"])
        .ok()
        .stdout_has("_add_index_to_posts.up.sql");
    // A misspelt safety key is an error.
    p.write(
        "knexfile.toml",
        &format!("[staging]\nurl = \"{}\"\nprotect = true\n", db.url()),
    );
    p.run(&["--env", "staging", "migrate:status"])
        .code(2)
        .stderr_has("did you mean `protected`");
    // init --knexfile PATH writes that file.
    let fresh = Project::with_url("mysql://root@127.0.0.1:1/none");
    fresh
        .run(&["init", "--knexfile", "config/db.toml"])
        .ok()
        .stdout_has("config/db.toml");
    assert!(fresh.path().join("config/db.toml").is_file());
    assert!(fresh.path().join("config/db/migrations").is_dir());
    let _ = db.tables();
}

// 10. dbmate and CI habits.
#[test]
fn folders_from_flags_or_the_environment_and_waiting_for_a_server() {
    let db = TestDb::new();
    let p = Project::new(&db);
    p.write("elsewhere/1_a.up.sql", "CREATE TABLE a (id INT);\n");
    p.run(&["--migrations-dir", "elsewhere", "migrate:latest"])
        .ok()
        .stdout_has("1_a");
    p.write("other/2_b.up.sql", "CREATE TABLE b (id INT);\n");
    p.write("other/1_a.up.sql", "CREATE TABLE a (id INT);\n");
    with_env(
        &p,
        &["migrate:latest"],
        &[("DBTOOL_MIGRATIONS_DIR", "other")],
    )
    .ok()
    .stdout_has("2_b");
    // --wait gives up with a message that does not suggest waiting.
    let started = std::time::Instant::now();
    let r = p
        .run(&[
            "--url",
            "mysql://root@127.0.0.1:1/none",
            "--wait",
            "--wait-timeout",
            "1",
            "migrate:status",
        ])
        .code(1);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(r.stderr.contains("did not answer within 1 s"), "{r}");
    assert!(!r.stderr.contains("waits for it"), "{r}");
    let r = p
        .run(&[
            "--url",
            "mysql://root@127.0.0.1:1/none",
            "db:wait",
            "--timeout",
            "1",
        ])
        .code(1);
    assert!(!r.stderr.contains("db:wait"), "{r}");
    // A password that breaks the URL gets the percent-encoding hint, never echoed.
    let r = p
        .run(&["--url", "mysql://app:Zq#x9@127.0.0.1/db", "migrate:status"])
        .code(2);
    assert!(
        r.stderr.contains("percent-encode") && !r.stderr.contains("Zq"),
        "{r}"
    );
}

// 11. Completions, a man page, -vv, did you mean.
#[test]
fn completions_man_page_verbose_and_suggestions() {
    let db = TestDb::new();
    let p = Project::new(&db);
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let r = p.run(&["completions", shell]).ok();
        assert!(r.stdout.contains("migrate:latest"), "{shell}: {r}");
    }
    p.run(&["man"]).ok().stdout_has(".TH dbtool");
    // make man: every page the main page names exists.
    let pages = p.path().join("man");
    p.run(&["man", "--dir", pages.to_str().unwrap()]).ok();
    let main = std::fs::read_to_string(pages.join("dbtool.1")).unwrap();
    for name in ["migrate:latest", "migrate:rollback", "seed:run", "db:wait"] {
        assert!(
            main.contains(&format!("dbtool\\-{name}(1)")),
            "{name} not named"
        );
        assert!(
            pages.join(format!("dbtool-{name}.1")).exists(),
            "no page for {name}"
        );
    }
    p.migration("1_a", "CREATE TABLE a (id INT);\n", None);
    let v = p.run(&["-v", "migrate:latest"]).ok();
    assert!(!v.stderr.contains("dbtool: UPDATE"), "{v}");
    p.migration("2_b", "CREATE TABLE b (id INT);\n", None);
    let vv = p.run(&["-vv", "migrate:latest"]).ok();
    assert!(vv.stderr.contains("dbtool: UPDATE"), "{vv}");
    assert!(vv.stderr.contains("packet of"), "{vv}");
    p.run(&["migrate:lateset"])
        .code(2)
        .stderr_has("did you mean 'migrate:latest'?");
}

// 12. The seed bar fits a 60-column terminal and labels its ETA.
#[test]
fn the_seed_progress_bar_fits_sixty_columns() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    db.server
        .exec("CREATE TABLE big (id INT PRIMARY KEY, pad VARCHAR(100))");
    let (sql, id) = big_insert_seed(90, 12 << 20);
    p.seed("a_seed_with_a_rather_long_name_for_the_bar.sql", &sql);
    drop(sql);
    // A terminal that reports its rows, and one that reports only its columns (`script`
    // without a size; indicatif then assumed 80 columns).
    for rows in [20, 0] {
        db.server.exec("TRUNCATE TABLE big");
        bar_fits(&p, rows);
    }
    assert_eq!(db.server.count("SELECT COUNT(*) FROM big"), id);
}

/// Runs seed:run in a 60-column terminal with `rows` rows: every frame of its bar fits.
fn bar_fits(p: &Project, rows: u32) {
    let typescript = p.path().join("typescript");
    let cmd = format!(
        "stty cols 60 rows {rows}; cd '{}' && env -u CI NO_COLOR=1 '{}' seed:run",
        p.path().display(),
        env!("CARGO_BIN_EXE_dbtool")
    );
    let status = std::process::Command::new("script")
        .args(["-qefc", &cmd])
        .arg(&typescript)
        .env_remove("CI")
        .env_remove("DATABASE_URL")
        .status()
        .unwrap();
    assert!(status.success());
    let out = String::from_utf8_lossy(&std::fs::read(&typescript).unwrap()).into_owned();
    let frames: Vec<&str> = out
        .split(['\r', '\n'])
        .filter(|f| f.contains("ETA"))
        .collect();
    assert!(!frames.is_empty(), "no progress bar was drawn:\n{out}");
    for f in &frames {
        let visible: String = strip_escapes(f);
        assert!(
            visible.chars().count() <= 60,
            "rows {rows}: {} columns: {visible:?}",
            visible.chars().count()
        );
    }
}

/// A terminal line without its escape sequences.
fn strip_escapes(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
