//! What a statement does to a transaction, read from its first keywords.
//!
//! MySQL commits implicitly before (and after) the statements listed in the manual under
//! "Statements That Cause an Implicit Commit" (13.3.3 in 8.0; MariaDB's list is the same with
//! sequences and packages added). A migration made only of transactional statements can run in
//! one transaction with its ledger row; any other runs statement by statement (SPEC §7).
//!
//! The classification errs on the safe side: a statement not known to be transactional (`CALL`,
//! whose procedure may run DDL; `CREATE TEMPORARY TABLE`, which cannot be rolled back) is
//! [`Kind::Other`], which makes its migration non-atomic but never makes a seed warn.

use serde::Serialize;

/// How a statement behaves inside a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// INSERT, REPLACE, UPDATE or DELETE without `RETURNING`: transactional, answers with one
    /// OK packet and no rows, so runs of them can be sent as one multi-statement packet.
    Write,
    /// Runs inside a transaction and is undone by ROLLBACK, or reads only (SELECT, SET, DO, …).
    Transactional,
    /// Commits the open transaction implicitly: DDL, TRUNCATE, LOCK TABLES, GRANT, BEGIN, …
    ImplicitCommit,
    /// Neither known to be transactional nor to commit (CALL, CREATE TEMPORARY TABLE, …).
    Other,
}

impl Kind {
    /// Whether a transaction that contains this statement can still be rolled back whole.
    pub fn is_transactional(self) -> bool {
        matches!(self, Kind::Write | Kind::Transactional)
    }
}

/// Classifies one statement body (as yielded by the splitter).
pub fn classify(sql: &str) -> Kind {
    let mut words = Words::new(sql);
    let Some(first) = words.next() else {
        return Kind::Other;
    };
    let first = first.to_ascii_uppercase();
    let mut second = || {
        words
            .next()
            .map(|w| w.to_ascii_uppercase())
            .unwrap_or_default()
    };
    match first.as_str() {
        "INSERT" | "REPLACE" | "UPDATE" | "DELETE" => {
            if contains_word(sql, "RETURNING") {
                Kind::Transactional
            } else {
                Kind::Write
            }
        }
        "SELECT" | "WITH" | "VALUES" | "TABLE" | "DO" | "SAVEPOINT" | "RELEASE" | "HANDLER"
        | "USE" | "SHOW" | "DESCRIBE" | "DESC" | "EXPLAIN" | "HELP" | "LOAD" => {
            if first == "LOAD" && second() == "INDEX" {
                Kind::ImplicitCommit
            } else {
                Kind::Transactional
            }
        }
        "SET" if second() == "STATEMENT" => match statement_of_set_statement(sql) {
            // MariaDB's `SET STATEMENT var = value FOR <statement>` does what its statement does.
            Some(inner) => classify(inner),
            None => Kind::Other,
        },
        "SET" => {
            // `SET @@autocommit` is the variable itself; `SET @autocommit` a user variable.
            let rest = sql.to_ascii_uppercase().replace("@@", " ");
            if contains_word(&rest, "AUTOCOMMIT") || contains_word(&rest, "PASSWORD") {
                Kind::ImplicitCommit
            } else {
                Kind::Transactional
            }
        }
        "CREATE" | "DROP" => match second().as_str() {
            "TEMPORARY" => Kind::Other,
            _ => Kind::ImplicitCommit,
        },
        "ROLLBACK" => match second().as_str() {
            "TO" => Kind::Transactional,
            _ => Kind::ImplicitCommit,
        },
        "BEGIN" => match second().as_str() {
            "NOT" => Kind::Other, // MariaDB's anonymous block: BEGIN NOT ATOMIC … END
            _ => Kind::ImplicitCommit,
        },
        "START" => match second().as_str() {
            "TRANSACTION" | "SLAVE" | "REPLICA" | "GROUP_REPLICATION" => Kind::ImplicitCommit,
            _ => Kind::Other,
        },
        "ALTER" | "RENAME" | "TRUNCATE" | "GRANT" | "REVOKE" | "LOCK" | "UNLOCK" | "COMMIT"
        | "ANALYZE" | "CACHE" | "CHECK" | "CHECKSUM" | "FLUSH" | "OPTIMIZE" | "REPAIR"
        | "RESET" | "INSTALL" | "UNINSTALL" | "CHANGE" | "STOP" | "XA" | "PURGE" => {
            Kind::ImplicitCommit
        }
        _ => Kind::Other,
    }
}

