//! The bad-input matrix (docs/RELIABILITY.md): every case states its exit code, what the
//! message must name (file and line, or config key), and checks the database was not touched.

use crate::helpers::*;

/// A project on a fresh database with `files` written; runs `args`; asserts the exit code and
/// every expected text on stderr; asserts the database is still empty.
#[track_caller]
fn case(files: &[(&str, &str)], args: &[&str], code: i32, expect: &[&str]) -> Run {
    let owned: Vec<(String, String)> = files
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect();
    case_on(|_| owned.clone(), args, code, expect)
}

/// As [`case`], with files written from the URL of the case's own database, so the command
/// really targets the database whose untouchedness is checked.
#[track_caller]
fn case_on(
    files: impl Fn(&str) -> Vec<(String, String)>,
    args: &[&str],
    code: i32,
    expect: &[&str],
) -> Run {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    for (path, text) in files(&db.url()) {
        p.write(&path, &text);
    }
    let mut run = p.run(args).code(code);
    for e in expect {
        run = run.stderr_has(e);
    }
    assert_eq!(
        db.tables(),
        Vec::<String>::new(),
        "the database was touched:\n{run}"
    );
    run
}

/// The knexfile of a case: its database's URL, and `extra` keys.
fn knexfile_on(extra: &str) -> impl Fn(&str) -> Vec<(String, String)> + '_ {
    move |url| vec![("knexfile.toml".to_owned(), knexfile(url, extra))]
}

fn knexfile(db_url: &str, extra: &str) -> String {
    format!("[development]\nurl = \"{db_url}\"\n{extra}")
}

const OK_UP: &str = "CREATE TABLE ok (id INT);\n";

// ---- file names and folders (exit 2) ----

#[test]
fn misnamed_sql_file() {
    case(
        &[("db/migrations/create_users.sql", OK_UP)],
        &["migrate:latest"],
        2,
        &["db/migrations/create_users.sql: misnamed migration file"],
    );
}

#[test]
fn migration_without_a_name() {
    case(
        &[("db/migrations/001.up.sql", OK_UP)],
        &["migrate:latest"],
        2,
        &["001.up.sql", "empty"],
    );
}

#[test]
fn version_of_33_digits() {
    let name = format!("db/migrations/{}_x.up.sql", "1".repeat(33));
    case(
        &[(&name, OK_UP)],
        &["migrate:latest"],
        2,
        &["1 to 32 digits"],
    );
}

#[test]
fn version_with_letters() {
    case(
        &[("db/migrations/v1_x.up.sql", OK_UP)],
        &["migrate:latest"],
        2,
        &["v1_x.up.sql"],
    );
}

#[test]
fn uppercase_extension() {
    case(
        &[("db/migrations/1_x.UP.SQL", OK_UP)],
        &["migrate:status"],
        2,
        &["1_x.UP.SQL", "misnamed"],
    );
}

#[test]
fn duplicate_versions() {
    case(
        &[
            ("db/migrations/001_a.up.sql", OK_UP),
            ("db/migrations/1_b.up.sql", OK_UP),
        ],
        &["migrate:latest"],
        2,
        &["version 1 is also used by db/migrations/001_a.up.sql"],
    );
}

#[test]
fn orphan_down_file() {
    case(
        &[("db/migrations/2_gone.down.sql", "DROP TABLE x;")],
        &["migrate:latest"],
        2,
        &["2_gone.down.sql: down file without its up file"],
    );
}

#[test]
fn down_file_with_another_name() {
    case(
        &[
            ("db/migrations/1_a.up.sql", OK_UP),
            ("db/migrations/1_b.down.sql", ""),
        ],
        &["migrate:latest"],
        2,
        &["1_b.down.sql: down file without its up file (expected db/migrations/1_b.up.sql)"],
    );
}

