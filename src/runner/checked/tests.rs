use super::*;

fn fx(sql: &str) -> Option<(String, bool)> {
    effect(sql).map(|e| (e.name, e.creates))
}

#[test]
fn effects_are_one_unqualified_table_or_view_created_or_dropped() {
    let yes = |sql: &str, name: &str, creates: bool| {
        assert_eq!(fx(sql), Some((name.to_owned(), creates)), "{sql}");
    };
    yes(
        "CREATE TABLE t001 (id INT PRIMARY KEY, name VARCHAR(50))",
        "t001",
        true,
    );
    yes("create table `Odd ``name` (id int)", "Odd `name", true);
    yes("CREATE TABLE t LIKE u", "t", true);
    yes("CREATE VIEW v AS SELECT 1", "v", true);
    yes("DROP TABLE t001", "t001", false);
    yes("drop view `v`", "v", false);
    yes("DROP TABLE t CASCADE", "t", false);
    for no in [
        "CREATE TABLE IF NOT EXISTS t (id INT)",
        "CREATE TEMPORARY TABLE t (id INT)",
        "CREATE OR REPLACE VIEW v AS SELECT 1",
        "CREATE TABLE db.t (id INT)",
        "CREATE TABLE `db`.`t` (id INT)",
        "CREATE INDEX i ON t (a)",
        "DROP TABLE IF EXISTS t",
        "DROP TABLE a, b",
        "DROP TABLE db.t",
        "DROP TEMPORARY TABLE t",
        "ALTER TABLE t ADD COLUMN c INT",
        "/*!50001 CREATE TABLE t (id INT) */",
        "CREATE /*!32312 TEMPORARY */ TABLE t (id INT)",
        "INSERT INTO t VALUES (1)",
        "CREATE ALGORITHM=MERGE VIEW v AS SELECT 1",
    ] {
        assert_eq!(fx(no), None, "{no}");
    }
}
