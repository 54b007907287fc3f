//! migrate:import --from alembic against a ledger the real Alembic wrote: an Alembic project
//! made by `alembic init`, three revisions made by `alembic revision` (their bodies filled in),
//! `alembic upgrade` to the second against the test database (through PyMySQL), then
//! `--write-mapping`, the import, `migrate:status` (exactly two applied) and `migrate:latest`
//! (only the third). A mapping that disagrees with the ledger, the files or Alembic's history
//! (a hand-written one for a branched and merged history, on a database that has only one
//! branch) is refused with every problem listed and nothing written. One test needs no Python:
//! `alembic_version` by its documented layout, in a project without Alembic's scripts.
//!
//! Alembic and PyMySQL come from PyPI: `.ci/run` installs them into a virtualenv and points
//! `DBTOOL_TEST_PYTHON` at it (else `python3` is used). Without them the tests fail, with how
//! to install them; `DBTOOL_TEST_ALEMBIC=0` skips them on a developer's machine, never in CI
//! (as `DBTOOL_TEST_MYSQL=0` does the MySQL suite in scripts/test.sh).

use std::process::Command;

use crate::helpers::*;

/// The Python that has Alembic and PyMySQL; None only when skipped by DBTOOL_TEST_ALEMBIC=0
/// outside CI.
fn python() -> Option<String> {
    let python = std::env::var("DBTOOL_TEST_PYTHON")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            // Where scripts/test.sh installs them, else the machine's python3.
            let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target/ci-python/bin/python");
            match venv.exists() {
                true => venv.display().to_string(),
                false => "python3".to_owned(),
            }
        });
    let has = Command::new(&python)
        .args(["-c", "import alembic, pymysql"])
        .output()
        .is_ok_and(|o| o.status.success());
    if has {
        return Some(python);
    }
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    if !ci && std::env::var("DBTOOL_TEST_ALEMBIC").as_deref() == Ok("0") {
        eprintln!("DBTOOL_TEST_ALEMBIC=0: the Alembic import test is skipped (CI never skips it)");
        return None;
    }
    panic!(
        "the Alembic import tests need Alembic and PyMySQL in `{python}`, which cannot import \
         them: `{python} -m pip install alembic pymysql`, or set DBTOOL_TEST_PYTHON to a Python \
         that has them (.ci/run sets one up); they are never skipped in CI \
         (DBTOOL_TEST_ALEMBIC=0 skips them on a developer's machine)"
    );
}