#[test]
fn every_problem_at_once() {
    let r = case(
        &[
            ("db/migrations/x.sql", ""),
            ("db/migrations/2_o.down.sql", ""),
            ("db/migrations/1_a.up.sql", OK_UP),
            ("db/migrations/01_b.up.sql", OK_UP),
        ],
        &["migrate:latest"],
        2,
        &["3 problems"],
    );
    assert_eq!(r.stderr.lines().count(), 4, "{r}");
}

#[test]
fn non_utf8_up_file() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.write_bytes(
        "db/migrations/1_a.up.sql",
        b"CREATE TABLE a (n VARCHAR(9) DEFAULT '\xe9');\n",
    );
    p.run(&["migrate:latest"])
        .code(2)
        .stderr_has("1_a.up.sql: not valid UTF-8 (first bad byte at offset 38)");
    assert!(db.tables().is_empty());
}

#[test]
fn non_utf8_down_file() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.write("db/migrations/1_a.up.sql", OK_UP);
    p.write_bytes("db/migrations/1_a.down.sql", b"DROP TABLE ok; -- \xff\n");
    p.run(&["migrate:latest"])
        .code(2)
        .stderr_has("1_a.down.sql: not valid UTF-8 (first bad byte at offset 18)");
    assert!(db.tables().is_empty());
    p.run(&["migrate:validate"])
        .code(2)
        .stderr_has("1_a.down.sql");
}

#[test]
fn missing_migrations_folder() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    std::fs::remove_dir(p.path().join("db/migrations")).unwrap();
    p.run(&["migrate:latest"])
        .code(2)
        .stderr_has("db/migrations: folder does not exist")
        .stderr_has("dbtool init");
    assert!(db.tables().is_empty());
}

#[test]
fn migrations_path_is_a_file() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.write(
        "knexfile.toml",
        &knexfile(&db.url(), "migrations_dir = \"notes.txt\"\n"),
    );
    p.write("notes.txt", "");
    p.run(&["migrate:status"])
        .code(2)
        .stderr_has("notes.txt: is not a folder");
    assert!(db.tables().is_empty());
}

#[cfg(unix)]
#[test]
fn symlink_loop_in_migrations() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.write("db/migrations/1_a.up.sql", OK_UP);
    std::os::unix::fs::symlink(p.path().join("db"), p.path().join("db/migrations/loop")).unwrap();
    p.run(&["migrate:latest"])
        .code(2)
        .stderr_has("symlink loop");
    assert!(db.tables().is_empty());
}

// ---- file contents ----

#[test]
fn unterminated_single_quote() {
    case(
        &[(
            "db/migrations/1_a.up.sql",
            "CREATE TABLE a (id INT);\nINSERT INTO a VALUES ('x);\nSELECT 1;\n",
        )],
        &["migrate:latest"],
        2,
        &["db/migrations/1_a.up.sql:2: unterminated string `'`"],
    );
}

#[test]
fn unterminated_double_quote() {
    case(
        &[("db/migrations/1_a.up.sql", "SELECT 1;\n\n\nSELECT \"x;\n")],
        &["migrate:latest"],
        2,
        &["1_a.up.sql:4: unterminated string `\"`"],
    );
}

#[test]
fn unterminated_backtick() {
    case(
        &[("db/migrations/1_a.up.sql", "CREATE TABLE `a (id INT);\n")],
        &["migrate:latest"],
        2,
        &["1_a.up.sql:1: unterminated identifier quote"],
    );
}

#[test]
fn unterminated_block_comment() {
    case(
        &[(
            "db/migrations/1_a.up.sql",
            "SELECT 1;\n/* a comment\nthat never ends;\n",
        )],
        &["migrate:latest"],
        2,
        &["1_a.up.sql:2: unterminated comment `/*`"],
    );
}

#[test]
fn unterminated_quote_in_a_later_migration_stops_the_whole_plan() {
    case(
        &[
            ("db/migrations/1_a.up.sql", OK_UP),
            ("db/migrations/2_b.up.sql", "INSERT INTO ok VALUES ('x);\n"),
        ],
        &["migrate:latest"],
        2,
        &["2_b.up.sql:1: unterminated string"],
    );
}

