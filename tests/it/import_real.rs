//! migrate:import of ledgers written by the real tools: Knex 3.3.0 (with mysql2) and dbmate
//! 2.36.0 from the npm registry, and sqlx-cli 0.9.0 from crates.io. scripts/test.sh installs
//! them when missing: the npm ones into target/ci-node (or DBTOOL_TEST_NODE_DIR names a folder
//! whose node_modules/.bin has them), sqlx-cli with `cargo install --root target/ci-sqlx` (or
//! DBTOOL_TEST_SQLX_DIR names an install root whose bin/ has `sqlx`). Without them these tests
//! fail; `DBTOOL_TEST_NODE_TOOLS=0` and `DBTOOL_TEST_SQLX=0` skip them on a developer's
//! machine, never in CI.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::*;

/// The folder of `tools` (the `dir_var` folder, else `default` in the repository, then `bin`
/// in it); None only when `skip_var=0` skips them outside CI, else a panic saying how to
/// install them.
fn tools_bin(
    dir_var: &str,
    default: &str,
    bin: &str,
    tools: &[&str],
    skip_var: &str,
    install: &str,
) -> Option<PathBuf> {
    let dir = std::env::var(dir_var)
        .ok()
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(default));
    let bin = dir.join(bin);
    if tools.iter().all(|t| bin.join(t).exists()) {
        return Some(bin);
    }
    let names = tools.join(" and ");
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    if !ci && std::env::var(skip_var).as_deref() == Ok("0") {
        eprintln!("{skip_var}=0: the real {names} tests are skipped");
        return None;
    }
    panic!(
        "the real-tool import tests need {names} in {}: `{}` (scripts/test.sh does), or set \
         {dir_var}; never skipped in CI ({skip_var}=0 skips them on a developer's machine)",
        bin.display(),
        install.replace("{dir}", &dir.display().to_string()),
    );
}

/// node_modules/.bin holding knex and dbmate; None only when skipped outside CI.
fn bin() -> Option<PathBuf> {
    tools_bin(
        "DBTOOL_TEST_NODE_DIR",
        "target/ci-node",
        "node_modules/.bin",
        &["knex", "dbmate"],
        "DBTOOL_TEST_NODE_TOOLS",
        "npm install --prefix {dir} knex@3.3.0 mysql2@3 dbmate@2.36.0",
    )
}

/// The real `sqlx` (sqlx-cli's binary); None only when skipped outside CI.
fn sqlx() -> Option<PathBuf> {
    tools_bin(
        "DBTOOL_TEST_SQLX_DIR",
        "target/ci-sqlx",
        "bin",
        &["sqlx"],
        "DBTOOL_TEST_SQLX",
        "cargo install --locked sqlx-cli@0.9.0 --no-default-features --features mysql,rustls \
         --root {dir}",
    )
    .map(|bin| bin.join("sqlx"))
}

/// Runs the tool; its output (stdout then stderr), or a panic with it if it failed.
#[track_caller]
fn tool(cmd: &mut Command) -> String {
    let (ok, text) = tool_run(cmd);
    assert!(ok, "{cmd:?} failed:\n{text}");
    text
}

/// Runs the tool, which must fail; its output.
#[track_caller]
fn tool_fails(cmd: &mut Command) -> String {
    let (ok, text) = tool_run(cmd);
    assert!(!ok, "{cmd:?} succeeded, but should have failed:\n{text}");
    text
}

#[track_caller]
fn tool_run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("the tool starts");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// dbtool's three migrations (a, b, c).
fn dbtool_files(p: &Project) {
    for (v, t) in [
        ("20240101000000", "a"),
        ("20240102000000", "b"),
        ("20240103000000", "c"),
    ] {
        p.migration(
            &format!("{v}_{t}"),
            &format!("CREATE TABLE {t} (id INT PRIMARY KEY);\n"),
            Some(&format!("DROP TABLE {t};\n")),
        );
    }
}