/// The statement after the top-level `FOR` of `SET STATEMENT … FOR <statement>` (outside
/// quotes and parentheses).
fn statement_of_set_statement(sql: &str) -> Option<&str> {
    let b = sql.as_bytes();
    let (mut i, mut depth) = (0, 0i32);
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == b'\\' && q != b'`' { 2 } else { 1 };
                }
            }
            b'(' => depth += 1,
            b')' => depth -= 1,
            b'f' | b'F'
                if depth == 0
                    && b.get(i..i + 3)
                        .is_some_and(|w| w.eq_ignore_ascii_case(b"FOR"))
                    && (i == 0 || !is_word_byte(b[i - 1]))
                    && b.get(i + 3).is_none_or(|&c| !is_word_byte(c)) =>
            {
                return Some(&sql[i + 3..]);
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The table an INSERT, REPLACE, UPDATE or DELETE writes to (its first table), unquoted.
pub fn write_target(sql: &str) -> Option<String> {
    let mut words = Words::new(sql);
    let first = words.next()?.to_ascii_uppercase();
    let marker = match first.as_str() {
        "INSERT" | "REPLACE" => "INTO",
        "DELETE" => "FROM",
        "UPDATE" => "",
        _ => return None,
    };
    // Skip modifiers (LOW_PRIORITY, IGNORE, …) up to the marker, then take the name.
    let rest = words.rest.trim_start();
    let rest = if marker.is_empty() {
        skip_modifiers(rest)
    } else {
        let upper = rest.to_ascii_uppercase();
        let at = upper.find(marker)?;
        rest[at + marker.len()..].trim_start()
    };
    // `db`.`t` or db.t names the table t.
    let (mut name, mut rest) = identifier(rest)?;
    while let Some(after) = rest.strip_prefix('.') {
        (name, rest) = identifier(after)?;
    }
    (!name.is_empty()).then_some(name)
}

/// One identifier at the start of `s` (backquoted or bare), and what follows it.
fn identifier(s: &str) -> Option<(String, &str)> {
    if let Some(r) = s.strip_prefix('`') {
        let end = r.find('`')?;
        Some((r[..end].to_owned(), &r[end + 1..]))
    } else {
        let end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
            .unwrap_or(s.len());
        Some((s[..end].to_owned(), &s[end..]))
    }
}

fn skip_modifiers(mut s: &str) -> &str {
    loop {
        let word: String = s
            .chars()
            .take_while(|c| c.is_ascii_alphabetic() || *c == '_')
            .collect();
        if matches!(
            word.to_ascii_uppercase().as_str(),
            "LOW_PRIORITY" | "IGNORE"
        ) {
            s = s[word.len()..].trim_start();
        } else {
            return s;
        }
    }
}

/// Whether the statement may answer with more than one result (a procedure's result sets and
/// its final OK), so results cannot be counted one per statement.
pub fn several_results(sql: &str) -> bool {
    Words::new(sql)
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("CALL") || w.eq_ignore_ascii_case("EXECUTE"))
}

/// Whether `word` occurs in `sql` as a whole word (ASCII case-insensitive). A quoted or
/// commented occurrence also counts: callers only use this to be more careful.
fn contains_word(sql: &str, word: &str) -> bool {
    let hay = sql.as_bytes();
    let w = word.as_bytes();
    let Some(&first) = w.first() else {
        return false;
    };
    // Only positions holding the first letter (either case) are compared: statements of
    // seeds run to megabytes, and this runs for each of them.
    memchr::memchr2_iter(first.to_ascii_uppercase(), first.to_ascii_lowercase(), hay).any(|i| {
        hay.get(i..i + w.len())
            .is_some_and(|c| c.eq_ignore_ascii_case(w))
            && (i == 0 || !is_word_byte(hay[i - 1]))
            && hay.get(i + w.len()).is_none_or(|&b| !is_word_byte(b))
    })
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'@'
}

/// The leading keywords of a statement, skipping whitespace, comments and the markers of
/// executable comments (`/*!50003 CREATE*/ /*!50017 DEFINER=…*/ TRIGGER` reads as
/// `CREATE DEFINER … TRIGGER`).
struct Words<'a> {
    rest: &'a str,
}

impl<'a> Words<'a> {
    fn new(sql: &'a str) -> Self {
        Words { rest: sql }
    }