#[test]
fn delimiter_without_argument() {
    case(
        &[(
            "db/migrations/1_a.up.sql",
            "SELECT 1;\nDELIMITER\nSELECT 2;\n",
        )],
        &["migrate:latest"],
        2,
        &["1_a.up.sql:2: DELIMITER must be followed by a delimiter"],
    );
}

#[test]
fn delimiter_left_changed_at_end_of_file_warns() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.write(
        "db/migrations/1_a.up.sql",
        "CREATE TABLE t (a INT);\nDELIMITER $$\nCREATE PROCEDURE p() BEGIN SELECT 1; END$$\n",
    );
    p.run(&["migrate:latest"])
        .ok()
        .stderr_has("1_a.up.sql:2: `DELIMITER $$` is still in force at the end of the file");
    assert!(db.has_table("t"));
}

#[test]
fn bom_crlf_empty_and_comment_only_files_are_valid() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.write_bytes(
        "db/migrations/1_bom.up.sql",
        b"\xEF\xBB\xBFCREATE TABLE bom (id INT);\n",
    );
    p.write(
        "db/migrations/2_crlf.up.sql",
        "CREATE TABLE crlf (\r\n  id INT\r\n);\r\n",
    );
    p.write("db/migrations/3_empty.up.sql", "");
    p.write(
        "db/migrations/4_comments.up.sql",
        "-- nothing to do yet\n/* really */\n# nothing\n",
    );
    p.run(&["migrate:latest"])
        .ok()
        .stdout_has("Applied 4 migrations");
    assert!(db.has_table("bom") && db.has_table("crlf"));
    let rows = db.ledger();
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r.1 == "applied"));
    assert_eq!(rows[2].2, 0, "an empty file has no statements");
}

#[test]
fn statement_over_max_allowed_packet() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    let max: usize = db
        .server
        .value("SELECT @@max_allowed_packet")
        .unwrap()
        .parse()
        .unwrap();
    db.server.exec("CREATE TABLE big (b LONGTEXT)");
    let huge = "x".repeat(max + 1024);
    p.seed("01_small.sql", "INSERT INTO big VALUES ('small');\n");
    p.seed(
        "02_big.sql",
        &format!("INSERT INTO big VALUES ('before');\n\nINSERT INTO big VALUES ('{huge}');\n"),
    );
    let size = huge.len() + "INSERT INTO big VALUES ('')".len();
    p.run(&["seed:run"])
        .code(1)
        .stderr_has(&format!("db/seeds/02_big.sql:3: statement 2 is {size} bytes, more than the server's max_allowed_packet ({max} bytes)"))
        .stderr_has("SET GLOBAL max_allowed_packet");
    let rows: Vec<String> = db
        .server
        .rows("SELECT b FROM big")
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    assert_eq!(rows, ["small"], "nothing else of that seed was applied");
}

#[test]
fn a_20_mb_statement_within_the_limit_runs() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    let max: usize = db
        .server
        .value("SELECT @@max_allowed_packet")
        .unwrap()
        .parse()
        .unwrap();
    db.server.exec("CREATE TABLE big (b LONGTEXT)");
    let n = (20 << 20).min(max - 4096);
    p.seed(
        "big.sql",
        &format!("INSERT INTO big VALUES ('{}');\n", "y".repeat(n)),
    );
    p.run(&["seed:run"]).ok();
    assert_eq!(
        db.server.value("SELECT LENGTH(b) FROM big"),
        Some(n.to_string())
    );
}

// ---- configuration (exit 2) ----

#[test]
fn knexfile_syntax_error() {
    case_on(
        knexfile_on("lock_timeout = = 3\n"),
        &["migrate:status"],
        2,
        &["knexfile.toml:3:"],
    );
}

#[test]
fn knexfile_wrong_type() {
    case_on(
        knexfile_on("lock_timeout = \"soon\"\n"),
        &["migrate:latest"],
        2,
        &["knexfile.toml:3: development.lock_timeout: expected a number of seconds"],
    );
}

