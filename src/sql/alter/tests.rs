use super::*;

fn alter(sql: &str) -> Alter {
    match read(sql) {
        Action::Explain(a) => a,
        other => panic!("{sql}: {other:?}"),
    }
}

#[test]
fn options_go_after_the_table_name_of_an_alter_list() {
    let cases = [
        (
            "ALTER TABLE t ADD COLUMN c INT",
            "ALTER TABLE t ALGORITHM=INSTANT,  ADD COLUMN c INT",
        ),
        (
            "ALTER TABLE `db`.`t` ADD c INT, DROP d",
            "ALTER TABLE `db`.`t` ALGORITHM=INSTANT,  ADD c INT, DROP d",
        ),
        (
            "alter online ignore table if exists t wait 5 add c int",
            "alter online ignore table if exists t wait 5 ALGORITHM=INSTANT,  add c int",
        ),
        ("ALTER TABLE t", "ALTER TABLE t ALGORITHM=INSTANT "),
        (
            "ALTER TABLE t ADD PARTITION (PARTITION p2 VALUES LESS THAN (30))",
            "ALTER TABLE t ALGORITHM=INSTANT,  ADD PARTITION (PARTITION p2 VALUES LESS THAN (30))",
        ),
    ];
    for (sql, want) in cases {
        assert_eq!(alter(sql).with(sql, Some("INSTANT"), None), want, "{sql}");
    }
    let sql = "ALTER TABLE t ADD INDEX i (c)";
    assert_eq!(
        alter(sql).with(sql, Some("INPLACE"), Some("NONE")),
        "ALTER TABLE t ALGORITHM=INPLACE, LOCK=NONE,  ADD INDEX i (c)"
    );
}

#[test]
fn options_end_the_list_before_partition_options() {
    let sql = "ALTER TABLE t ADD c INT PARTITION BY HASH (id) PARTITIONS 2";
    assert_eq!(
        alter(sql).with(sql, Some("COPY"), Some("SHARED")),
        "ALTER TABLE t ADD c INT , ALGORITHM=COPY, LOCK=SHARED PARTITION BY HASH (id) PARTITIONS 2"
    );
    let sql = "ALTER TABLE t REMOVE PARTITIONING";
    assert_eq!(
        alter(sql).with(sql, Some("COPY"), None),
        "ALTER TABLE t  ALGORITHM=COPY REMOVE PARTITIONING"
    );
    let sql = "ALTER TABLE t /*!50100 PARTITION BY KEY (id) */";
    assert_eq!(
        alter(sql).with(sql, Some("INPLACE"), None),
        "ALTER TABLE t /*!50100  ALGORITHM=INPLACE PARTITION BY KEY (id) */"
    );
}

#[test]
fn the_statements_own_options_stay_and_default_is_replaced() {
    let sql = "ALTER TABLE t ADD INDEX i (c), ALGORITHM=INPLACE";
    let a = alter(sql);
    assert_eq!(
        a.algorithm.as_ref().map(|g| g.value.as_str()),
        Some("INPLACE")
    );
    assert_eq!(a.lock, None);
    assert_eq!(
        a.with(sql, Some("INSTANT"), Some("NONE")),
        "ALTER TABLE t LOCK=NONE,  ADD INDEX i (c), ALGORITHM=INPLACE"
    );
    let sql = "ALTER TABLE t ADD c INT, ALGORITHM = DEFAULT, LOCK DEFAULT";
    assert_eq!(
        alter(sql).with(sql, Some("INSTANT"), Some("NONE")),
        "ALTER TABLE t ADD c INT, ALGORITHM = INSTANT, LOCK NONE"
    );
    // MariaDB's ALTER ONLINE TABLE asks for LOCK=NONE.
    let a = alter("ALTER ONLINE TABLE t ADD c INT");
    assert_eq!(a.lock.as_ref().map(|g| g.value.as_str()), Some("NONE"));
    // A column named `algorithm` is not the option.
    let a = alter("ALTER TABLE t ADD COLUMN algorithm INT, ADD `lock` INT");
    assert_eq!((a.algorithm, a.lock), (None, None));
}

