//! migrate:import from each tool's ledger, created here by the SQL of its documented table
//! layout (import_real.rs and import_alembic.rs have ledgers written by the real Knex, dbmate
//! and Alembic): status shows exactly those
//! migrations applied, migrate:latest applies only the rest, the other table is untouched; a
//! ledger that disagrees with the files is refused with every problem listed and nothing
//! written.

use crate::helpers::*;

/// Three migrations; the database holds the schema of the first two, as the other tool left it.
fn project(db: &mut TestDb) -> Project {
    let p = Project::new(db);
    p.migration(
        "20240101000000_a",
        "CREATE TABLE a (id INT PRIMARY KEY);\n",
        Some("DROP TABLE a;\n"),
    );
    p.migration(
        "20240102000000_b",
        "CREATE TABLE b (id INT PRIMARY KEY);\n",
        Some("DROP TABLE b;\n"),
    );
    p.migration(
        "20240103000000_c",
        "CREATE TABLE c (id INT PRIMARY KEY);\n",
        Some("DROP TABLE c;\n"),
    );
    db.server.exec("CREATE TABLE a (id INT PRIMARY KEY)");
    db.server.exec("CREATE TABLE b (id INT PRIMARY KEY)");
    p
}

/// Each tool's ledger, as its documentation lays it out, saying 1 and 2 are applied.
fn other_ledger(db: &mut TestDb, tool: &str) -> &'static str {
    let (ddl, rows, table): (&str, &[&str], &str) = match tool {
        "knex" => (
            "CREATE TABLE knex_migrations (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, \
             name VARCHAR(255), batch INT, migration_time TIMESTAMP)",
            &[
                "INSERT INTO knex_migrations (name, batch, migration_time) VALUES \
                 ('20240101000000_a.js', 1, NOW()), ('20240102000000_b.js', 1, NOW())",
            ],
            "knex_migrations",
        ),
        "flyway" => (
            "CREATE TABLE flyway_schema_history (installed_rank INT NOT NULL PRIMARY KEY, \
             version VARCHAR(50), description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL, \
             script VARCHAR(1000) NOT NULL, checksum INT, installed_by VARCHAR(100) NOT NULL, \
             installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, execution_time INT NOT \
             NULL, success TINYINT(1) NOT NULL)",
            &["INSERT INTO flyway_schema_history VALUES \
                 (1, '20240101000000', 'a', 'SQL', 'V20240101000000__a.sql', 1, 'root', NOW(), 5, 1), \
                 (2, '20240102000000', 'b', 'SQL', 'V20240102000000__b.sql', 2, 'root', NOW(), 5, 1), \
                 (3, NULL, 'views', 'SQL', 'R__views.sql', 3, 'root', NOW(), 5, 1)"],
            "flyway_schema_history",
        ),
        "golang-migrate" => (
            "CREATE TABLE schema_migrations (version BIGINT NOT NULL PRIMARY KEY, dirty BOOLEAN \
             NOT NULL)",
            &["INSERT INTO schema_migrations VALUES (20240102000000, 0)"],
            "schema_migrations",
        ),
        "dbmate" => (
            "CREATE TABLE schema_migrations (version VARCHAR(128) NOT NULL PRIMARY KEY)",
            &["INSERT INTO schema_migrations VALUES ('20240101000000'), ('20240102000000')"],
            "schema_migrations",
        ),
        "sqlx" => (
            "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, \
             installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL, \
             checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)",
            &[
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
                 execution_time) VALUES (20240101000000, 'a', 1, 'x', 1), (20240102000000, 'b', \
                 1, 'x', 1)",
            ],
            "_sqlx_migrations",
        ),
        _ => unreachable!(),
    };
    db.server.exec(ddl);
    for r in rows {
        db.server.exec(r);
    }
    table
}