/// Runs `python -m alembic ARGS` in the project; its output, or a panic with it.
#[track_caller]
fn alembic(python: &str, p: &Project, args: &[&str]) -> String {
    let out = Command::new(python)
        .args(["-m", "alembic"])
        .args(args)
        .current_dir(p.path())
        .output()
        .unwrap_or_else(|e| panic!("{python} -m alembic {args:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "alembic {args:?} failed:\n{text}");
    text
}

/// `alembic revision -m MESSAGE`, with `up` and `down` (Python statements) as the bodies of
/// its upgrade() and downgrade(); the revision id Alembic chose.
fn revision(python: &str, p: &Project, message: &str, up: &str, down: &str) -> String {
    script(python, p, &["revision", "-m", message], (up, down))
}

/// Runs `alembic ARGS` (revision, merge), which writes a script, and fills in its bodies; the
/// new revision's id.
fn script(python: &str, p: &Project, args: &[&str], (up, down): (&str, &str)) -> String {
    let out = alembic(python, p, args);
    let path = out
        .split_whitespace()
        .find(|w| w.ends_with(".py"))
        .unwrap_or_else(|| panic!("no script named in:\n{out}"));
    let text = std::fs::read_to_string(path).unwrap();
    let id = text
        .lines()
        .find_map(|l| l.strip_prefix("Revision ID: "))
        .unwrap_or_else(|| panic!("{path} has no Revision ID line:\n{text}"))
        .trim()
        .to_owned();
    // The first `pass` after each def is the template's empty body.
    let mut filled = String::new();
    let mut pending: Option<&str> = None;
    for line in text.lines() {
        if line.starts_with("def upgrade(") {
            pending = Some(up);
        } else if line.starts_with("def downgrade(") {
            pending = Some(down);
        }
        match pending {
            Some(body) if line.trim() == "pass" => {
                filled.push_str(&format!("    {body}\n"));
                pending = None;
            }
            _ => filled.push_str(&format!("{line}\n")),
        }
    }
    std::fs::write(path, filled).unwrap();
    id
}

/// Points the Alembic project's alembic.ini at `db` (through PyMySQL, on the test server).
fn point_alembic_at(p: &Project, db: &TestDb) {
    let url = server_url().replacen("mysql://", "mysql+pymysql://", 1);
    // alembic.ini is read by configparser: a `%` (URL-escaped password) is written `%%`.
    let url = format!("{url}/{}", db.name).replace('%', "%%");
    let ini = std::fs::read_to_string(p.path().join("alembic.ini")).unwrap();
    let ini: String = ini
        .lines()
        .map(|l| {
            if l.starts_with("sqlalchemy.url") {
                format!("sqlalchemy.url = {url}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    p.write("alembic.ini", &ini);
}

/// An Alembic project in the dbtool project's folder, its three revisions (accounts by
/// op.create_table, orders and invoices by op.execute), upgraded to the second; dbtool's three
/// migrations of the same changes. The revision ids, base first.
fn alembic_project(python: &str, db: &TestDb) -> (Project, [String; 3]) {
    let p = Project::new(db);
    alembic(python, &p, &["init", "alembic"]);
    point_alembic_at(&p, db);
    let a = revision(
        python,
        &p,
        "create accounts",
        "op.create_table('accounts', sa.Column('id', sa.Integer, primary_key=True), \
         sa.Column('name', sa.String(50), nullable=False))",
        "op.drop_table('accounts')",
    );
    let b = revision(
        python,
        &p,
        "create orders",
        "op.execute('CREATE TABLE orders (id INT PRIMARY KEY, account_id INT NOT NULL)')",
        "op.execute('DROP TABLE orders')",
    );
    let c = revision(
        python,
        &p,
        "create invoices",
        "op.execute('CREATE TABLE invoices (id INT PRIMARY KEY, order_id INT NOT NULL)')",
        "op.execute('DROP TABLE invoices')",
    );
    alembic(python, &p, &["upgrade", &b]);
    p.migration(
        "20240101000000_create_accounts",
        "CREATE TABLE accounts (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(50) NOT NULL);\n",
        Some("DROP TABLE accounts;\n"),
    );
    p.migration(
        "20240102000000_create_orders",
        "CREATE TABLE orders (id INT PRIMARY KEY, account_id INT NOT NULL);\n",
        Some("DROP TABLE orders;\n"),
    );
    p.migration(
        "20240103000000_create_invoices",
        "CREATE TABLE invoices (id INT PRIMARY KEY, order_id INT NOT NULL);\n",
        Some("DROP TABLE invoices;\n"),
    );
    (p, [a, b, c])
}

fn alembic_version(db: &mut TestDb) -> Vec<Vec<Option<String>>> {
    db.server
        .rows("SELECT version_num FROM alembic_version ORDER BY version_num")
}

#[test]
fn a_real_alembic_ledger_is_imported_and_only_the_rest_is_applied() {
    let Some(python) = python() else { return };
    let mut db = TestDb::new();
    let (p, [a, b, c]) = alembic_project(&python, &db);
    assert_eq!(alembic_version(&mut db), [[Some(b.clone())]]);
    assert!(db.has_table("accounts") && db.has_table("orders") && !db.has_table("invoices"));

    let r = p
        .run(&["migrate:import", "--from", "alembic", "--write-mapping"])
        .ok();
    assert!(
        r.stdout
            .contains("Wrote db/alembic-map.toml: 3 revisions of alembic/versions"),
        "{r}"
    );
    let map = std::fs::read_to_string(p.path().join("db/alembic-map.toml")).unwrap();
    for (id, version) in [
        (&a, "20240101000000"),
        (&b, "20240102000000"),
        (&c, "20240103000000"),
    ] {
        let pair = format!("alembic = \"{id}\"");
        let at = map
            .find(&pair)
            .unwrap_or_else(|| panic!("{pair} not in\n{map}"));
        assert!(
            map[at..].contains(&format!("version = \"{version}\"")),
            "{map}"
        );
    }
    // It is never overwritten (the user may have edited it).
    p.run(&["migrate:import", "--from", "alembic", "--write-mapping"])
        .code(2)
        .stderr_has("db/alembic-map.toml already exists");

    p.run(&["migrate:import", "--from", "alembic", "--dry-run"])
        .ok()
        .stdout_has("Dry run: would import 2 migrations from alembic")
        .stdout_has(&format!("20240102000000_create_orders    revision {b}"));
    assert!(
        !db.has_table("dbtool_migrations"),
        "a dry run writes nothing"
    );
    p.run(&["migrate:import", "--from", "alembic"])
        .ok()
        .stdout_has("Imported 2 migrations from alembic (`alembic_version`, left unchanged)");
    assert_eq!(
        db.ledger(),
        [
            ("20240101000000".into(), "applied".into(), 1, 1),
            ("20240102000000".into(), "applied".into(), 1, 1),
        ]
    );
    let log = db
        .server
        .rows("SELECT version, outcome FROM dbtool_log WHERE action = 'imported' ORDER BY version");
    assert_eq!(
        log,
        [
            [
                Some("20240101000000".into()),
                Some(format!("imported from alembic (revision {a})"))
            ],
            [
                Some("20240102000000".into()),
                Some(format!("imported from alembic (revision {b})"))
            ],
        ]
    );
    let status = p
        .run(&["migrate:status"])
        .ok()
        .stdout_has("2 applied · 1 pending");
    assert!(
        status.stdout.contains("20240103000000  create_invoices"),
        "{status}"
    );
    p.run(&["migrate:latest"])
        .ok()
        .stdout_has("Applied 1 migration (batch 2)")
        .stdout_has("20240103000000_create_invoices");
    assert!(db.has_table("invoices"));
    p.run(&["migrate:status"]).ok().stdout_has("3 applied");
    // Alembic's table is as Alembic left it, and Alembic still reads it.
    assert_eq!(alembic_version(&mut db), [[Some(b.clone())]]);
    assert!(alembic(&python, &p, &["current"]).contains(&b));
    p.run(&["migrate:import", "--from", "alembic"])
        .ok()
        .stdout_has("Nothing to import");
}

/// Replaces `from` by `to` in the project's mapping file.
fn edit_mapping(p: &Project, from: &str, to: &str) {
    let path = p.path().join("db/alembic-map.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from:?} not in\n{text}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// Nothing of dbtool's in the database.
fn nothing_written(db: &mut TestDb) {
    for t in ["dbtool_migrations", "dbtool_log"] {
        assert!(!db.has_table(t), "{t} was created");
    }
}

#[test]
fn a_mapping_that_disagrees_is_refused_with_every_problem_and_nothing_written() {
    let Some(python) = python() else { return };
    let mut db = TestDb::new();
    let (p, [a, b, _]) = alembic_project(&python, &db);
    p.run(&["migrate:import", "--from", "alembic", "--write-mapping"])
        .ok();
    // The head's entry is gone, and the base's names a version with no file.
    edit_mapping(
        &p,
        &format!("alembic = \"{b}\""),
        "alembic = \"0badc0ffee00\"",
    );
    edit_mapping(
        &p,
        "version = \"20240101000000\"",
        "version = \"20231231000000\"",
    );
    let r = p.run(&["migrate:import", "--from", "alembic"]).code(3);
    for expected in [
        format!(
            "db/alembic-map.toml:7: revision {a}: no migration file has version 20231231000000"
        ),
        format!("head revision {b} (in `alembic_version`) is not in db/alembic-map.toml"),
        "nothing was recorded, and alembic's table was not changed".to_owned(),
    ] {
        assert!(r.stderr.contains(&expected), "{expected:?}:\n{r}");
    }
    nothing_written(&mut db);
    p.run(&["migrate:import", "--from", "alembic", "--dry-run"])
        .code(3);

    // Two heads (Alembic's branches), by the documented layout: refused too.
    let p2_map = p.path().join("db/alembic-map.toml");
    std::fs::remove_file(&p2_map).unwrap();
    p.run(&["migrate:import", "--from", "alembic", "--write-mapping"])
        .ok();
    db.server
        .exec(&format!("INSERT INTO alembic_version VALUES ('{a}')"));
    p.run(&["migrate:import", "--from", "alembic"])
        .code(3)
        .stderr_has("`alembic_version` has 2 heads")
        .stderr_has("branches are not supported");
    db.server.exec("DELETE FROM alembic_version");
    p.run(&["migrate:import", "--from", "alembic"])
        .code(3)
        .stderr_has("`alembic_version` is empty");
    nothing_written(&mut db);
}

#[test]
fn without_a_mapping_or_a_table_alembic_is_refused() {
    let Some(python) = python() else { return };
    let mut db = TestDb::new();
    let (p, _) = alembic_project(&python, &db);
    p.run(&["migrate:import", "--from", "alembic"])
        .code(2)
        .stderr_has("no mapping file db/alembic-map.toml")
        .stderr_has("--write-mapping");
    p.write(
        "db/alembic-map.toml",
        "[[revision]]\nalembic = \"x\"\nversion = 1\n",
    );
    p.run(&["migrate:import", "--from", "alembic"])
        .code(2)
        .stderr_has("db/alembic-map.toml:3: invalid type: integer");
    p.run(&[
        "migrate:import",
        "--from",
        "alembic",
        "--mapping",
        "elsewhere.toml",
    ])
    .code(2)
    .stderr_has("no mapping file elsewhere.toml");
    p.remove("db/alembic-map.toml");
    p.run(&["migrate:import", "--from", "alembic", "--write-mapping"])
        .ok();
    db.server.exec("DROP TABLE alembic_version");
    p.run(&["migrate:import", "--from", "alembic"])
        .code(2)
        .stderr_has("no table `alembic_version` in this database");
    nothing_written(&mut db);
    p.run(&["migrate:import", "--from", "knex", "--mapping", "m.toml"])
        .code(2)
        .stderr_has("--mapping is for `--from alembic` only");
}

/// A mapping written by hand: `[[revision]]` entries of (revision, version), in order.
fn mapping_of(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(a, v)| format!("[[revision]]\nalembic = \"{a}\"\nversion = \"{v}\"\n\n"))
        .collect()
}

#[test]
fn a_merged_history_is_imported_by_a_hand_written_mapping_checked_against_the_scripts() {
    let Some(python) = python() else { return };
    let mut db = TestDb::new();
    let (p, [a, b, c]) = alembic_project(&python, &db);
    // A branch from the base beside b and c, then Alembic's merge of the two heads.
    let side = script(
        &python,
        &p,
        &["revision", "-m", "side", "--head", &a, "--splice"],
        (
            "op.execute('CREATE TABLE side (id INT PRIMARY KEY)')",
            "op.execute('DROP TABLE side')",
        ),
    );
    let merge = script(
        &python,
        &p,
        &["merge", "heads", "-m", "join"],
        ("pass", "pass"),
    );
    let r = p
        .run(&["migrate:import", "--from", "alembic", "--write-mapping"])
        .code(2)
        .stderr_has("Alembic's revision scripts do not form one chain")
        .stderr_has(&format!("revision {merge} merges"))
        .stderr_has("merges are not supported by --write-mapping")
        .stderr_has(&format!("both revise {a}"))
        .stderr_has("nothing was written");
    assert!(r.stderr.contains("alembic/versions/"), "{r}");
    assert!(!p.path().join("db/alembic-map.toml").exists(), "{r}");

    p.migration(
        "20240104000000_side",
        "CREATE TABLE side (id INT PRIMARY KEY);\n",
        Some("DROP TABLE side;\n"),
    );
    p.migration(
        "20240105000000_join",
        "-- Alembic's merge: no change\n",
        None,
    );
    p.write(
        "db/alembic-map.toml",
        &mapping_of(&[
            (&a, "20240101000000"),
            (&b, "20240102000000"),
            (&c, "20240103000000"),
            (&side, "20240104000000"),
            (&merge, "20240105000000"),
        ]),
    );
    // A database where Alembic applied only the side branch: b and c come before its head in
    // the mapping, but Alembic never ran them there.
    let mut db2 = TestDb::new();
    point_alembic_at(&p, &db2);
    alembic(&python, &p, &["upgrade", &side]);
    let r = p
        .run(&["--url", &db2.url(), "migrate:import", "--from", "alembic"])
        .code(3);
    for id in [&b, &c] {
        let expected = format!(
            "revision {id} comes before head {side} in the mapping, but by the scripts in \
             alembic/versions the head does not stand for it"
        );
        assert!(r.stderr.contains(&expected), "{expected:?}:\n{r}");
    }
    nothing_written(&mut db2);

    // The first database, brought to the merge by Alembic: all five.
    point_alembic_at(&p, &db);
    alembic(&python, &p, &["upgrade", "heads"]);
    assert_eq!(alembic_version(&mut db), [[Some(merge.clone())]]);
    p.run(&["migrate:import", "--from", "alembic"])
        .ok()
        .stdout_has("Imported 5 migrations from alembic")
        .stdout_has(&format!("20240105000000_join             revision {merge}"));
    p.run(&["migrate:status"])
        .ok()
        .stdout_has("5 applied · lock free");
}

#[test]
fn without_alembic_s_scripts_the_documented_table_is_imported_with_a_warning() {
    // No Python needed: alembic_version by its documented layout (as Alembic 1.20 creates it),
    // and no alembic/versions folder in the project (a deployment checkout, say).
    let mut db = TestDb::new();
    let p = Project::new(&db);
    for (id, table) in [
        ("20240101000000_a", "a"),
        ("20240102000000_b", "b"),
        ("20240103000000_c", "c"),
    ] {
        p.migration(
            id,
            &format!("CREATE TABLE {table} (id INT PRIMARY KEY);\n"),
            None,
        );
    }
    db.server.exec("CREATE TABLE a (id INT PRIMARY KEY)");
    db.server.exec("CREATE TABLE b (id INT PRIMARY KEY)");
    db.server.exec(
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, \
         CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))",
    );
    db.server
        .exec("INSERT INTO alembic_version VALUES ('2b7e0c1d9f3a')");
    p.write(
        "db/alembic-map.toml",
        &mapping_of(&[
            ("51a0e9c3b2d4", "20240101000000"),
            ("2b7e0c1d9f3a", "20240102000000"),
            ("c0ffee123456", "20240103000000"),
        ]),
    );
    p.run(&["migrate:import", "--from", "alembic"])
        .ok()
        .stderr_has("no folder alembic/versions: the mapping's order is not checked")
        .stdout_has("Imported 2 migrations from alembic");
    p.run(&["migrate:latest"])
        .ok()
        .stdout_has("Applied 1 migration (batch 2)");
    // A folder named on the command line must be there.
    p.run(&[
        "migrate:import",
        "--from",
        "alembic",
        "--alembic-dir",
        "nowhere",
    ])
    .code(2)
    .stderr_has("cannot check the mapping against Alembic's revision scripts")
    .stderr_has("nowhere");
}