/// After the other tool applied a and b: the import records exactly those, latest applies c.
fn import_then_latest(db: &mut TestDb, p: &Project, from: &str, table: &str) {
    // Its rows, and CHECKSUM TABLE for bytes the rows show lossily (sqlx's BLOB checksums).
    let contents = |db: &mut TestDb| {
        let mut rows = db.server.rows(&format!("SELECT * FROM {table} ORDER BY 1"));
        rows.extend(db.server.rows(&format!("CHECKSUM TABLE {table}")));
        rows
    };
    let before = contents(db);
    let run = p.run(&["migrate:import", "--from", from]).ok();
    assert!(
        run.stdout.contains("Imported 2 migrations"),
        "{from}: {run}"
    );
    assert_eq!(
        db.ledger(),
        [
            ("20240101000000".into(), "applied".into(), 1, 1),
            ("20240102000000".into(), "applied".into(), 1, 1),
        ],
        "{from}"
    );
    let status = p
        .run(&["migrate:status"])
        .ok()
        .stdout_has("2 applied · 1 pending");
    for (v, state) in [
        ("20240101000000", "applied"),
        ("20240102000000", "applied"),
        ("20240103000000", "pending"),
    ] {
        assert!(
            status
                .stdout
                .lines()
                .any(|l| l.trim_start().starts_with(v) && l.trim_end().ends_with(state)),
            "{from}: {v} is not {state}:\n{status}"
        );
    }
    p.run(&["migrate:latest"])
        .ok()
        .stdout_has("Applied 1 migration (batch 2)");
    assert!(db.has_table("c"));
    let after = contents(db);
    assert_eq!(before, after, "{from}'s table was changed");
}

#[test]
fn a_ledger_written_by_the_real_knex_is_imported_and_only_the_rest_is_applied() {
    let Some(bin) = bin() else { return };
    let mut db = TestDb::new();
    let p = Project::new(&db);
    dbtool_files(&p);
    for (v, t) in [("20240101000000", "a"), ("20240102000000", "b")] {
        p.write(
            &format!("knex/migrations/{v}_{t}.js"),
            &format!(
                "exports.up = (knex) => knex.raw('CREATE TABLE {t} (id INT PRIMARY KEY)');\n\
                 exports.down = (knex) => knex.raw('DROP TABLE {t}');\n"
            ),
        );
    }
    p.write(
        "knex/knexfile.js",
        &format!(
            "module.exports = {{ client: 'mysql2', connection: '{}', migrations: {{ directory: \
             './migrations' }} }};\n",
            db.url()
        ),
    );
    // The knex CLI runs the knex its knexfile's folder resolves.
    std::os::unix::fs::symlink(bin.parent().unwrap(), p.path().join("knex/node_modules")).unwrap();
    let knexfile = p.path().join("knex/knexfile.js");
    tool(
        Command::new(bin.join("knex"))
            .args(["migrate:latest", "--knexfile"])
            .arg(&knexfile),
    );
    import_then_latest(&mut db, &p, "knex", "knex_migrations");
}

#[test]
fn a_ledger_written_by_the_real_dbmate_is_imported_and_only_the_rest_is_applied() {
    let Some(bin) = bin() else { return };
    let mut db = TestDb::new();
    let p = Project::new(&db);
    dbtool_files(&p);
    for (v, t) in [("20240101000000", "a"), ("20240102000000", "b")] {
        p.write(
            &format!("dbmate/{v}_{t}.sql"),
            &format!(
                "-- migrate:up\nCREATE TABLE {t} (id INT PRIMARY KEY);\n\n\
                 -- migrate:down\nDROP TABLE {t};\n"
            ),
        );
    }
    tool(
        Command::new(bin.join("dbmate"))
            .args(["--url", &db.url(), "--migrations-dir"])
            .arg(p.path().join("dbmate"))
            .args(["--no-dump-schema", "up"]),
    );
    import_then_latest(&mut db, &p, "dbmate", "schema_migrations");
}

/// `sqlx migrate run` (and other subcommands) against the test database, from `source`.
fn sqlx_migrate(sqlx: &Path, db: &TestDb, args: &[&str], source: &Path) -> Command {
    let mut c = Command::new(sqlx);
    c.arg("migrate")
        .args(args)
        .args(["--database-url", &db.url(), "--source"])
        .arg(source)
        // In the test's folder (sqlx reads a `.env` there or above), without DATABASE_URL.
        .current_dir(source)
        .env_remove("DATABASE_URL");
    c
}