#[test]
fn each_tools_ledger_is_imported_and_only_the_rest_is_applied() {
    for tool in ["knex", "flyway", "golang-migrate", "dbmate", "sqlx"] {
        let mut db = TestDb::new();
        let p = project(&mut db);
        let table = other_ledger(&mut db, tool);
        let before = db.server.count(&format!("SELECT COUNT(*) FROM {table}"));
        p.run(&["migrate:import", "--from", tool, "--dry-run"])
            .ok()
            .stdout_has("Dry run: would import 2 migrations");
        let r = p.run(&["migrate:import", "--from", tool]).ok();
        assert!(r.stdout.contains("Imported 2 migrations"), "{tool}: {r}");
        assert_eq!(
            db.ledger(),
            [
                ("20240101000000".into(), "applied".into(), 1, 1),
                ("20240102000000".into(), "applied".into(), 1, 1),
            ],
            "{tool}"
        );
        let logged = db.server.count(
            "SELECT COUNT(*) FROM dbtool_log WHERE action = 'imported' AND outcome LIKE 'imported from %'",
        );
        assert_eq!(logged, 2, "{tool}");
        p.run(&["migrate:status"])
            .ok()
            .stdout_has("2 applied · 1 pending");
        p.run(&["migrate:latest"])
            .ok()
            .stdout_has("Applied 1 migration (batch 2)");
        assert!(db.has_table("c"), "{tool}");
        // The other tool's table is as it was.
        assert_eq!(
            db.server.count(&format!("SELECT COUNT(*) FROM {table}")),
            before,
            "{tool}"
        );
        p.run(&["migrate:import", "--from", tool])
            .ok()
            .stdout_has("Nothing to import");
    }
}

#[test]
fn a_ledger_that_disagrees_is_refused_with_every_problem_and_nothing_written() {
    let mut db = TestDb::new();
    let p = project(&mut db);
    other_ledger(&mut db, "flyway");
    db.server.exec(
        "INSERT INTO flyway_schema_history VALUES \
         (4, '20240104000000', 'd', 'SQL', 'V20240104000000__d.sql', 4, 'root', NOW(), 5, 1), \
         (5, '20240103000000', 'c', 'SQL', 'V20240103000000__c.sql', 5, 'root', NOW(), 5, 0), \
         (6, '1.1', 'e', 'SQL', 'V1.1__e.sql', 6, 'root', NOW(), 5, 1)",
    );
    let r = p.run(&["migrate:import", "--from", "flyway"]).code(3);
    for expected in [
        "V20240104000000__d.sql: no migration file has version 20240104000000",
        "V20240103000000__c.sql: flyway records it as failed",
        "V1.1__e.sql: `1.1` is not a version dbtool can match",
        "nothing was recorded, and flyway's table was not changed",
    ] {
        assert!(r.stderr.contains(expected), "{expected:?}:\n{r}");
    }
    // A refused import leaves nothing behind, not even dbtool's own empty tables.
    assert!(!db.has_table("dbtool_migrations"));
    p.run(&["migrate:import", "--from", "sqlx"])
        .code(2)
        .stderr_has("no table `_sqlx_migrations` in this database");
}

#[test]
fn golang_migrate_and_dbmate_tables_are_told_apart() {
    // Both tools name their table schema_migrations; reading one as the other would import the
    // wrong migrations (golang-migrate's one row stands for every version up to it).
    let mut db = TestDb::new();
    let p = project(&mut db);
    other_ledger(&mut db, "golang-migrate");
    p.run(&["migrate:import", "--from", "dbmate", "--dry-run"])
        .code(2)
        .stderr_has("it has a `dirty` column")
        .stderr_has("use --from golang-migrate");
    let mut db2 = TestDb::new();
    let p2 = project(&mut db2);
    other_ledger(&mut db2, "dbmate");
    p2.run(&["migrate:import", "--from", "golang-migrate"])
        .code(2)
        .stderr_has("it has no column dirty")
        .stderr_has("use --from dbmate");
    assert!(!db2.has_table("dbtool_migrations"));
}
