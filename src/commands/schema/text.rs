//! The schema file's text: `SHOW CREATE` output made the same on every run (no AUTO_INCREMENT
//! counters, no DEFINER, views without the database's name) and laid out as a script both
//! dbtool and the mysql/mariadb clients run.

use crate::db::schema::Created;

/// The whole file.
pub(super) fn render(objects: &[Created], ledger_rows: &[String], database: &str) -> String {
    let mut out = String::from(
        "-- The database's schema, written by `dbtool schema:dump`: tables, views, routines,\n\
         -- triggers and events as the server shows them (AUTO_INCREMENT counters and DEFINER\n\
         -- left out), then dbtool's migrations ledger rows. Load it into an empty database with\n\
         -- `dbtool schema:load` (or the mysql client).\n\n\
         SET FOREIGN_KEY_CHECKS = 0;\n\n",
    );
    for o in objects {
        let sql = normalise(o.kind, &o.sql, database);
        match o.kind {
            "function" | "procedure" | "trigger" | "event" => {
                out.push_str(&format!("DELIMITER ;;\n{sql};;\nDELIMITER ;\n\n"));
            }
            _ => out.push_str(&format!("{sql};\n\n")),
        }
    }
    for r in ledger_rows {
        out.push_str(r);
        out.push('\n');
    }
    if !ledger_rows.is_empty() {
        out.push('\n');
    }
    out.push_str("SET FOREIGN_KEY_CHECKS = 1;\n");
    out
}

/// One object's statement without what changes from run to run or names this database.
pub(super) fn normalise(kind: &str, sql: &str, database: &str) -> String {
    let mut s = without_definer(sql.trim().trim_end_matches(';'));
    match kind {
        "table" => s = without_implied_charset(&without_auto_increment(&s)),
        "view" => {
            for noise in ["ALGORITHM=UNDEFINED ", "SQL SECURITY DEFINER "] {
                s = s.replacen(noise, "", 1);
            }
            s = s.replace(&format!("`{}`.", database.replace('`', "``")), "");
        }
        _ => {}
    }
    s
}

/// ` DEFINER=`u`@`h`` (a routine's, a view's, a trigger's, an event's) taken out.
fn without_definer(sql: &str) -> String {
    let Some(at) = sql.find(" DEFINER=") else {
        return sql.to_owned();
    };
    let rest = &sql[at + " DEFINER=".len()..];
    // The user@host ends at the first space outside quotes.
    let mut quote = None;
    let mut end = rest.len();
    for (i, c) in rest.char_indices() {
        match (quote, c) {
            (None, '`' | '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ' ') => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    format!("{}{}", &sql[..at], &rest[end..])
}

/// A column's ` CHARACTER SET cs` before ` COLLATE cs_…` taken out: the collation names the
/// character set, and MySQL shows the pair or the collation alone depending on how the table
/// was created (a table created from the dump would read differently from its original).
fn without_implied_charset(sql: &str) -> String {
    const CS: &str = " CHARACTER SET ";
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find(CS) {
        let after = &rest[at + CS.len()..];
        let cs_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let (cs, tail) = after.split_at(cs_len);
        let implied = tail
            .strip_prefix(" COLLATE ")
            .is_some_and(|c| c.starts_with(&format!("{cs}_")));
        out.push_str(&rest[..at]);
        if implied {
            rest = tail;
        } else {
            out.push_str(CS);
            out.push_str(cs);
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// The table option ` AUTO_INCREMENT=N` (the counter) taken out; a column's `AUTO_INCREMENT`
/// has no `=` and stays.
fn without_auto_increment(sql: &str) -> String {
    let Some(at) = sql.rfind(" AUTO_INCREMENT=") else {
        return sql.to_owned();
    };
    let rest = &sql[at + " AUTO_INCREMENT=".len()..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    format!("{}{}", &sql[..at], &rest[digits..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_changes_between_runs_or_names_the_database_is_taken_out() {
        let t = "CREATE TABLE `t` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB AUTO_INCREMENT=42 DEFAULT CHARSET=utf8mb4";
        assert_eq!(
            normalise("table", t, "app"),
            "CREATE TABLE `t` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        );
        let v = "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`127.0.0.1` SQL SECURITY DEFINER VIEW `v` AS select `app`.`t`.`id` AS `id` from `app`.`t`";
        assert_eq!(
            normalise("view", v, "app"),
            "CREATE VIEW `v` AS select `t`.`id` AS `id` from `t`"
        );
        // MySQL shows `CHARACTER SET utf8mb4 COLLATE utf8mb4_bin` or `COLLATE utf8mb4_bin`
        // for the same column depending on how it was created.
        let c = "CREATE TABLE `l` (\n  `a` varchar(3) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,\n  `b` text CHARACTER SET latin1,\n  `c` char(1) CHARACTER SET latin1 COLLATE utf8mb4_bin\n) DEFAULT CHARSET=utf8mb4";
        assert_eq!(
            normalise("table", c, "app"),
            "CREATE TABLE `l` (\n  `a` varchar(3) COLLATE utf8mb4_bin NOT NULL,\n  `b` text CHARACTER SET latin1,\n  `c` char(1) CHARACTER SET latin1 COLLATE utf8mb4_bin\n) DEFAULT CHARSET=utf8mb4"
        );
        let p = "CREATE DEFINER=`root`@`%` PROCEDURE `p`()\nSELECT 1";
        assert_eq!(
            normalise("procedure", p, "app"),
            "CREATE PROCEDURE `p`()\nSELECT 1"
        );
        let tr =
            "CREATE DEFINER=`a b`@`h` TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.n = 1";
        assert_eq!(
            normalise("trigger", tr, "app"),
            "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.n = 1"
        );
    }
}