#[test]
fn a_ledger_written_by_the_real_sqlx_cli_is_imported_and_only_the_rest_is_applied() {
    let Some(sqlx) = sqlx() else { return };
    let mut db = TestDb::new();
    let p = Project::new(&db);
    dbtool_files(&p);
    // sqlx's reversible layout (`<VERSION>_<description>.up.sql` / `.down.sql`) is dbtool's:
    // sqlx runs dbtool's own folder, here up to b only.
    let migrations = p.path().join("db/migrations");
    let out = tool(&mut sqlx_migrate(
        &sqlx,
        &db,
        &["run", "--target-version", "20240102000000"],
        &migrations,
    ));
    assert!(
        out.contains("Applied 20240102000000/migrate b") && !out.contains("Applied 20240103000000"),
        "{out}"
    );
    assert_eq!(
        db.server.rows(
            "SELECT version, description, CAST(success AS SIGNED), LENGTH(checksum) \
             FROM _sqlx_migrations ORDER BY version"
        ),
        [
            ["20240101000000", "a", "1", "48"].map(|s| Some(s.to_owned())),
            ["20240102000000", "b", "1", "48"].map(|s| Some(s.to_owned())),
        ],
        "sqlx-cli's ledger: one row per applied migration, a SHA-384 checksum"
    );
    import_then_latest(&mut db, &p, "sqlx", "_sqlx_migrations");
    // sqlx still reads its table: c is pending there (dbtool ran it, sqlx did not).
    let info = tool(&mut sqlx_migrate(&sqlx, &db, &["info"], &migrations));
    assert!(
        info.contains("20240102000000/installed b") && info.contains("20240103000000/pending c"),
        "{info}"
    );
}

#[test]
fn a_ledger_the_real_sqlx_cli_left_failed_is_refused_with_every_problem_and_nothing_written() {
    let Some(sqlx) = sqlx() else { return };
    let mut db = TestDb::new();
    let p = Project::new(&db);
    // sqlx's simple layout (`<VERSION>_<description>.sql`), in a folder of its own; c fails
    // after its CREATE TABLE, whose implicit commit keeps the `success = FALSE` row sqlx
    // inserts before running a migration on MySQL.
    for (v, t, more) in [
        ("20240101000000", "a", ""),
        ("20240102000000", "b", ""),
        (
            "20240103000000",
            "c",
            "INSERT INTO no_such_table VALUES (1);\n",
        ),
    ] {
        p.write(
            &format!("sqlx/{v}_{t}.sql"),
            &format!("CREATE TABLE {t} (id INT PRIMARY KEY);\n{more}"),
        );
    }
    let out = tool_fails(&mut sqlx_migrate(
        &sqlx,
        &db,
        &["run"],
        &p.path().join("sqlx"),
    ));
    assert!(
        out.contains("while executing migration 20240103000000"),
        "{out}"
    );
    assert_eq!(
        db.server.rows(
            "SELECT version, CAST(success AS SIGNED), execution_time FROM _sqlx_migrations \
             WHERE version = 20240103000000"
        ),
        [["20240103000000", "0", "-1"].map(|s| Some(s.to_owned()))],
        "sqlx-cli records the failed migration with success = 0"
    );
    // dbtool's files: b's was removed.
    dbtool_files(&p);
    p.remove("db/migrations/20240102000000_b.up.sql");
    p.remove("db/migrations/20240102000000_b.down.sql");
    let contents = "SELECT *, HEX(checksum) FROM _sqlx_migrations ORDER BY 1";
    let before = db.server.rows(contents);
    let r = p.run(&["migrate:import", "--from", "sqlx"]).code(3);
    for expected in [
        "b: no migration file has version 20240102000000",
        "c: sqlx records it as failed (or dirty); settle it there or by hand first",
        "nothing was recorded, and sqlx's table was not changed",
    ] {
        assert!(r.stderr.contains(expected), "{expected:?}:\n{r}");
    }
    assert!(!db.has_table("dbtool_migrations"));
    assert_eq!(db.server.rows(contents), before, "sqlx's table was changed");
}
