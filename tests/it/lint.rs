//! `dbtool lint`: offline, exit 1 on an error, severities from the knexfile, the findings in
//! a dry run. (Each rule's fixture and safe twin are unit tests in src/lint/rules/tests.rs.)

use crate::helpers::*;

/// A project whose files trip most rules, on a URL nothing listens on: lint never connects.
fn risky() -> Project {
    let p = Project::with_url("mysql://root@127.0.0.1:1/nowhere");
    p.migration(
        "1_create",
        "CREATE TABLE orders (id INT PRIMARY KEY, note TEXT);\nCREATE TABLE audit (at DATETIME);\n",
        Some("DROP TABLE orders;\n"),
    );
    p.migration(
        "2_reshape",
        "ALTER TABLE orders ADD COLUMN state VARCHAR(20) NOT NULL, DROP COLUMN note;\n\
         ALTER TABLE orders RENAME COLUMN id TO order_id;\n",
        None,
    );
    p.migration(
        "3_cleanup",
        "-- dbtool:destructive: audit moved to the warehouse\nDROP TABLE audit;\n",
        Some(""),
    );
    p.seed(
        "01_orders.sql",
        "INSERT INTO orders (order_id, state) VALUES (1, 'new');\n",
    );
    p
}

#[test]
fn lint_finds_the_risks_offline_and_exits_1_on_an_error() {
    let p = risky();
    let r = p.run(&["lint"]).code(1);
    for expected in [
        "warning[no-primary-key] db/migrations/1_create.up.sql:2: table `audit` has no primary key",
        "warning[down-leaves-objects] db/migrations/1_create.up.sql:2:",
        "error[destructive] db/migrations/2_reshape.up.sql:1: ALTER TABLE orders DROP COLUMN note",
        "warning[not-null-without-default] db/migrations/2_reshape.up.sql:1: column `state`",
        "warning[rename] db/migrations/2_reshape.up.sql:2:",
        "warning[missing-down] db/migrations/2_reshape.up.sql:1:",
        "warning[seed-not-idempotent] db/seeds/01_orders.sql:1:",
        "7 findings in 3 migrations and 1 seed: 1 error, 6 warnings.",
    ] {
        assert!(r.stdout.contains(expected), "{expected:?} missing:\n{r}");
    }
    // The marked DROP is intended.
    assert!(!r.stdout.contains("3_cleanup.up.sql:2"), "{r}");
    let j = p.run(&["--json", "lint"]).code(1).json();
    assert_eq!(j["errors"], 1);
    assert_eq!(j["findings"][2]["rule"], "destructive");
    assert_eq!(j["findings"][2]["line"], 1);
}

#[test]
fn severities_come_from_the_knexfile() {
    let p = risky();
    p.write(
        "knexfile.toml",
        "[development]\nurl = \"mysql://root@127.0.0.1:1/nowhere\"\n\n[lint]\n\
         destructive = \"warning\"\nmissing-down = \"off\"\n",
    );
    let r = p.run(&["lint"]).ok();
    assert!(r.stdout.contains("warning[destructive]"), "{r}");
    assert!(!r.stdout.contains("missing-down"), "{r}");
    p.write(
        "knexfile.toml",
        "[development]\nurl = \"mysql://root@127.0.0.1:1/nowhere\"\n[lint]\nrenam = \"error\"\n",
    );
    p.run(&["lint"])
        .code(2)
        .stderr_has("knexfile.toml:4: lint.renam: unknown rule; rules: destructive,");
}

#[test]
fn a_dry_run_shows_the_findings_on_stderr() {
    let db = TestDb::new();
    let p = Project::new(&db);
    p.migration("1_drop", "DROP TABLE IF EXISTS legacy;\n", Some(""));
    let r = p.run(&["migrate:latest", "--dry-run"]).ok();
    assert!(
        r.stderr
            .contains("lint: error[destructive] db/migrations/1_drop.up.sql:1: DROP TABLE legacy"),
        "{r}"
    );
    // The plan on stdout is still a script.
    assert!(!r.stdout.contains("lint"), "{r}");
}
