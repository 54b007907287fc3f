//! The splitter's table of tricky cases and its properties.

use super::*;
use crate::sql::Kind;

/// (body, line) of every statement.
fn split(sql: &str) -> Vec<(String, u64)> {
    statements(sql)
        .unwrap_or_else(|e| panic!("{sql:?}: {e}"))
        .into_iter()
        .map(|s| (s.sql().to_owned(), s.line))
        .collect()
}

pub(super) fn bodies(sql: &str) -> Vec<String> {
    split(sql).into_iter().map(|(b, _)| b).collect()
}

fn err(sql: &str) -> SplitError {
    match statements(sql) {
        Ok(s) => panic!("{sql:?} split into {s:?}, expected an error"),
        Err(e) => e,
    }
}

/// Splits reading one byte at a time (and 2, 3, 7 at a time), to reach every buffer boundary;
/// all must agree.
pub(super) fn pieces_trickled(sql: &str) -> Result<Vec<Piece>, String> {
    let one = Splitter::with_chunk_size(sql.as_bytes(), 1)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string());
    for n in [2, 3, 7] {
        let other = Splitter::with_chunk_size(sql.as_bytes(), n)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string());
        assert_eq!(one, other, "chunk size {n}: {sql:?}");
    }
    one
}

pub(super) fn pieces(sql: &str) -> Result<Vec<Piece>, String> {
    split_str(sql)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}

