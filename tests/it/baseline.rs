//! migrate:baseline: a database built by hand is adopted; --check finds what is missing.

use crate::helpers::*;

/// Migrations 1-4 (4 drops what 3 created) and a pending 5; the schema of 1-2 built by hand,
/// as a team without a tool would have it.
fn hand_built(db: &mut TestDb) -> Project {
    let p = Project::new(db);
    p.migration(
        "1_create_accounts",
        "CREATE TABLE accounts (id INT PRIMARY KEY, name VARCHAR(50));\n",
        Some("DROP TABLE accounts;\n"),
    );
    p.migration(
        "2_orders",
        "CREATE TABLE orders (id INT PRIMARY KEY);\n\
         CREATE VIEW big_orders AS SELECT id FROM orders WHERE id > 100;\n",
        Some("DROP VIEW big_orders;\nDROP TABLE orders;\n"),
    );
    p.migration(
        "3_tmp",
        "CREATE TABLE tmp_import (id INT PRIMARY KEY);\n",
        Some(""),
    );
    p.migration("4_drop_tmp", "DROP TABLE tmp_import;\n", Some(""));
    p.migration(
        "5_invoices",
        "CREATE TABLE invoices (id INT PRIMARY KEY);\n",
        Some("DROP TABLE invoices;\n"),
    );
    db.server
        .exec("CREATE TABLE accounts (id INT PRIMARY KEY, name VARCHAR(50))");
    db.server.exec("CREATE TABLE orders (id INT PRIMARY KEY)");
    db.server
        .exec("CREATE VIEW big_orders AS SELECT id FROM orders WHERE id > 100");
    p
}

#[test]
fn a_hand_built_database_is_baselined_and_then_migrates_only_the_rest() {
    let mut db = TestDb::new();
    let p = hand_built(&mut db);
    p.run(&["migrate:baseline", "--to", "4", "--check", "--dry-run"])
        .ok()
        .stdout_has("Dry run: would record 4 migrations up to 4");
    assert!(!db.has_table("dbtool_migrations") || db.ledger().is_empty());
    p.run(&["migrate:baseline", "--to", "4", "--check"])
        .ok()
        .stdout_has("Baselined 4 migrations up to 4 (batch 1)");
    assert_eq!(
        db.ledger(),
        [
            ("1".into(), "applied".into(), 1, 1),
            ("2".into(), "applied".into(), 2, 1),
            ("3".into(), "applied".into(), 1, 1),
            ("4".into(), "applied".into(), 1, 1),
        ]
    );
    assert_eq!(
        db.server
            .count("SELECT COUNT(*) FROM dbtool_log WHERE action = 'baselined'"),
        4
    );
    // The files match what was recorded: no drift, and only 5 is left.
    p.run(&["migrate:validate"]).ok();
    p.run(&["migrate:status"])
        .ok()
        .stdout_has("4 applied · 1 pending");
    p.run(&["migrate:latest"])
        .ok()
        .stdout_has("Applied 1 migration (batch 2)");
    assert!(db.has_table("invoices") && !db.has_table("tmp_import"));
    // A rollback undoes the last batch only, not the baselined one.
    p.run(&["migrate:rollback"]).ok();
    assert!(!db.has_table("invoices") && db.has_table("orders"));
    // Run again, nothing to do.
    p.run(&["migrate:baseline", "--to", "4"])
        .ok()
        .stdout_has("Nothing to baseline");
}

#[test]
fn check_names_what_is_missing_and_records_nothing() {
    let mut db = TestDb::new();
    let p = hand_built(&mut db);
    db.server.exec("DROP VIEW big_orders");
    db.server.exec("DROP TABLE orders");
    let r = p.run(&["migrate:baseline", "--to", "4", "--check"]).code(3);
    assert!(
        r.stderr
            .contains("table `orders` (created at db/migrations/2_orders.up.sql:1)"),
        "{r}"
    );
    assert!(r.stderr.contains("view `big_orders`"), "{r}");
    assert!(!r.stderr.contains("tmp_import"), "dropped by 4: {r}");
    assert!(!db.has_table("dbtool_migrations"), "nothing left behind");
    p.run(&["migrate:baseline", "--to", "99"])
        .code(2)
        .stderr_has("no migration file has version 99");
}

#[test]
fn a_protected_environment_needs_yes() {
    let mut db = TestDb::new();
    let p = hand_built(&mut db);
    p.write(
        "knexfile.toml",
        &format!("[development]\nurl = \"{}\"\nprotected = true\n", db.url()),
    );
    p.run(&["migrate:baseline", "--to", "2"]).code(2);
    p.run(&["--yes", "migrate:baseline", "--to", "2"])
        .ok()
        .stdout_has("Baselined 2 migrations");
}
