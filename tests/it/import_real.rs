//! migrate:import of ledgers written by the real Knex 3.3.0 (with mysql2) and dbmate 2.36.0,
//! from the npm registry: scripts/test.sh installs them into target/ci-node (or
//! DBTOOL_TEST_NODE_DIR names a folder whose node_modules/.bin has them). Without them these
//! tests fail; `DBTOOL_TEST_NODE_TOOLS=0` skips them on a developer's machine, never in CI.

use std::path::PathBuf;
use std::process::Command;

use crate::helpers::*;

/// node_modules/.bin holding knex and dbmate; None only when skipped outside CI.
fn bin() -> Option<PathBuf> {
    let dir = std::env::var("DBTOOL_TEST_NODE_DIR")
        .ok()
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ci-node"));
    let bin = dir.join("node_modules/.bin");
    if bin.join("knex").exists() && bin.join("dbmate").exists() {
        return Some(bin);
    }
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    if !ci && std::env::var("DBTOOL_TEST_NODE_TOOLS").as_deref() == Ok("0") {
        eprintln!("DBTOOL_TEST_NODE_TOOLS=0: the real Knex and dbmate tests are skipped");
        return None;
    }
    panic!(
        "the real Knex and dbmate import tests need {}/knex and dbmate: `npm install --prefix {} \
         knex@3.3.0 mysql2@3 dbmate@2.36.0` (scripts/test.sh does), or set DBTOOL_TEST_NODE_DIR; \
         never skipped in CI (DBTOOL_TEST_NODE_TOOLS=0 skips them on a developer's machine)",
        bin.display(),
        dir.display()
    );
}

#[track_caller]
fn tool(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the tool starts");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
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
    let before = db.server.rows(&format!("SELECT * FROM {table} ORDER BY 1"));
    let run = p.run(&["migrate:import", "--from", from]).ok();
    assert!(
        run.stdout.contains("Imported 2 migrations"),
        "{from}: {run}"
    );
    p.run(&["migrate:status"])
        .ok()
        .stdout_has("2 applied · 1 pending");
    p.run(&["migrate:latest"])
        .ok()
        .stdout_has("Applied 1 migration (batch 2)");
    assert!(db.has_table("c"));
    let after = db.server.rows(&format!("SELECT * FROM {table} ORDER BY 1"));
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