#[test]
// long-fn: a table of cases, one line each
fn table_of_tricky_cases() {
    let cases: &[(&str, &[&str])] = &[
        ("SELECT 1; SELECT 2;", &["SELECT 1", "SELECT 2"]),
        // the delimiter inside each quote kind and inside comments
        ("SELECT ';'; SELECT 2", &["SELECT ';'", "SELECT 2"]),
        (r#"SELECT ";"; SELECT 2"#, &[r#"SELECT ";""#, "SELECT 2"]),
        (
            "SELECT 1 AS `a;b`; SELECT 2",
            &["SELECT 1 AS `a;b`", "SELECT 2"],
        ),
        (
            "SELECT 1 /* ; */; SELECT 2",
            &["SELECT 1 /* ; */", "SELECT 2"],
        ),
        ("SELECT 1 -- ;\n; SELECT 2", &["SELECT 1 -- ;", "SELECT 2"]),
        ("SELECT 1 # ;\n; SELECT 2", &["SELECT 1 # ;", "SELECT 2"]),
        // `-- ` is a comment, `--x` is not (it is minus minus x)
        ("SELECT 1 --x;\nSELECT 2", &["SELECT 1 --x", "SELECT 2"]),
        ("SELECT 1 --\t;\n;", &["SELECT 1 --\t;"]),
        ("SELECT 1 --\n;", &["SELECT 1 --"]),
        ("SELECT 5--3;", &["SELECT 5--3"]),
        // escaped quotes
        (
            "SELECT 'it''s;'; SELECT 2",
            &["SELECT 'it''s;'", "SELECT 2"],
        ),
        (
            r"SELECT 'a\'b;'; SELECT 2",
            &[r"SELECT 'a\'b;'", "SELECT 2"],
        ),
        (
            r#"SELECT "a\"b;"; SELECT 2"#,
            &[r#"SELECT "a\"b;""#, "SELECT 2"],
        ),
        (r"SELECT 'a\\'; SELECT 2", &[r"SELECT 'a\\'", "SELECT 2"]),
        ("SELECT `a``;b`; SELECT 2", &["SELECT `a``;b`", "SELECT 2"]),
        (r"SELECT `a\`; SELECT 2", &[r"SELECT `a\`", "SELECT 2"]),
        // executable comments are statements, and are kept
        (
            "/*!40101 SET NAMES utf8mb4 */;\n/*!40014 SET FOREIGN_KEY_CHECKS=0 */;",
            &[
                "/*!40101 SET NAMES utf8mb4 */",
                "/*!40014 SET FOREIGN_KEY_CHECKS=0 */",
            ],
        ),
        ("/*M!100100 SET a=1 */;", &["/*M!100100 SET a=1 */"]),
        (
            "SELECT /*+ MAX_EXECUTION_TIME(1) */ 1;",
            &["SELECT /*+ MAX_EXECUTION_TIME(1) */ 1"],
        ),
        // a statement without a trailing delimiter at end of file
        ("SELECT 1;\nSELECT 2", &["SELECT 1", "SELECT 2"]),
        ("SELECT 1;\nSELECT 2\n\n", &["SELECT 1", "SELECT 2"]),
        // CRLF input
        ("SELECT 1;\r\nSELECT 2;\r\n", &["SELECT 1", "SELECT 2"]),
        // CRLF inside a statement (even in a string) reaches the server as LF, as with the client
        (
            "INSERT INTO t VALUES ('a\r\nb');\r\n",
            &["INSERT INTO t VALUES ('a\nb')"],
        ),
        ("SELECT 1 -- c\r\n;\r\n", &["SELECT 1 -- c"]),
        // empty and comment-only
        ("", &[]),
        ("\n\n  \t\n", &[]),
        ("-- only a comment\n# another\n/* and a block */\n", &[]),
        (";;;", &[]),
        ("-- c\n;\nSELECT 1;", &["SELECT 1"]),
        // comments before a statement are not part of its body
        (
            "-- about t\n/* more */\nCREATE TABLE t (a INT);",
            &["CREATE TABLE t (a INT)"],
        ),
        // a byte order mark is not text
        ("\u{feff}SELECT 1;", &["SELECT 1"]),
        // `/*/` does not close a comment; `*/` alone is text
        (
            "SELECT 1 /*/ ; */; SELECT 2",
            &["SELECT 1 /*/ ; */", "SELECT 2"],
        ),
        // quotes inside comments and comments inside quotes do not count
        (
            "SELECT 1 /* ' */; SELECT '/*'; SELECT 3",
            &["SELECT 1 /* ' */", "SELECT '/*'", "SELECT 3"],
        ),
        ("SELECT '-- x;'; SELECT 2", &["SELECT '-- x;'", "SELECT 2"]),
        ("SELECT 1 # '\n; SELECT 2", &["SELECT 1 # '", "SELECT 2"]),
        // multi-byte text
        (
            "INSERT INTO t VALUES ('café; ☕');",
            &["INSERT INTO t VALUES ('café; ☕')"],
        ),
    ];
    for (sql, want) in cases {
        let got = bodies(sql);
        assert_eq!(got, *want, "input: {sql:?}");
        assert_eq!(
            pieces_trickled(sql),
            pieces(sql),
            "one byte at a time: {sql:?}"
        );
    }
}

/// Cases where the splitter used to disagree with the `mariadb` client (found by the
/// differential test `tests/split_differential.rs`).
#[test]
fn regressions_from_the_client_differential() {
    let cases: &[(&str, &[&str])] = &[
        // An optimizer hint is scanned as a comment: neither the delimiter nor a quote inside it
        // counts (it used to split here, or fail with "unterminated string").
        (
            "SELECT /*+ BKA(t) ; ' */ 1;\nSELECT 2;",
            &["SELECT /*+ BKA(t) ; ' */ 1", "SELECT 2"],
        ),
        (
            "DELIMITER $$\nSELECT /*+ $$ */ 1$$\nDELIMITER ;\nSELECT 2;",
            &["SELECT /*+ $$ */ 1", "SELECT 2"],
        ),
        ("/*+ hint */ SELECT 1;", &["SELECT 1"]),
        // Where a statement starts, `--` is a comment even without whitespace after it.
        (
            "------------------------------\n-- Users\n----\nCREATE TABLE u (a INT);\n",
            &["CREATE TABLE u (a INT)"],
        ),
        ("SELECT 1;\n  --x ; y\nSELECT 2;", &["SELECT 1", "SELECT 2"]),
        ("SELECT 1; --x\nSELECT 2", &["SELECT 1", "SELECT 2"]),
        ("/* c */--x;\nSELECT 1;", &["SELECT 1"]),
        ("SELECT 1;\r\n--\r\n--x\r\n", &["SELECT 1"]),
        // ... but inside a statement `--x` is still minus minus x.
        ("SELECT 1\n--x\n;", &["SELECT 1\n--x"]),
        ("DELIMITER $$\n--x\nSELECT 1--2$$", &["SELECT 1--2"]),
        // A vertical tab is whitespace at the end of a statement too, as at its start.
        ("\x0bSELECT 1\x0b\x0c;", &["SELECT 1"]),
    ];
    for (sql, want) in cases {
        assert_eq!(bodies(sql), *want, "input: {sql:?}");
        assert_eq!(pieces_trickled(sql), pieces(sql), "trickled: {sql:?}");
    }
}

#[test]
fn delimiter_with_trigger_and_procedure() {
    let sql = "\
CREATE TABLE t (a INT);

DELIMITER $$
CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW
BEGIN
  SET NEW.a = NEW.a + 1;
  IF NEW.a > 10 THEN SET NEW.a = 10; END IF;
END$$

CREATE PROCEDURE p(IN x INT)
BEGIN
  DECLARE s VARCHAR(10) DEFAULT ';$';
  INSERT INTO t VALUES (x);
  SELECT 'done; $$ not yet';
END $$
DELIMITER ;

INSERT INTO t VALUES (1);
";
    let got = split(sql);
    assert_eq!(got.len(), 4, "{got:#?}");
    assert_eq!(got[0], ("CREATE TABLE t (a INT)".into(), 1));
    assert!(got[1].0.starts_with("CREATE TRIGGER t_bi"));
    assert!(got[1].0.ends_with("END IF;\nEND"));
    assert_eq!(got[1].1, 4);
    assert!(got[2].0.starts_with("CREATE PROCEDURE p"));
    assert!(got[2].0.ends_with("SELECT 'done; $$ not yet';\nEND"));
    assert_eq!(got[2].1, 10);
    assert_eq!(got[3], ("INSERT INTO t VALUES (1)".into(), 18));

    let stmts = statements(sql).unwrap();
    assert!(stmts[0].default_delimiter);
    assert!(!stmts[1].default_delimiter);
    assert!(!stmts[2].default_delimiter);
    assert!(stmts[3].default_delimiter);
    assert_eq!(
        stmts.iter().map(|s| s.number).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
}

#[test]
fn delimiter_forms() {
    for d in ["$$", "//", ";;", "|", "GO"] {
        let sql =
            format!("DELIMITER {d}\nSELECT 1; SELECT 2{d}\nSELECT 3{d}\ndelimiter ;\nSELECT 4;");
        assert_eq!(
            bodies(&sql),
            ["SELECT 1; SELECT 2", "SELECT 3", "SELECT 4"],
            "delimiter {d}"
        );
    }
    // quoted delimiter arguments, trailing text and CRLF
    assert_eq!(bodies("DELIMITER '$$'\r\nSELECT 1$$"), ["SELECT 1"]);
    assert_eq!(bodies("  delimiter //  \nSELECT 1//"), ["SELECT 1"]);
    // not a directive: inside a statement, or a longer word
    assert_eq!(bodies("SELECT 1\nDELIMITER $$"), ["SELECT 1\nDELIMITER $$"]);
    assert_eq!(bodies("DELIMITERS;"), ["DELIMITERS"]);
}

#[test]
fn delimiter_errors_and_leftovers() {
    assert!(matches!(
        err("SELECT 1;\nDELIMITER\nSELECT 2;"),
        SplitError::DelimiterMissing { line: 2 }
    ));
    assert!(matches!(
        err("DELIMITER \\\\\n"),
        SplitError::DelimiterBackslash { line: 1 }
    ));
    let mut s = split_str("SELECT 1;\nDELIMITER $$\nCREATE PROCEDURE p() BEGIN END$$\n");
    assert_eq!(
        s.by_ref()
            .filter(|p| matches!(p, Ok(Piece::Statement(_))))
            .count(),
        2
    );
    assert_eq!(s.changed_delimiter(), Some(&(2, "$$".to_string())));
    let mut s = split_str("DELIMITER $$\nSELECT 1$$\nDELIMITER ;\n");
    s.by_ref().for_each(drop);
    assert_eq!(s.changed_delimiter(), None);
}

#[test]
fn unterminated_quotes_and_comments_name_their_opening_line() {
    let cases: &[(&str, u64, &str)] = &[
        ("SELECT 1;\nSELECT 'abc;\nmore", 2, "string `'`"),
        ("SELECT \"x", 1, "string `\"`"),
        ("\n\nSELECT `x", 3, "identifier"),
        ("SELECT 1;\n/* never\nclosed", 2, "comment `/*`"),
        ("SELECT 1 /* x", 1, "comment `/*`"),
        ("SELECT 1;\n\n/*!40101 SET a=1", 3, "comment `/*!`"),
        ("SELECT 'a\\", 1, "string"),
    ];
    for (sql, line, what) in cases {
        match err(sql) {
            SplitError::Unterminated { what: w, line: l } => {
                assert_eq!(l, *line, "{sql:?}");
                assert!(w.contains(what), "{sql:?}: {w}");
            }
            e => panic!("{sql:?}: {e}"),
        }
        assert!(pieces_trickled(sql).is_err());
    }
}

#[test]
fn line_numbers() {
    let sql = "-- header\n\nCREATE TABLE a (x INT);\nCREATE TABLE b (\n  y INT\n);\r\n\r\n  INSERT INTO a VALUES (1); INSERT INTO a VALUES (2);\nSELECT\n'multi\nline';\nSELECT 9";
    let lines: Vec<u64> = split(sql).into_iter().map(|(_, l)| l).collect();
    assert_eq!(lines, [3, 4, 8, 8, 9, 12]);
}

#[test]
fn invalid_utf8_gives_the_byte_offset() {
    let mut bytes = b"SELECT 1;\nSELECT '".to_vec();
    bytes.push(0xFF);
    bytes.extend_from_slice(b"';");
    let e = Splitter::new(&bytes[..])
        .collect::<Result<Vec<_>, _>>()
        .unwrap_err();
    assert!(matches!(e, SplitError::InvalidUtf8 { offset: 18 }), "{e}");
}

#[test]
fn statement_kinds_are_attached() {
    let s = statements("CREATE TABLE t (a INT); INSERT INTO t VALUES (1); CALL p()").unwrap();
    let kinds: Vec<Kind> = s.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, [Kind::ImplicitCommit, Kind::Write, Kind::Other]);
}

#[test]
fn long_inputs_stream_across_reads() {
    // Many statements and one long string that spans several reads.
    let mut sql = String::new();
    for i in 0..5000 {
        sql.push_str(&format!("INSERT INTO t VALUES ({i}, 'name; {i}');\n"));
    }
    let long = "x".repeat(3 * CHUNK + 17);
    sql.push_str(&format!("SELECT '{long}';\n-- tail"));
    let got = split(&sql);
    assert_eq!(got.len(), 5001);
    assert_eq!(
        got[4999],
        ("INSERT INTO t VALUES (4999, 'name; 4999')".into(), 5000)
    );
    assert_eq!(got[5000].1, 5001);
    assert_eq!(got[5000].0.len(), long.len() + 9);
}

#[test]
fn long_runs_of_comments_are_not_held() {
    let comment =
        "-- a comment line that is long enough to add up quickly ........................\n";
    let mut sql = comment.repeat(10_000); // ~850 KB of comments
    sql.push_str("SELECT 1;\n");
    let pieces = pieces(&sql).unwrap();
    let biggest = pieces.iter().map(|p| p.raw().len()).max().unwrap();
    assert!(biggest < 2 * TRIVIA_FLUSH, "a piece of {biggest} bytes");
    let stmts: Vec<_> = pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Statement(s) => Some((s.sql().to_owned(), s.line)),
            _ => None,
        })
        .collect();
    assert_eq!(stmts, [("SELECT 1".to_owned(), 10_001)]);
    assert_eq!(pieces.iter().map(Piece::raw).collect::<String>(), sql);
}