#[test]
fn unknown_key_warns_with_the_nearest() {
    let db = TestDb::new();
    let p = Project::new(&db);
    p.write(
        "knexfile.toml",
        &knexfile(&db.url(), "migration_dir = \"db/migrations\"\n"),
    );
    p.run(&["migrate:status"])
        .ok()
        .stderr_has("knexfile.toml:3: unknown key `development.migration_dir` is ignored; did you mean `migrations_dir`?");
}

#[test]
fn unknown_environment_lists_the_valid_ones() {
    case_on(
        |u| {
            vec![(
                "knexfile.toml".to_owned(),
                format!("[development]\nurl = \"{u}\"\n[staging]\nurl = \"{u}\"\n"),
            )]
        },
        &["migrate:status", "--env", "prod"],
        2,
        &["no environment `prod`; environments here: development, staging"],
    );
}

#[test]
fn unset_variable() {
    case(
        &[(
            "knexfile.toml",
            "[development]\nurl = \"mysql://root@${DBTOOL_NOT_SET_HOST}/x\"\n",
        )],
        &["migrate:status"],
        2,
        &["knexfile.toml:2: development.url: environment variable DBTOOL_NOT_SET_HOST is not set"],
    );
}

#[test]
fn bad_url_scheme() {
    case(
        &[(
            "knexfile.toml",
            "[development]\nurl = \"postgres://u:hunter2@127.0.0.1/x\"\n",
        )],
        &["migrate:status"],
        2,
        &["development.url: invalid database URL: unsupported scheme `postgres://`"],
    );
}

#[test]
fn url_and_connection_table_both() {
    case_on(
        knexfile_on("[development.connection]\nhost = \"h\"\n"),
        &["migrate:status"],
        2,
        &["development.connection: give either `url` or a [connection] table"],
    );
}

#[test]
fn bad_ssl_mode() {
    case_on(
        knexfile_on("ssl_mode = \"sometimes\"\n"),
        &["migrate:status"],
        2,
        &["development.ssl_mode: expected one of disabled, preferred, required"],
    );
}

#[test]
fn odd_table_names_are_refused() {
    let long = "t".repeat(65);
    for name in ["my`table", "my'table", "my table", "a\"b", long.as_str()] {
        let toml = if name.contains('\'') {
            format!("migrations_table = \"{name}\"\n")
        } else {
            format!("migrations_table = '{name}'\n")
        };
        case_on(
            knexfile_on(&toml),
            &["migrate:status"],
            2,
            &["development.migrations_table"],
        );
    }
}

#[test]
fn url_without_a_database() {
    case(
        &[(
            "knexfile.toml",
            "[development]\nurl = \"mysql://root@127.0.0.1:3306\"\n",
        )],
        &["migrate:status"],
        2,
        &["names no database"],
    );
}

#[test]
fn no_connection_at_all() {
    case(
        &[("knexfile.toml", "[development]\n")],
        &["migrate:status"],
        2,
        &["no database configured"],
    );
}

// ---- connection (exit 1) ----

#[test]
fn wrong_password() {
    let r = case_on(
        |url| {
            let url = url.replacen("://root@", "://root:not-the-password@", 1);
            vec![("knexfile.toml".to_owned(), knexfile(&url, ""))]
        },
        &["migrate:status"],
        1,
        &["Access denied", ":***@"],
    );
    assert!(!r.stderr.contains("not-the-password"), "{r}");
}

#[test]
fn unreachable_host_fails_fast() {
    let started = std::time::Instant::now();
    case(
        &[(
            "knexfile.toml",
            "[development]\nurl = \"mysql://root@10.255.255.1:3306/x?connect_timeout=1\"\n",
        )],
        &["migrate:status"],
        1,
        &["no answer within 1 s (connect_timeout)"],
    );
    assert!(started.elapsed().as_secs() < 10);
}

