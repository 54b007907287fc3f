//! migrate:import of ledgers written by the real Knex 3.3.0 (with mysql2) and dbmate 2.36.0,
//! from the npm registry: scripts/test.sh installs them into target/ci-node (or
//! DBTOOL_TEST_NODE_DIR names a folder whose node_modules/.bin has them). Without them these
//! tests fail; `DBTOOL_TEST_NODE_TOOLS=0` skips them on a developer's machine, never in CI.

use std::path::PathBuf;
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
    // Its rows, and CHECKSUM TABLE for bytes the rows show lossily (a BLOB column).
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