    fn skip_noise(&mut self) {
        loop {
            let s = self.rest.trim_start();
            if let Some(r) = s.strip_prefix("/*!").or_else(|| s.strip_prefix("/*M!")) {
                self.rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
            } else if let Some(r) = s.strip_prefix("*/") {
                self.rest = r;
            } else if let Some(r) = s.strip_prefix("/*") {
                self.rest = r.find("*/").map_or("", |e| &r[e + 2..]);
            } else if s.starts_with('#') || s.starts_with("-- ") || s.starts_with("--\t") {
                self.rest = s.find('\n').map_or("", |e| &s[e + 1..]);
            } else {
                self.rest = s;
                return;
            }
        }
    }
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        self.skip_noise();
        let end = self
            .rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.rest.len());
        if end == 0 {
            return None;
        }
        let (word, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_manuals_lists() {
        let cases = [
            ("INSERT INTO t VALUES (1)", Kind::Write),
            ("replace into t values (1)", Kind::Write),
            ("UPDATE t SET a = 1", Kind::Write),
            ("DELETE FROM t", Kind::Write),
            ("DELETE FROM t RETURNING id", Kind::Transactional),
            ("SELECT 1", Kind::Transactional),
            ("SET @a = 1", Kind::Transactional),
            ("SET NAMES utf8mb4", Kind::Transactional),
            ("SET autocommit = 1", Kind::ImplicitCommit),
            ("SET @@autocommit = 0", Kind::ImplicitCommit),
            ("SET @autocommit = 0", Kind::Transactional),
            ("SET PASSWORD = 'x'", Kind::ImplicitCommit),
            (
                "SET STATEMENT max_statement_time=10 FOR TRUNCATE TABLE t2",
                Kind::ImplicitCommit,
            ),
            (
                "set statement max_statement_time = 5 for alter table t add b int",
                Kind::ImplicitCommit,
            ),
            (
                "SET STATEMENT sql_mode='STRICT_ALL_TABLES,NO_FORMAT' FOR INSERT INTO t VALUES (1)",
                Kind::Write,
            ),
            (
                "SET STATEMENT optimizer_switch='for=x' FOR SELECT 1",
                Kind::Transactional,
            ),
            ("SET STATEMENT x=1", Kind::Other),
            ("CREATE TABLE t (a INT)", Kind::ImplicitCommit),
            ("create temporary table t (a int)", Kind::Other),
            ("DROP TEMPORARY TABLE t", Kind::Other),
            ("ALTER TABLE t ADD b INT", Kind::ImplicitCommit),
            ("TRUNCATE TABLE t", Kind::ImplicitCommit),
            ("LOCK TABLES t WRITE", Kind::ImplicitCommit),
            ("UNLOCK TABLES", Kind::ImplicitCommit),
            ("GRANT SELECT ON *.* TO u", Kind::ImplicitCommit),
            ("RENAME TABLE a TO b", Kind::ImplicitCommit),
            ("BEGIN", Kind::ImplicitCommit),
            ("BEGIN NOT ATOMIC SELECT 1; END", Kind::Other),
            ("START TRANSACTION", Kind::ImplicitCommit),
            ("COMMIT", Kind::ImplicitCommit),
            ("ROLLBACK", Kind::ImplicitCommit),
            ("ROLLBACK TO SAVEPOINT a", Kind::Transactional),
            ("LOAD INDEX INTO CACHE t", Kind::ImplicitCommit),
            ("LOAD DATA INFILE 'x' INTO TABLE t", Kind::Transactional),
            ("CALL p()", Kind::Other),
            ("OPTIMIZE TABLE t", Kind::ImplicitCommit),
            ("/*!40101 SET NAMES utf8 */", Kind::Transactional),
            (
                "/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`%`*/ /*!50003 TRIGGER x */",
                Kind::ImplicitCommit,
            ),
            ("-- note\nCREATE TABLE t (a INT)", Kind::ImplicitCommit),
            ("/* note */ INSERT INTO t VALUES (1)", Kind::Write),
            ("", Kind::Other),
        ];
        for (sql, want) in cases {
            assert_eq!(classify(sql), want, "{sql}");
        }
    }

    #[test]
    fn write_targets() {
        for (sql, want) in [
            ("INSERT INTO t VALUES (1)", Some("t")),
            ("insert ignore into `my t` (a) values (1)", Some("my t")),
            ("REPLACE db.t2 VALUES (1)", None),
            ("REPLACE INTO db.t2 VALUES (1)", Some("t2")),
            ("UPDATE LOW_PRIORITY t3 SET a = 1", Some("t3")),
            ("DELETE QUICK FROM `d`.`t4` WHERE 1", Some("t4")),
            ("SELECT 1", None),
        ] {
            assert_eq!(write_target(sql).as_deref(), want, "{sql}");
        }
    }

    #[test]
    fn whole_words_only() {
        assert!(!contains_word(
            "INSERT INTO returning_things VALUES (1)",
            "RETURNING"
        ));
        assert!(contains_word(
            "insert into t values (1) returning id",
            "RETURNING"
        ));
        assert!(!contains_word("SET @autocommit_x = 1", "AUTOCOMMIT"));
    }
}