#[test]
fn connection_refused() {
    case(
        &[(
            "knexfile.toml",
            "[development]\nurl = \"mysql://root@127.0.0.1:1/x\"\n",
        )],
        &["migrate:status"],
        1,
        &["cannot connect to mysql://root@127.0.0.1:1/x", "refused"],
    );
}

#[test]
fn database_missing() {
    let url = format!("{}/dbtool_no_such_database_here", server_url());
    case(
        &[("knexfile.toml", &knexfile(&url, ""))],
        &["migrate:status"],
        1,
        &["does not exist", "dbtool db:create"],
    );
}

// ---- usage (exit 2) ----

#[test]
fn bad_version_argument() {
    case(&[], &["migrate:up", "12a"], 2, &["`12a` is not a version"]);
}

#[test]
fn rollback_step_zero() {
    case(
        &[],
        &["migrate:rollback", "--step", "0"],
        2,
        &["--step must be 1 or more"],
    );
}

#[test]
fn unknown_seed_name() {
    case(
        &[("db/seeds/01_a.sql", "SELECT 1;")],
        &["seed:run", "--specific", "zz"],
        2,
        &["no seed `zz`", "available seeds: 01_a.sql"],
    );
}

#[test]
fn unknown_run_mode() {
    case(
        &[(
            "db/seeds/01_a.sql",
            "-- header\n-- dbtool:run sometimes\nSELECT 1;",
        )],
        &["seed:run"],
        2,
        &["db/seeds/01_a.sql:2: unknown run mode `sometimes`"],
    );
}

#[test]
fn non_utf8_seed() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.write_bytes("db/seeds/01_a.sql", b"SELECT 1;\nSELECT '\xc3';\n");
    // --changed hashes (and so checks) every seed before the run
    p.run(&["seed:run", "--changed"])
        .code(2)
        .stderr_has("db/seeds/01_a.sql: byte 18: invalid UTF-8");
    assert!(db.tables().is_empty());
    // a plain run finds it while streaming: the seed's transaction is rolled back, so the
    // seeds ledger (created for the run) has no row for it
    p.run(&["seed:run"]).code(2).stderr_has("invalid UTF-8");
    assert_eq!(db.tables(), ["dbtool_log", "dbtool_seeds"]);
    assert_eq!(db.server.count("SELECT COUNT(*) FROM dbtool_seeds"), 0);
    assert_eq!(db.server.count("SELECT COUNT(*) FROM dbtool_log"), 0);
}

#[test]
fn unknown_command() {
    case(&[], &["migrate:sideways"], 2, &["unrecognized subcommand"]);
}

// ---- hand-edited ledger (exit 3, never a panic) ----

fn edited_ledger(edit: &str, expect: &str) {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.write("db/migrations/1_a.up.sql", OK_UP);
    p.run(&["migrate:latest"]).ok();
    db.server.exec(edit);
    for cmd in ["migrate:status", "migrate:latest", "migrate:validate"] {
        p.run(&[cmd])
            .code(3)
            .stderr_has("bad row")
            .stderr_has(expect);
    }
}

#[test]
fn ledger_bad_checksum_text() {
    edited_ledger(
        "UPDATE dbtool_migrations SET checksum = 'abc'",
        "column `checksum`",
    );
}

#[test]
fn ledger_unknown_state() {
    edited_ledger(
        "UPDATE dbtool_migrations SET state = 'done'",
        "column `state` is \"done\"",
    );
}

#[test]
fn ledger_negative_batch() {
    edited_ledger(
        "ALTER TABLE dbtool_migrations MODIFY batch INT NOT NULL; UPDATE dbtool_migrations SET batch = -1",
        "column `batch` is \"-1\"",
    );
}

#[test]
fn ledger_done_beyond_total() {
    edited_ledger(
        "UPDATE dbtool_migrations SET statements_done = 9",
        "more than statements_total",
    );
}

#[test]
fn ledger_bad_version() {
    edited_ledger(
        "UPDATE dbtool_migrations SET version = 'v1'",
        "column `version`",
    );
}
