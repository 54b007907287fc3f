use super::*;
use crate::lint::RuleId;
use crate::sql::statements;

fn ids(up: &str, down: Option<&str>) -> Vec<(RuleId, u64)> {
    let up = statements(up).unwrap();
    let down = down.map(|d| statements(d).unwrap());
    migration(&up, down.as_deref())
        .into_iter()
        .map(|h| (h.rule, h.line))
        .filter(|(r, _)| *r != RuleId::MissingDown)
        .collect()
}

fn fires(rule: RuleId, up: &str) -> bool {
    ids(up, Some("")).iter().any(|(r, _)| *r == rule)
}

/// A fixture for each rule, and its safe twin.
const CASES: &[(RuleId, &str, &str)] = &[
    (
        RuleId::Destructive,
        "DROP TABLE orders;",
        "-- dbtool:destructive: orders moved to the archive\nDROP TABLE orders;",
    ),
    (
        RuleId::Destructive,
        "DROP TABLE IF EXISTS orders;",
        "DROP VIEW orders_v;",
    ),
    (
        RuleId::Destructive,
        "TRUNCATE TABLE t;",
        "-- dbtool:destructive\nTRUNCATE TABLE t;",
    ),
    (
        RuleId::Destructive,
        "ALTER TABLE t DROP COLUMN note;",
        "ALTER TABLE t DROP INDEX idx_note;",
    ),
    (
        RuleId::Destructive,
        "ALTER TABLE t ADD COLUMN b INT, DROP note;",
        "ALTER TABLE t ALTER COLUMN b DROP DEFAULT;",
    ),
    (
        RuleId::Destructive,
        "ALTER TABLE t DROP PARTITION p2019;",
        "ALTER TABLE t DROP FOREIGN KEY fk_a;",
    ),
    (
        RuleId::Destructive,
        "DELETE FROM t;",
        "DELETE FROM t WHERE id = 1;",
    ),
    (
        RuleId::Destructive,
        "DROP DATABASE old;",
        "SELECT 'DROP TABLE x';",
    ),
    (
        RuleId::LockTables,
        "LOCK TABLES t WRITE;\nUPDATE t SET a = 1;\nUNLOCK TABLES;",
        "UPDATE t SET a = 1;",
    ),
    (
        RuleId::NotNullWithoutDefault,
        "ALTER TABLE t ADD COLUMN n INT NOT NULL;",
        "ALTER TABLE t ADD COLUMN n INT NOT NULL DEFAULT 0;",
    ),
    (
        RuleId::NotNullWithoutDefault,
        "ALTER TABLE t ADD a INT NULL, ADD b VARCHAR(10) NOT NULL;",
        "ALTER TABLE t ADD b VARCHAR(10) NULL;",
    ),
    (
        RuleId::NotNullWithoutDefault,
        "ALTER TABLE t ADD c INT NOT NULL AFTER a;",
        "ALTER TABLE t ADD c INT GENERATED ALWAYS AS (a + 1) VIRTUAL NOT NULL;",
    ),
    (
        RuleId::Rename,
        "RENAME TABLE a TO b;",
        "CREATE TABLE b (id INT PRIMARY KEY);",
    ),
    (
        RuleId::Rename,
        "ALTER TABLE t RENAME COLUMN a TO b;",
        "ALTER TABLE t RENAME INDEX i1 TO i2;",
    ),
    (
        RuleId::Rename,
        "ALTER TABLE t CHANGE a b INT;",
        "ALTER TABLE t CHANGE a a BIGINT;",
    ),
    (
        RuleId::NoPrimaryKey,
        "CREATE TABLE t (a INT);",
        "CREATE TABLE t (a INT PRIMARY KEY);",
    ),
    (
        RuleId::NoPrimaryKey,
        "CREATE TABLE IF NOT EXISTS t (a INT, b INT);",
        "CREATE TABLE t (a INT, b INT, PRIMARY KEY (a, b));",
    ),
    (
        RuleId::NoPrimaryKey,
        "CREATE TABLE t2 (x INT);",
        "CREATE TABLE t2 LIKE t;",
    ),
    (
        RuleId::MixedDdlDml,
        "CREATE TABLE t (id INT PRIMARY KEY);\nINSERT INTO t VALUES (1);",
        "INSERT INTO t VALUES (1);\nUPDATE t SET id = 2;",
    ),
];

/// Each rule fires on its fixture and stays quiet on the safe twin.
#[test]
fn each_rule_fires_on_its_fixture_and_not_on_its_safe_twin() {
    for (rule, bad, good) in CASES {
        assert!(fires(*rule, bad), "{rule:?} should fire on {bad:?}");
        assert!(
            !fires(*rule, good),
            "{rule:?} should stay quiet on {good:?}"
        );
    }
}

#[test]
fn a_down_must_drop_what_its_up_creates() {
    let up = "CREATE TABLE a (id INT PRIMARY KEY);\nCREATE INDEX ix ON a (id);\n\
              CREATE OR REPLACE VIEW v AS SELECT id FROM a;\n\
              CREATE DEFINER=`root`@`localhost` PROCEDURE p() SELECT 1;";
    let hits = ids(up, Some("DROP TABLE a;"));
    let leaves: Vec<u64> = hits
        .iter()
        .filter(|(r, _)| *r == RuleId::DownLeavesObjects)
        .map(|(_, l)| *l)
        .collect();
    // The index goes with its table; the view and the procedure stay.
    assert_eq!(leaves, [3, 4], "{hits:?}");
    let all = "DROP PROCEDURE p;\nDROP VIEW v;\nDROP TABLE a;";
    assert!(
        !ids(up, Some(all))
            .iter()
            .any(|(r, _)| *r == RuleId::DownLeavesObjects)
    );
}

#[test]
fn missing_down_is_a_finding_at_line_1() {
    let up = statements("CREATE TABLE a (id INT PRIMARY KEY);").unwrap();
    let hits = migration(&up, None);
    assert!(
        hits.iter()
            .any(|h| h.rule == RuleId::MissingDown && h.line == 1)
    );
    assert!(
        !migration(&up, Some(&[]))
            .iter()
            .any(|h| h.rule == RuleId::MissingDown)
    );
}

#[test]
fn seeds_that_insert_twice_are_found_unless_they_clear_or_upsert() {
    let fire = |sql: &str, mode: Mode| {
        seed(&statements(sql).unwrap(), mode)
            .iter()
            .any(|h| h.rule == RuleId::SeedNotIdempotent)
    };
    assert!(fire("INSERT INTO users VALUES (1, 'a');", Mode::Always));
    assert!(fire("INSERT INTO users VALUES (1, 'a');", Mode::OnChange));
    assert!(!fire("INSERT INTO users VALUES (1, 'a');", Mode::Once));
    assert!(!fire(
        "DELETE FROM users;\nINSERT INTO users VALUES (1, 'a');",
        Mode::Always
    ));
    assert!(!fire(
        "TRUNCATE TABLE users;\nINSERT INTO users VALUES (1, 'a');",
        Mode::Always
    ));
    assert!(!fire(
        "INSERT IGNORE INTO users VALUES (1, 'a');",
        Mode::Always
    ));
    assert!(!fire(
        "INSERT INTO users VALUES (1, 'a') ON DUPLICATE KEY UPDATE name = 'a';",
        Mode::Always
    ));
    assert!(!fire("REPLACE INTO users VALUES (1, 'a');", Mode::Always));
    // Clearing another table does not count.
    assert!(fire(
        "DELETE FROM other;\nINSERT INTO users VALUES (1);",
        Mode::Always
    ));
}