#[test]
fn create_and_drop_index_take_options_at_their_end() {
    let sql = "CREATE UNIQUE INDEX i ON `t` (c) COMMENT 'x' -- why\n";
    let a = alter(sql);
    assert_eq!(a.table, "t");
    assert_eq!(
        a.with(sql, Some("INPLACE"), Some("NONE")),
        "CREATE UNIQUE INDEX i ON `t` (c) COMMENT 'x' ALGORITHM=INPLACE LOCK=NONE -- why\n"
    );
    let sql = "DROP INDEX i ON t";
    assert_eq!(
        alter(sql).with(sql, Some("INSTANT"), None),
        "DROP INDEX i ON t ALGORITHM=INSTANT"
    );
    // It is tried as the ALTER TABLE it stands for (MariaDB's DROP INDEX takes no options).
    assert_eq!(
        alter("DROP INDEX IF EXISTS `i` ON app.t LOCK=SHARED")
            .probe_as
            .as_deref(),
        Some("ALTER TABLE app.t DROP INDEX IF EXISTS `i`, LOCK=SHARED")
    );
    assert_eq!(alter("CREATE INDEX i ON t (c)").probe_as, None);
}

#[test]
fn tables_and_renames_are_read() {
    assert_eq!(
        read("CREATE TABLE IF NOT EXISTS `a b` (id INT)"),
        Action::Replay(Change::Create("a b".into()))
    );
    assert_eq!(
        read("create temporary table t like u"),
        Action::Replay(Change::Create("t".into()))
    );
    assert_eq!(
        read("DROP TABLE IF EXISTS a, `db`.b CASCADE"),
        Action::Replay(Change::Drop(vec!["a".into(), "b".into()]))
    );
    assert_eq!(
        read("RENAME TABLE a TO b, c TO d"),
        Action::Replay(Change::Rename(vec![
            ("a".into(), "b".into()),
            ("c".into(), "d".into())
        ]))
    );
    assert_eq!(
        alter("ALTER TABLE a RENAME TO b").renamed_to.as_deref(),
        Some("b")
    );
    assert_eq!(
        alter("ALTER TABLE a RENAME b, ADD c INT")
            .renamed_to
            .as_deref(),
        Some("b")
    );
    assert_eq!(alter("ALTER TABLE a RENAME COLUMN x TO y").renamed_to, None);
    assert_eq!(alter("ALTER TABLE a RENAME INDEX x TO y").renamed_to, None);
}

#[test]
fn only_session_sets_are_replayed_and_other_statements_are_left_out() {
    for sql in [
        "SET FOREIGN_KEY_CHECKS = 0",
        "/*!40014 SET FOREIGN_KEY_CHECKS=0 */",
        "SET @@session.sql_mode = ''",
        "SET NAMES utf8mb4",
    ] {
        assert_eq!(read(sql), Action::Session, "{sql}");
    }
    for sql in [
        "SET GLOBAL innodb_file_per_table = 1",
        "SET @@global.x = 1",
        "SET PERSIST x = 1",
        "SET PASSWORD = 'x'",
        "SET DEFAULT ROLE r TO u",
        "SET STATEMENT max_statement_time = 1 FOR ALTER TABLE t ADD c INT",
        "INSERT INTO t VALUES (1)",
        "CREATE VIEW v AS SELECT 1",
        "CREATE PROCEDURE p() SELECT 1",
        "ALTER VIEW v AS SELECT 2",
        "ALTER DATABASE d CHARACTER SET utf8mb4",
        "GRANT ALL ON *.* TO u",
        "DROP VIEW v",
        "TRUNCATE TABLE t",
    ] {
        assert_eq!(read(sql), Action::Skip, "{sql}");
    }
}

#[test]
fn the_live_databases_name_becomes_the_scratch_schemas_and_others_refuse() {
    assert_eq!(
        in_scratch(
            "ALTER TABLE `app`.t ADD FOREIGN KEY (a) REFERENCES app.p (id)",
            "app",
            "s"
        ),
        Ok("ALTER TABLE `s`.t ADD FOREIGN KEY (a) REFERENCES `s`.p (id)".into())
    );
    assert_eq!(
        in_scratch(
            "ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES other.p (id)",
            "app",
            "s"
        ),
        Ok("ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES other.p (id)".into())
    );
    assert_eq!(
        in_scratch("ALTER TABLE t RENAME TO other.t", "app", "s"),
        Err("other".into())
    );
    assert_eq!(
        in_scratch("SET @@session.x = 1, @a = 'app.t'", "app", "s"),
        Ok("SET @@session.x = 1, @a = 'app.t'".into())
    );
    assert!(in_scratch("ALTER TABLE t ADD c DECIMAL(4,1) DEFAULT 1.5", "app", "s").is_ok());
}
