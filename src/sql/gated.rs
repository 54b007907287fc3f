//! Statements a server reads as nothing at all: only comments *to that server*. An executable
//! comment is read by some servers and not others: `/*!50001 … */` by servers of version 5.0.1
//! and later, `/*M! … */` (and `/*M!100100 … */`) by MariaDB only, so `/*M!100616 SET … */;`,
//! a line `mariadb-dump` writes, is a statement to MariaDB and a comment to MySQL. Sent alone
//! it is harmless to either; in a packet with other statements, MySQL answers an empty
//! statement with a syntax error (ERROR 1064 near ''). dbtool sends `DO 0` in its place, so
//! the statement still counts, runs and is recorded.

/// The server a statement goes to: MariaDB or not, and its version as the number executable
/// comments compare with (`10.11.19` is 101119, `9.7.4` is 90704).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reader {
    pub mariadb: bool,
    pub version: u32,
}

impl Reader {
    /// From a `VERSION()` string (`10.11.19-MariaDB-0+deb12u1`, `9.7.4`).
    pub fn of_version(v: &str) -> Reader {
        let mut parts = v
            .split(|c: char| !c.is_ascii_digit())
            .take(3)
            .map(|p| p.parse::<u32>().unwrap_or(0));
        let (a, b, c) = (
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
        );
        Reader {
            mariadb: v.to_ascii_lowercase().contains("mariadb"),
            version: a * 10_000 + b * 100 + c,
        }
    }

    /// Whether `sql` holds nothing this server reads (only whitespace and comments to it).
    pub fn reads_nothing(&self, sql: &str) -> bool {
        let mut s = sql;
        loop {
            s = s.trim_start();
            if s.is_empty() {
                return true;
            }
            let gated = s
                .strip_prefix("/*!")
                .map(|r| (r, false))
                .or_else(|| s.strip_prefix("/*M!").map(|r| (r, true)));
            if let Some((rest, mariadb_only)) = gated {
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                let min: u32 = rest[..digits].parse().unwrap_or(0);
                if (!mariadb_only || self.mariadb) && min <= self.version {
                    return false;
                }
                s = skip_comment(rest);
            } else if let Some(rest) = s.strip_prefix("/*") {
                s = skip_comment(rest);
            } else if s.starts_with('#') || (s.starts_with("--") && dash_comment(s)) {
                s = s.find('\n').map_or("", |e| &s[e + 1..]);
            } else {
                return false;
            }
        }
    }
}

/// The text after the `*/` that ends a comment (none: the rest is the comment).
fn skip_comment(rest: &str) -> &str {
    rest.find("*/").map_or("", |e| &rest[e + 2..])
}

/// `--` starts a comment when a space, a control character or the end follows.
fn dash_comment(s: &str) -> bool {
    s[2..]
        .chars()
        .next()
        .is_none_or(|c| c == ' ' || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_from_version_strings() {
        let m = Reader::of_version("10.11.19-MariaDB-0+deb12u1");
        assert_eq!((m.mariadb, m.version), (true, 101119));
        let y = Reader::of_version("9.7.4");
        assert_eq!((y.mariadb, y.version), (false, 90704));
        assert_eq!(Reader::of_version("8.0.40-0ubuntu0.22.04.1").version, 80040);
    }

    #[test]
    fn what_each_server_reads() {
        let mariadb = Reader::of_version("10.11.19-MariaDB");
        let mysql = Reader::of_version("9.7.4");
        let cases = [
            // (sql, MariaDB reads nothing, MySQL reads nothing)
            ("/*M!100616 SET @a = 1 */", false, true),
            ("/*M! SET @a = 1 */", false, true),
            ("/*M!999999 SET @a = 1 */", true, true),
            ("/*!40101 SET @a = 1 */", false, false),
            ("/*!99999 SET @a = 1 */", false, true),
            ("/*!999999 SET @a = 1 */", true, true),
            ("/*!90800 SET @a = 1 */", false, true),
            ("/* plain */ -- a comment\n# another\n", true, true),
            ("/*M!100100 SET @a = 1 */ SELECT 1", false, false),
            ("SELECT 1", false, false),
            ("--not a comment", false, false),
            ("", true, true),
        ];
        for (sql, on_mariadb, on_mysql) in cases {
            assert_eq!(mariadb.reads_nothing(sql), on_mariadb, "MariaDB: {sql}");
            assert_eq!(mysql.reads_nothing(sql), on_mysql, "MySQL: {sql}");
        }
    }
}
