//! Differential test of dbtool's statement splitter against the real command-line client
//! (SPEC §2: "the reference for splitting is the client itself"): MariaDB's `mariadb` client,
//! or Oracle's `mysql` client through `DBTOOL_TEST_CLIENT`. docs/SPLITTING.md tells how to run
//! it against each and lists where the two clients disagree.
//!
//! Every file — the hand-written fixtures in `tests/fixtures/split/` and a few hundred files
//! generated from the same building blocks with a fixed seed — is piped through
//! `<client> -vvv --force --batch <scratch_db>`, which echoes every statement it sends between
//! lines of 14 dashes. The echoed statements are compared, in order, with the
//! `Piece::Statement`s of `dbtool::sql::split::Splitter`.
//!
//! Each file is checked in two passes:
//!
//! 1. **`--comments`**: the client keeps comments, so the echo is dbtool's statement text almost
//!    byte for byte, comments inside statements included. The few ways in which `--comments`
//!    changes what the client sends are normalised below, each with its reason.
//! 2. **default mode** (`--skip-comments`, the `mariadb` client's default, the way scripts are
//!    normally run with it; the `mysql` 9.7 client defaults to `--comments`, so the flag is
//!    always given): the number of statements must match; a statement without a comment marker
//!    (`--`, `#`, `/*`) must match byte for byte, one with a comment loosely (the client strips
//!    comments; normalisation 7).
//!
//! The files under `tests/fixtures/split/default_mode_only/` (and a family of generated ones)
//! exercise the places where `--comments` changes how the client *splits* — a `DELIMITER` line
//! after a whitespace-only line or a block comment (`mariadb` then does not see it), an
//! indented `--x` line — and are checked in default mode only, with both clients.
//!
//! Normalisations (numbered in the code, each with its reason): 1 CRLF -> LF; 2 surrounding
//! whitespace; 3 comments before a statement; 4 echoes made only of comments; 5 a line comment
//! after the delimiter, on its line; 6 the space the client adds after a comment's `*/`; 7 the
//! loose comparison of a statement with comments in default mode; for the `mysql` client only,
//! 8 the `--x` lines and optimizer hints it keeps before a statement in default mode, 9 the
//! statements made only of a `/*M! … */` comment, which it strips in default mode.
//!
//! Where the two clients split a script differently, dbtool follows `mariadb`: the fixtures
//! that exercise such a place are listed in `MARIADB_ONLY` and run against `mariadb` only. The
//! generated files run in full against both clients; the only such place the generator
//! reaches, a `--x` line right before a `DELIMITER` line, it writes `-- x` in the files for
//! `mysql` (`dash_comment_spaced`), which are otherwise the same files.
//!
//! Deliberate differences, checked by hand against `mariadb` 10.11 and `mysql` 9.7 (the corpus
//! avoids them):
//! - client commands: a backslash outside a string (`\g`, `\G`, `\c`, `\d`, `\-`, … except
//!   `\N`) and a statement starting with a client command word (`use`, `source`, `help`,
//!   `status`, `charset`, `system`, `tee`, `prompt`, `connect`, `exit`, `quit`, `go`, `ego`,
//!   `print`, `clear`, `rehash`, `edit`, `pager`, `nopager`, `notee`, `warnings`, `nowarning`,
//!   `?`) are run by `mariadb`; dbtool sends them to the server as SQL, and so does `mysql` 9.7
//!   by default (`--commands` is off; it still runs `DELIMITER` and `\C`);
//! - the client follows the session's `sql_mode` (`NO_BACKSLASH_ESCAPES`, `ANSI_QUOTES`) while it
//!   reads; dbtool always splits with the default quoting rules (the scratch session pins
//!   `sql_mode` so the client does too);
//! - `DELIMITER` on the same line as a statement (`SELECT 1; DELIMITER $$`) is text to dbtool;
//!   the client runs it as a command, then loses the following statement;
//! - `DELIMITER` after a block comment on its line (`/* c */ DELIMITER $$`) is text to dbtool,
//!   as to `mariadb --comments`; without --comments both clients lose statements after it, and
//!   `mysql --comments` runs it as a command;
//! - an unterminated quote or comment at end of file: the client sends what it has, dbtool
//!   refuses the file with the line where it opens;
//! - a plain comment nested in an executable one (`/*!50001 /* x */ ; */`): the client loses
//!   track (with --comments it ignores the `;`, without it drops everything up to the outer
//!   `*/`); dbtool ends the inner comment at its `*/` and the statement at the `;`;
//! - an executable comment closed right before a delimiter that starts with `/`
//!   (`/*!40101 x *///` under `DELIMITER //`): the client takes the `/` of `*/` as the start of
//!   the delimiter and sends `… *`; dbtool sends the whole comment;
//! - `DELIMITER $$<TAB>x` (the client ends an unquoted argument at a space only) and quoted
//!   arguments with spaces (`DELIMITER 'a b'`);
//! - `--` followed by a control character other than whitespace: a comment to dbtool (and the
//!   server), not to the client;
//! - a line break inside a string literal of a CRLF file: the client sends LF, dbtool sends the
//!   file's CRLF (normalisation 1 hides it; the other line breaks do not matter to the server).
//!
//! Client: `DBTOOL_TEST_CLIENT`, a command prefix split on whitespace (e.g. `chroot
//! /var/cache/dbtool/mysql-root /usr/bin/mysql`); unset, `mariadb` or else `mysql` from PATH.
//! Its `--version` tells which client it is. Connection: `DBTOOL_TEST_URL` (default
//! `mysql://root@127.0.0.1:3306`). Every worker creates its own scratch database
//! `dbtool_split_<pid>_<n>` and drops it when done, even on failure. A missing client or an
//! unreachable server fails the test: it never skips.

#![allow(unreachable_pub)] // a test crate: nothing in it is reachable from outside

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use dbtool::sql::split::{Piece, Splitter};

/// The line the client prints before and after each statement it echoes.
const DASHES: &str = "--------------";

/// `sql_mode` of the scratch sessions. It pins the modes that change how the client reads a
/// script (`NO_BACKSLASH_ESCAPES`, `ANSI_QUOTES` — dbtool knows neither) whatever the server's
/// global setting; the value is valid on MariaDB and on MySQL 8 and 9.
const SQL_MODE: &str = "STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION";

// ------------------------------------------------------------------------------------------
// The client and the server
// ------------------------------------------------------------------------------------------

/// Whose command-line client it is: they read scripts differently in a few places (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavour {
    /// MariaDB's `mariadb` (or its `mysql` symlink): the client dbtool follows.
    MariaDb,
    /// Oracle's `mysql`.
    MySql,
}

/// How to reach the server with the command-line client.
struct Client {
    /// The command that runs the client: the program and the arguments that come before its
    /// options (`DBTOOL_TEST_CLIENT`, e.g. `chroot /var/cache/dbtool/mysql-root /usr/bin/mysql`),
    /// or just `mariadb` / `mysql` found on PATH.
    prefix: Vec<String>,
    /// The prefix as one string, for messages.
    program: String,
    version: String,
    host: String,
    port: u16,
    user: String,
    password: Option<String>,
    /// The URL with the password hidden, for messages.
    shown_url: String,
}

/// `<prefix> --version`, when it runs and succeeds.
fn client_version(prefix: &[String]) -> Option<String> {
    let out = Command::new(&prefix[0])
        .args(&prefix[1..])
        .arg("--version")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

impl Client {
    /// Finds the client (`DBTOOL_TEST_CLIENT`, else `mariadb` or `mysql` on PATH) and reads
    /// `DBTOOL_TEST_URL`. Panics (never skips) when there is none.
    fn from_env() -> Client {
        let raw = std::env::var("DBTOOL_TEST_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned());
        let url = url::Url::parse(&raw)
            .unwrap_or_else(|e| panic!("DBTOOL_TEST_URL={raw:?} is not a URL: {e}"));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let user = match url.username() {
            "" => "root".to_owned(),
            u => decode(u),
        };
        let password = url.password().map(decode);
        let mut shown = url.clone();
        if password.is_some() {
            let _ = shown.set_password(Some("***"));
        }
        let (prefix, version) = match std::env::var("DBTOOL_TEST_CLIENT") {
            Ok(given) => {
                let prefix: Vec<String> = given.split_whitespace().map(str::to_owned).collect();
                assert!(
                    !prefix.is_empty(),
                    "DBTOOL_TEST_CLIENT is set but empty: give the command that runs the client, \
                     e.g. `chroot /var/cache/dbtool/mysql-root /usr/bin/mysql`, or unset it"
                );
                let version = client_version(&prefix).unwrap_or_else(|| {
                    panic!(
                        "DBTOOL_TEST_CLIENT={given:?}: `{} --version` does not run",
                        prefix.join(" ")
                    )
                });
                (prefix, version)
            }
            Err(_) => ["mariadb", "mysql"]
                .iter()
                .find_map(|p| {
                    let prefix = vec![p.to_string()];
                    client_version(&prefix).map(|v| (prefix, v))
                })
                .unwrap_or_else(|| {
                    panic!(
                        "neither `mariadb` nor `mysql` is on PATH: the splitter's differential \
                         test needs the command-line client (e.g. `apt-get install \
                         mariadb-client`, or set DBTOOL_TEST_CLIENT)"
                    )
                }),
        };
        Client {
            program: prefix.join(" "),
            prefix,
            version,
            host: url.host_str().unwrap_or("127.0.0.1").to_owned(),
            port: url.port().unwrap_or(3306),
            user,
            password,
            shown_url: shown.to_string(),
        }
    }

    /// Whose client this is, from its `--version`.
    fn flavour(&self) -> Flavour {
        if self.version.contains("MariaDB") {
            Flavour::MariaDb
        } else {
            Flavour::MySql
        }
    }

    /// The client with the connection options and nothing from option files.
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.prefix[0]);
        // `--no-defaults` must come first, right after the program; a `~/.my.cnf` with
        // `comments` or `safe-updates` would change what is being tested.
        cmd.args(&self.prefix[1..])
            .arg("--no-defaults")
            .arg("--protocol=TCP")
            .arg(format!("--host={}", self.host))
            .arg(format!("--port={}", self.port))
            .arg(format!("--user={}", self.user))
            .arg("--default-character-set=utf8mb4");
        // The password goes through the environment, not the command line.
        match &self.password {
            Some(p) => cmd.env("MYSQL_PWD", p),
            None => cmd.env_remove("MYSQL_PWD"),
        };
        cmd
    }

    /// Runs one administrative statement (`-e`).
    fn execute(&self, sql: &str) -> Result<(), String> {
        let out = self
            .command()
            .arg("--batch")
            .arg("-e")
            .arg(sql)
            .output()
            .map_err(|e| format!("cannot run `{}`: {e}", self.program))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }

    /// Pipes `input` through the client and returns the statements it echoed, in order.
    fn echo(&self, db: &str, mode: Mode, input: &[u8]) -> Result<Vec<String>, String> {
        let mut cmd = self.command();
        cmd.args(["--batch", "--force", "-vvv"])
            .arg(format!("--init-command=SET SESSION sql_mode='{SQL_MODE}'"));
        // Always explicit: the `mariadb` client defaults to --skip-comments, MySQL's 9.7 client
        // to --comments.
        cmd.arg(mode.flag())
            .arg(db)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot run `{}`: {e}", self.program))?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        let out = std::thread::scope(|s| {
            // Write from another thread: the client answers while it reads.
            s.spawn(move || {
                let _ = stdin.write_all(input);
            });
            child.wait_with_output()
        })
        .map_err(|e| format!("`{}` failed: {e}", self.program))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        // With --force the exit status is 1 when a statement failed, which is expected here.
        // Anything else, or a client error (2000-2999: cannot connect, lost connection, …) or an
        // access error, means the comparison is worthless.
        let fatal = stderr.lines().find(|l| {
            let code = l
                .strip_prefix("ERROR ")
                .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse::<u32>().ok());
            matches!(code, Some(2000..=2999 | 1044 | 1045 | 1049))
        });
        if let Some(line) = fatal {
            return Err(format!("the client could not run the file: {line}"));
        }
        if !matches!(out.status.code(), Some(0 | 1)) {
            return Err(format!(
                "the client ended with {}: {}",
                out.status,
                stderr.trim()
            ));
        }
        parse_echo(&String::from_utf8_lossy(&out.stdout))
    }
}

/// The statements echoed by `-vvv`: each is printed between two lines of exactly 14 dashes;
/// what follows (a result table, `Query OK`, …) runs to the next dashes line. (The corpus
/// never contains a line of exactly 14 dashes.)
fn parse_echo(stdout: &str) -> Result<Vec<String>, String> {
    let lines: Vec<&str> = stdout.split('\n').collect();
    let mut statements = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i] != DASHES {
            i += 1;
            continue;
        }
        let Some(end) = lines[i + 1..].iter().position(|l| *l == DASHES) else {
            return Err(format!(
                "cannot read the client's echo: a statement opened by the dashes on output line {} \
                 is never closed",
                i + 1
            ));
        };
        statements.push(lines[i + 1..i + 1 + end].join("\n"));
        i += end + 2;
    }
    Ok(statements)
}

/// A scratch database, dropped when this goes out of scope (also when the test panics).
struct ScratchDb<'a> {
    client: &'a Client,
    name: String,
}

impl<'a> ScratchDb<'a> {
    fn create(client: &'a Client) -> ScratchDb<'a> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "dbtool_split_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        // `gen_t` is the table of the generated triggers.
        if let Err(e) = client.execute(&format!(
            "DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}` CHARACTER SET utf8mb4; \
             CREATE TABLE `{name}`.gen_t (a INT)"
        )) {
            panic!(
                "cannot create the scratch database `{name}` on {} with `{}` ({}): {e}\n\
                 The splitter's differential test needs a running server: start MariaDB or set \
                 DBTOOL_TEST_URL (default mysql://root@127.0.0.1:3306). It never skips.",
                client.shown_url, client.program, client.version
            );
        }
        ScratchDb { client, name }
    }
}

impl Drop for ScratchDb<'_> {
    fn drop(&mut self) {
        if let Err(e) = self
            .client
            .execute(&format!("DROP DATABASE IF EXISTS `{}`", self.name))
        {
            eprintln!(
                "warning: could not drop the scratch database `{}`: {e}",
                self.name
            );
        }
    }
}

// ------------------------------------------------------------------------------------------
// Comparing
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `--comments`: texts compared with comments.
    Comments,
    /// `--skip-comments`, the `mariadb` client's default, as scripts are normally run with it.
    /// (The `mysql` 9.7 client defaults to `--comments`: the flag is always given.)
    Default,
}

impl Mode {
    fn flag(self) -> &'static str {
        match self {
            Mode::Comments => "--comments",
            Mode::Default => "--skip-comments",
        }
    }
}

/// Which passes a file goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Passes {
    Both,
    DefaultOnly,
}

struct Case {
    name: String,
    sql: String,
    passes: Passes,
    generated: bool,
}

/// The fixtures that exercise a place where Oracle's `mysql` client (9.7) splits differently
/// from `mariadb` (10.11), whom dbtool follows there (docs/SPLITTING.md): they run against
/// `mariadb` only. Every other fixture runs against both, and so does the whole generated
/// corpus (its files for `mysql` stay clear of these places: `dash_comment_spaced`).
const MARIADB_ONLY: &[(&str, &str)] = &[
    (
        "42_dash_line_before_delimiter.sql",
        // Its whole point.
        "`--------` and `--x` right before a DELIMITER line: text to `mysql`, which then does \
         not see the DELIMITER line and sends both, and what follows up to the next `;`, as one \
         statement",
    ),
    (
        "43_dollar_signs.sql",
        "`$$` and `$a$` outside quotes: dollar quotes to `mysql`, which then reads everything up \
         to the closing tag (here the end of the file) as one string",
    ),
    (
        "44_delimiter_in_mariadb_executable_comment.sql",
        "`/*M! … ; … */`: a plain comment to `mysql`, so the `;` inside does not end its \
         statement",
    ),
    (
        "default_mode_only/04_comment_then_delimiter_crlf.sql",
        // The rest of it (a block comment or a whitespace-only line before DELIMITER, CRLF) is
        // in 01, 02 and 23, which do run against `mysql`.
        "`  --x` right before `DELIMITER ;`: the same disagreement as 42",
    ),
];

impl Case {
    fn runs_against(&self, flavour: Flavour) -> bool {
        flavour == Flavour::MariaDb || !MARIADB_ONLY.iter().any(|(name, _)| *name == self.name)
    }
}

/// One statement as dbtool splits it.
struct Ours {
    number: u32,
    line: u64,
    sql: String,
}

fn dbtool_statements(sql: &str) -> Result<Vec<Ours>, String> {
    let mut out = Vec::new();
    for piece in Splitter::new(sql.as_bytes()) {
        match piece {
            Ok(Piece::Statement(s)) => out.push(Ours {
                number: s.number,
                line: s.line,
                sql: s.sql().to_owned(),
            }),
            Ok(_) => {}
            Err(e) => return Err(format!("dbtool cannot split the file: {e}")),
        }
    }
    Ok(out)
}

/// dbtool's statement as the client would send it.
fn normalise_ours(sql: &str) -> String {
    // Normalisation 1: CRLF -> LF. The client reads its input line by line and drops the CR of
    // each CRLF (unless `--binary-mode`), even inside a string literal; dbtool sends the bytes
    // of the file. Between tokens this changes nothing; inside a multi-line string literal it
    // is a difference of data (listed in the module docs).
    //
    // Normalisation 2: surrounding whitespace. The client trims trailing whitespace before it
    // sends a statement, and with --comments keeps the whitespace (and line breaks) before it;
    // dbtool's statement starts and ends with significant text.
    sql.replace("\r\n", "\n").trim().to_owned()
}

/// Normalisation 3: the comments that precede a statement. With --comments the client sends
/// them as part of the statement; dbtool leaves them in the trivia before it (they mean
/// nothing to the server). At the start of a statement `--` opens a comment even without the
/// whitespace after it (the `mariadb` client's rule, which dbtool follows; to `mysql` such a
/// line is text, sent with the statement: normalisation 8); an optimizer hint `/*+ … */`
/// there is a plain comment to the `mariadb` client (and the server ignores a hint that does
/// not follow a statement's first keyword). `/*!` and `/*M!` are not comments to `mariadb`
/// (nor to dbtool); `/*M!` is one to `mysql`, which sends it all the same with --comments.
fn strip_leading_comments(mut s: &str) -> &str {
    loop {
        s = s.trim_start();
        if s.starts_with('#') || s.starts_with("--") {
            s = s.find('\n').map_or("", |n| &s[n + 1..]);
        } else if s.starts_with("/*") && !s.starts_with("/*!") && !s.starts_with("/*M!") {
            match s[2..].find("*/") {
                Some(n) => s = &s[2 + n + 2..],
                None => return s,
            }
        } else {
            return s;
        }
    }
}

/// Normalisation 8, for the `mysql` client in default mode: what it keeps at the start of a
/// statement even with --skip-comments. A line starting with `--` without whitespace after it
/// (`--x`, `--------`) is text to it (sent to the server, a syntax error there; what is left of
/// it: `--------` loses its last two dashes, a `-- ` comment in it is stripped) where dbtool,
/// like `mariadb`, sees a comment (a deliberate difference); and it never strips an optimizer
/// hint `/*+ … */`, which dbtool leaves in the trivia there (normalisation 3). Nothing else:
/// `#` and plain `/* … */` comments it strips itself.
fn strip_leading_dash_lines_and_hints(mut s: &str) -> &str {
    loop {
        s = s.trim_start();
        if s.starts_with("--") {
            s = s.find('\n').map_or("", |n| &s[n + 1..]);
        } else if let Some(rest) = s.strip_prefix("/*+") {
            match rest.find("*/") {
                Some(n) => s = &rest[n + 2..],
                None => return s,
            }
        } else {
            return s;
        }
    }
}

/// Whether `theirs` (an echoed statement, its leading comments stripped) is what the client
/// sends for `ours` (normalised) with --comments.
fn same_with_comments(ours: &str, theirs: &str) -> bool {
    let (a, b) = (ours.as_bytes(), theirs.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            i += 1;
            j += 1;
        } else if b[j] == b' ' && b[..j].ends_with(b"*/") && !a[i].is_ascii_whitespace() {
            // Normalisation 6: after the `*/` of a comment the client inserts a space when the
            // next character is not whitespace (`need_space` in its `add_line`), so that a
            // comment never glues two tokens together. (`mariadb` after an optimizer hint's too,
            // `mysql` not; neither after an executable comment's.)
            j += 1;
        } else {
            return false;
        }
    }
    if i < a.len() {
        return false;
    }
    // Normalisation 5: with --comments, a line comment that follows the delimiter on the same
    // line is appended by the client to the statement that delimiter ends; dbtool leaves it in
    // the trivia before the next statement. (`--` then whitespace; the client trims the
    // whitespace when the comment is empty.)
    let rest = theirs[j..].trim_start_matches([' ', '\t']);
    rest.is_empty()
        || (!rest.contains('\n')
            && (rest.starts_with('#')
                || rest == "--"
                || rest.starts_with("--")
                    && rest[2..].starts_with(|c: char| c.is_ascii_whitespace())))
}

/// Whether dbtool's statement has a comment (or something like one) in it: without
/// --comments the client strips comments and rewrites the whitespace around them, so such a
/// text cannot be compared byte for byte.
fn has_comment_marker(sql: &str) -> bool {
    sql.contains("--") || sql.contains('#') || sql.contains("/*")
}

/// Normalisation 7, for a statement with a comment in default mode: the client only removes
/// comments and adds or removes whitespace, so its text must start like dbtool's (which never
/// starts with a comment) and, without whitespace, be a subsequence of dbtool's text.
fn loosely_same(ours: &str, theirs: &str) -> bool {
    if ours.chars().next() != theirs.chars().next() {
        return false;
    }
    let mut ours = ours.chars().filter(|c| !c.is_whitespace());
    theirs
        .chars()
        .filter(|c| !c.is_whitespace())
        .all(|c| ours.any(|o| o == c))
}

/// Whether a statement is one `/*M! … */` comment and nothing else.
fn is_mariadb_comment(sql: &str) -> bool {
    sql.starts_with("/*M!") && sql.find("*/") == Some(sql.len() - 2)
}

/// What one pass over one file established.
#[derive(Default, Clone, Copy)]
struct Tally {
    statements: usize,
    texts: usize,
}

fn short(s: &str) -> String {
    const MAX: usize = 600;
    if s.len() <= MAX {
        return format!("{s:?}");
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}… ({} bytes)", &s[..end], s.len())
}

fn list(statements: &[String]) -> String {
    let mut out = String::new();
    for (k, s) in statements.iter().enumerate() {
        let _ = writeln!(out, "      {:>3}. {}", k + 1, short(s));
    }
    out
}

/// Compares one pass; on a difference, says where and shows both versions.
fn compare(
    flavour: Flavour,
    mode: Mode,
    ours: &[Ours],
    echoed: &[String],
) -> Result<Tally, String> {
    let strip: Option<fn(&str) -> &str> = match (mode, flavour) {
        (Mode::Comments, _) => Some(strip_leading_comments),
        (Mode::Default, Flavour::MySql) => Some(strip_leading_dash_lines_and_hints),
        (Mode::Default, Flavour::MariaDb) => None,
    };
    let theirs: Vec<String> = match strip {
        // Normalisation 4: with --comments the client sends a line comment that starts a
        // statement on its own (so that a client command on the next line is still seen), and
        // whatever comments are left at the end of the file; `mysql` without --comments sends a
        // `--x` line there, or one that ends at the delimiter (`--x;`), as a statement
        // (normalisation 8). SPEC §2: a statement made only of comments is not sent.
        // (Normalisations 2 and 3, or 8, apply too.)
        Some(strip) => echoed
            .iter()
            .map(|e| strip(e).trim().to_owned())
            .filter(|e| !e.is_empty())
            .collect(),
        // Normalisation 2.
        None => echoed.iter().map(|e| e.trim().to_owned()).collect(),
    };
    // Normalisation 9: to the `mysql` client, MariaDB's executable comment `/*M! … */` is a
    // plain comment, which it strips with --skip-comments: a statement made only of one (the
    // `/*M!100616 SET … */;` lines of a mariadb-dump header) is not sent at all. dbtool sends
    // it, as `mariadb` does (a MySQL server takes it for a comment: nothing happens).
    let ours: Vec<&Ours> = ours
        .iter()
        .filter(|o| {
            !(flavour == Flavour::MySql && mode == Mode::Default && is_mariadb_comment(&o.sql))
        })
        .collect();
    let mut tally = Tally::default();
    for k in 0..ours.len().max(theirs.len()) {
        match (ours.get(k), theirs.get(k)) {
            (Some(o), Some(t)) => {
                let o_norm = normalise_ours(&o.sql);
                let same = match mode {
                    Mode::Comments => same_with_comments(&o_norm, t),
                    Mode::Default if has_comment_marker(&o.sql) => loosely_same(&o_norm, t),
                    Mode::Default => o_norm == *t,
                };
                if !same {
                    let raw = if strip.is_some() {
                        format!("\n    client, as echoed: {}", short(&echoed_for(echoed, t)))
                    } else {
                        String::new()
                    };
                    let dbtool = format!("dbtool, line {}:", o.line);
                    return Err(format!(
                        "statement {} differs ({}):\n    {dbtool:<18} {}\n    {:<18} {}{raw}",
                        o.number,
                        mode.flag(),
                        short(&o_norm),
                        "client:",
                        short(t),
                    ));
                }
                tally.statements += 1;
                if mode == Mode::Comments || !has_comment_marker(&o.sql) {
                    tally.texts += 1;
                }
            }
            _ => {
                let ours: Vec<String> = ours.iter().map(|o| normalise_ours(&o.sql)).collect();
                return Err(format!(
                    "dbtool found {} statements, the client sent {} ({}); statement {} is the \
                     first without a counterpart.\n    dbtool:\n{}    client:\n{}",
                    ours.len(),
                    theirs.len(),
                    mode.flag(),
                    k + 1,
                    list(&ours),
                    list(&theirs),
                ));
            }
        }
    }
    Ok(tally)
}

/// The raw echo a normalised statement came from (for the failure message).
fn echoed_for(echoed: &[String], normalised: &str) -> String {
    echoed
        .iter()
        .find(|e| strip_leading_comments(e).trim() == normalised)
        .cloned()
        .unwrap_or_default()
}

/// The tallies of the `--comments` pass and of the default-mode pass, or what differs.
type Outcome = Result<(Tally, Tally), String>;

/// Checks one file in its passes. On a difference, returns the message.
fn check(client: &Client, db: &str, case: &Case) -> Outcome {
    let ours = dbtool_statements(&case.sql)?;
    let flavour = client.flavour();
    let mut comments = Tally::default();
    if case.passes == Passes::Both {
        let echoed = client.echo(db, Mode::Comments, case.sql.as_bytes())?;
        comments = compare(flavour, Mode::Comments, &ours, &echoed)?;
    }
    let echoed = client.echo(db, Mode::Default, case.sql.as_bytes())?;
    let default = compare(flavour, Mode::Default, &ours, &echoed)?;
    Ok((comments, default))
}

/// Runs every case on a few workers, each with its own scratch database; panics with a report
/// of every file that differs.
fn run(client: &Client, cases: &[Case]) {
    let flavour = client.flavour();
    let (runnable, skipped): (Vec<&Case>, Vec<&Case>) =
        cases.iter().partition(|c| c.runs_against(flavour));
    let cases = &runnable[..];
    if !skipped.is_empty() {
        let names: Vec<&str> = skipped.iter().map(|c| c.name.as_str()).collect();
        println!(
            "not run against `{}`, which splits them differently (dbtool follows `mariadb`; \
             MARIADB_ONLY): {}",
            client.program,
            names.join(", ")
        );
    }
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 6)
        .min(cases.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    // Created here, not in the workers, so that an unreachable server fails once; dropped at
    // the end of this function, also when it panics.
    let dbs: Vec<ScratchDb> = (0..workers).map(|_| ScratchDb::create(client)).collect();
    std::thread::scope(|s| {
        for db in &dbs {
            let (next, results) = (&next, &results);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = cases.get(i) else { break };
                    let r = check(client, &db.name, case);
                    results.lock().unwrap().push((i, r));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);
    assert_eq!(
        results.len(),
        cases.len(),
        "every case must have been checked"
    );

    let mut failures = Vec::new();
    let (mut files, mut with_comments, mut default, mut default_texts) = (0, 0, 0, 0);
    for (i, r) in results {
        let case = &cases[i];
        match r {
            Ok((c, d)) => {
                files += 1;
                with_comments += c.statements;
                default += d.statements;
                default_texts += d.texts;
            }
            Err(e) => failures.push((case, e)),
        }
    }
    println!(
        "{files} files agree with `{}` ({}): {with_comments} statements compared with --comments, \
         {default} in default mode ({default_texts} of them byte for byte, the others loosely)",
        client.program, client.version
    );
    if failures.is_empty() {
        return;
    }
    let mut report = format!(
        "{} of {} files split differently by dbtool and by `{}` ({}):\n",
        failures.len(),
        cases.len(),
        client.program,
        client.version
    );
    if flavour == Flavour::MySql {
        report.push_str(
            "(note: where the clients disagree, dbtool follows `mariadb`; docs/SPLITTING.md lists \
             the known disagreements with Oracle's `mysql` client: a fixture that exercises one \
             belongs in MARIADB_ONLY, and the generator must avoid it)\n",
        );
    }
    for (case, e) in failures.iter().take(8) {
        let _ = write!(report, "\n--- {}: {e}\n", case.name);
        if case.generated {
            let saved = save_failing(case);
            let _ = writeln!(report, "    the file ({saved}):\n    {}", short(&case.sql));
        }
    }
    if failures.len() > 8 {
        report.push_str("\nand also:\n");
        for (case, _) in &failures[8..] {
            let _ = writeln!(report, "    {}", case.name);
        }
    }
    panic!("{report}");
}

/// Writes a failing generated file where it can be rerun by hand (best effort).
fn save_failing(case: &Case) -> String {
    let dir = std::env::temp_dir().join("dbtool-split-differential");
    let path = dir.join(format!("{}.sql", case.name.replace('/', "_")));
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, &case.sql)) {
        Ok(()) => format!("saved as {}", path.display()),
        Err(e) => format!("could not be saved: {e}"),
    }
}

// ------------------------------------------------------------------------------------------
// The corpus
// ------------------------------------------------------------------------------------------

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/split")
}

fn read_fixtures(dir: &Path, passes: Passes) -> Vec<Case> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| Case {
            name: p
                .strip_prefix(fixture_dir())
                .unwrap_or(&p)
                .display()
                .to_string(),
            sql: std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display())),
            passes,
            generated: false,
        })
        .collect()
}

#[test]
fn fixtures_split_like_the_client() {
    let dir = fixture_dir();
    let mut cases = read_fixtures(&dir, Passes::Both);
    assert!(
        cases.len() >= 30,
        "expected at least 30 fixtures in {}",
        dir.display()
    );
    cases.extend(read_fixtures(
        &dir.join("default_mode_only"),
        Passes::DefaultOnly,
    ));
    for (name, _) in MARIADB_ONLY {
        assert!(
            cases.iter().any(|c| c.name == *name),
            "MARIADB_ONLY names {name}, which is not a fixture"
        );
    }
    run(&Client::from_env(), &cases);
}

#[test]
fn generated_files_split_like_the_client() {
    let client = Client::from_env();
    let flavour = client.flavour();
    let mut rng = Rng(0x5EED_D870);
    let mut cases = Vec::new();
    for n in 0..300 {
        cases.push(Case {
            name: format!("generated/comments_safe_{n:03}"),
            sql: generate(&mut rng, n, Family::CommentsSafe, flavour),
            passes: Passes::Both,
            generated: true,
        });
    }
    for n in 0..100 {
        cases.push(Case {
            name: format!("generated/default_mode_{n:03}"),
            sql: generate(&mut rng, n, Family::DefaultModeOnly, flavour),
            passes: Passes::DefaultOnly,
            generated: true,
        });
    }
    run(&client, &cases);
}

// ------------------------------------------------------------------------------------------
// The generator
// ------------------------------------------------------------------------------------------

/// SplitMix64: small, fast and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// Files on which --comments does not change how the client splits: checked in both
    /// passes. Comments anywhere, inside statements too.
    CommentsSafe,
    /// Files with what --comments splits differently (a `DELIMITER` line or an `--x` line after
    /// a whitespace-only line or a block comment, indented `--x` lines); statements hold no
    /// comment so that their texts can be compared in default mode.
    DefaultModeOnly,
}

struct Gen<'r> {
    rng: &'r mut Rng,
    family: Family,
    /// The client the files are for: they differ only by `dash_comment_spaced`.
    flavour: Flavour,
    file: usize,
    objects: usize,
    out: String,
    delimiter: &'static str,
    /// With --comments, whether the client's statement buffer holds something (whitespace, a
    /// block comment) at this point: then a `DELIMITER` line or an `--x` line is not seen as
    /// such by the client in that mode.
    dirty: bool,
}

/// Text of string literals: the characters that matter to a splitter, and plain ones.
const STRING_ATOMS: &[&str] = &[
    "a",
    "text",
    " ",
    ";",
    ";;",
    "$$",
    "//",
    "|",
    "!!",
    "é",
    "☕",
    "日本",
    "\n",
    "\t",
    "\\\\",
    "\\n",
    "\\t",
    "`",
    "\nDELIMITER ;\n",
    "END",
    "BEGIN",
];
/// Comment markers inside strings (not in the default-mode family).
const STRING_COMMENT_ATOMS: &[&str] = &["--", "-- ", "#", "/*", "*/", "*/ x"];
const COMMENT_ATOMS: &[&str] = &[
    "note", " ", ";", "'", "\"", "`", "$$", "//", "|", "!!", "--", "#", "/*", "é", "x;y", "\\",
];
const DELIMITERS: &[&str] = &["$$", "//", ";;", "|", "!!", "$"];

fn generate(rng: &mut Rng, file: usize, family: Family, flavour: Flavour) -> String {
    let mut g = Gen {
        rng,
        family,
        flavour,
        file,
        objects: 0,
        out: String::new(),
        delimiter: ";",
        dirty: false,
    };
    if g.rng.chance(8) {
        g.out.push('\u{feff}');
    }
    let items = 1 + g.rng.below(10);
    let mut open_end = false;
    for i in 0..items {
        let last = i + 1 == items;
        // With --comments the client only sees a `DELIMITER` line when its buffer is empty.
        let can_switch = family == Family::DefaultModeOnly || !g.dirty;
        if can_switch && g.rng.chance(22) {
            let d = g.rng.pick(DELIMITERS);
            g.switch_delimiter(d);
        } else if can_switch && g.delimiter != ";" && g.rng.chance(35) {
            g.switch_delimiter(";");
        }
        g.leading_trivia();
        let mut statement = g.statement();
        if statement.ends_with("*/") && g.delimiter.starts_with('/') {
            // Deliberate difference: the client sees a delimiter `//` in the `/` of the `*/`
            // that closes an executable comment (`/*!40101 x *///`) and sends `… *`.
            statement.push(' ');
        }
        g.out.push_str(&statement);
        if last && g.rng.chance(25) {
            // The last statement without its delimiter.
            match g.rng.below(3) {
                0 => {}
                1 => g.out.push('\n'),
                _ => g.out.push_str("\n-- the end"),
            }
            open_end = true;
        } else {
            let d = g.delimiter;
            g.out.push_str(d);
            g.after_delimiter(last);
        }
    }
    if !open_end
        && g.delimiter != ";"
        && (family == Family::DefaultModeOnly || !g.dirty)
        && g.rng.chance(50)
    {
        g.switch_delimiter(";");
    }
    let mut sql = g.out;
    if rng.chance(15) {
        sql = sql.replace('\n', "\r\n");
    }
    assert!(
        !sql.contains(DASHES),
        "the generator must not write 14 dashes in a row (the client's echo marker): {sql:?}"
    );
    sql
}

/// A trivia line before a `DELIMITER` line, for the `mysql` client: its `--` (at the start, or
/// after the block comment of `default_mode_line`) followed by a space. That client takes
/// `--x` or `--------` for text, keeps it in its buffer and then does not see the `DELIMITER`
/// line, where `mariadb` (and dbtool) see a comment: the one place where the generated files
/// would split differently (fixture `42_dash_line_before_delimiter`, `mariadb` only). So the
/// files for `mysql` differ from those for `mariadb` by these spaces and nothing else (the
/// random draws are the same); before a statement such lines stay as they are, as there the
/// clients disagree only on the statement's text (normalisation 8).
fn dash_comment_spaced(mut line: String) -> String {
    let indented = line.trim_start_matches([' ', '\t']);
    let rest = indented.strip_prefix("/* block */ ").unwrap_or(indented);
    if rest.starts_with("--") && !rest[2..].starts_with(|c: char| c.is_ascii_whitespace()) {
        let at = line.len() - rest.len() + 2;
        line.insert(at, ' ');
    }
    line
}

impl Gen<'_> {
    fn at_line_start(&self) -> bool {
        self.out.is_empty() || self.out.ends_with('\n') || self.out == "\u{feff}"
    }

    fn comment_text(&mut self) -> String {
        let n = 1 + self.rng.below(4);
        (0..n).map(|_| self.rng.pick(COMMENT_ATOMS)).collect()
    }

    /// A line-level trivia item that keeps the client's buffer empty with --comments.
    fn clean_line(&mut self) -> String {
        match self.rng.below(6) {
            0 => "\n".to_owned(),
            1 => format!("-- {}\n", self.comment_text()),
            2 => format!("#{}\n", self.comment_text()),
            3 => "--x no space\n".to_owned(),
            4 => "--------\n".to_owned(),
            _ => "----- section -----\n".to_owned(),
        }
    }

    /// A line-level trivia item that --comments keeps in the client's buffer.
    fn dirty_line(&mut self) -> String {
        match self.rng.below(4) {
            0 => "   \n".to_owned(),
            1 => "\t\n".to_owned(),
            2 => format!("/* {} */\n", self.comment_text().replace('*', "+")),
            _ => format!(
                "/* multi\n  {}\n*/\n",
                self.comment_text().replace('*', "+")
            ),
        }
    }

    /// Lines that only --comments reads differently (default-mode family only).
    fn default_mode_line(&mut self) -> String {
        match self.rng.below(4) {
            0 => "  --x indented\n".to_owned(),
            1 => "\t--------\n".to_owned(),
            2 => "/* block */ --x after a block comment\n".to_owned(),
            _ => "/* block */ -- after a block comment\n".to_owned(),
        }
    }

    /// Ends the line a statement ended on (only after its delimiter: what is left on that
    /// line went to the client with the statement).
    fn newline(&mut self) {
        if !self.at_line_start() {
            self.out.push('\n');
        }
    }

    fn switch_delimiter(&mut self, d: &'static str) {
        self.newline();
        for _ in 0..self.rng.below(3) {
            let line = match self.family {
                Family::CommentsSafe => self.clean_line(),
                Family::DefaultModeOnly => match self.rng.below(3) {
                    0 => self.clean_line(),
                    1 => self.dirty_line(),
                    _ => self.default_mode_line(),
                },
            };
            let line = match self.flavour {
                Flavour::MariaDb => line,
                Flavour::MySql => dash_comment_spaced(line),
            };
            self.out.push_str(&line);
        }
        let word = self.rng.pick(&["DELIMITER", "delimiter", "Delimiter"]);
        let line = match self.rng.below(6) {
            0 => format!("  {word} {d}\n"),
            1 => format!("{word} {d}   \n"),
            2 if d != ";" => format!("{word} '{d}'\n"),
            3 => format!("{word} {d} -- switch\n"),
            _ => format!("{word} {d}\n"),
        };
        self.out.push_str(&line);
        self.delimiter = d;
        self.dirty = false;
    }

    fn leading_trivia(&mut self) {
        if !self.at_line_start() {
            // Another statement on the same line.
            if self.rng.chance(50) {
                self.out.push(' ');
            }
            return;
        }
        for _ in 0..self.rng.below(4) {
            let line = match (self.family, self.rng.below(3)) {
                (Family::CommentsSafe, 0) => self.dirty_line(),
                (Family::DefaultModeOnly, 0) => self.default_mode_line(),
                _ if self.dirty && self.family == Family::CommentsSafe => {
                    // `--x` would be text to --comments here: use a comment with a space.
                    format!("-- {}\n", self.comment_text())
                }
                _ => self.clean_line(),
            };
            self.dirty |=
                line.trim_start().starts_with("/*") || line.trim().is_empty() && line != "\n";
            self.out.push_str(&line);
        }
        match self.rng.below(6) {
            0 => self.out.push_str("  "),
            1 => {
                let c = self.comment_text().replace('*', "+");
                self.out.push_str(&format!("/* {c} */ "));
            }
            2 => self.out.push_str("/* lead */"),
            _ => {}
        }
    }

    fn after_delimiter(&mut self, last: bool) {
        // The client has sent the statement and emptied its buffer.
        self.dirty = false;
        // Blank statements.
        if self.rng.chance(10) {
            let d = self.delimiter;
            self.out
                .push_str(if self.rng.chance(50) { " " } else { "" });
            self.out.push_str(d);
        }
        match self.rng.below(10) {
            0 => self.out.push_str("  "),
            1 => {
                let c = self.comment_text();
                self.out.push_str(&format!(" -- {c}"));
            }
            2 => {
                let c = self.comment_text();
                self.out.push_str(&format!(" #{c}"));
            }
            3 => {
                let c = self.comment_text().replace('*', "+");
                self.out.push_str(&format!(" /* {c} */"));
                self.out.push('\n');
                self.dirty = true;
                return;
            }
            4 if !last => return, // the next statement on the same line
            _ => {}
        }
        self.out.push('\n');
    }

    fn name(&mut self, prefix: &str) -> String {
        self.objects += 1;
        format!("{prefix}{}_{}", self.file, self.objects)
    }

    fn statement(&mut self) -> String {
        if self.delimiter != ";" && self.rng.chance(45) {
            return self.compound();
        }
        match self.rng.below(10) {
            0 | 1 => format!("SET @{} = {}", self.name("v"), self.expr()),
            2 => format!("DO {}", self.expr()),
            3 if self.delimiter != ";" => format!("SELECT {}; SELECT {}", self.expr(), self.expr()),
            _ => self.select(),
        }
    }

    fn select(&mut self) -> String {
        let mut s = String::from("SELECT ");
        if self.family == Family::CommentsSafe && self.rng.chance(10) {
            let hint: String = (0..1 + self.rng.below(3))
                .map(|_| {
                    self.rng.pick(&[
                        "BKA(t)",
                        " ",
                        ";",
                        "'",
                        "\"",
                        "`",
                        "$$",
                        "NO_ICP(t1)",
                        "é",
                        "//",
                        "|",
                    ])
                })
                .collect();
            s.push_str(&format!("/*+ {hint} */ "));
        }
        let n = 1 + self.rng.below(4);
        for k in 0..n {
            if k > 0 {
                s.push_str(self.separator());
            }
            let e = self.expr();
            s.push_str(&e);
            if self.rng.chance(30) {
                let alias = self.backticked();
                s.push_str(" AS ");
                s.push_str(&alias);
            }
        }
        if self.rng.chance(20) {
            s.push_str("\nFROM DUAL");
        }
        s
    }

    /// What goes between two select expressions: a comma, maybe with a comment.
    fn separator(&mut self) -> &'static str {
        if self.family == Family::DefaultModeOnly {
            return self.rng.pick(&[", ", ",\n  ", ","]);
        }
        self.rng.pick(&[
            ", ",
            ",\n  ",
            ",",
            ", /* ; */ ",
            ",/* it's */",
            ", -- a comment; it's\n  ",
            ", # hash; \"\n  ",
            ", --\n  ",
            ", --\t$$ tab\n  ",
            " /* $$ // | */, ",
        ])
    }

    fn expr(&mut self) -> String {
        match self.rng.below(12) {
            0 => self
                .rng
                .pick(&["1", "42", "-7", "2-1", "5--3", "10 --3", "0.5"])
                .to_string(),
            1..=4 => self.quoted('\''),
            5 | 6 => self.quoted('"'),
            7 => format!("CONCAT({}, {})", self.quoted('\''), self.quoted('"')),
            8 if self.family == Family::CommentsSafe => {
                let inner = match self.rng.below(2) {
                    0 => self.quoted('\''),
                    _ => "1".to_owned(),
                };
                format!("1 /*!40101 + LENGTH({inner}) */")
            }
            9 => format!("LENGTH({})", self.quoted('\'')),
            // In parentheses: after `\N` the client still owes the space it inserts after a
            // comment's `*/` (normalisation 6), and would insert it after `\N`.
            10 => "(\\N)".to_owned(),
            _ => format!("{} = {}", self.quoted('\''), self.quoted('"')),
        }
    }

    fn quoted(&mut self, q: char) -> String {
        let mut s = String::new();
        s.push(q);
        for _ in 0..self.rng.below(6) {
            let atom = match self.rng.below(10) {
                0 => {
                    if q == '\'' {
                        self.rng.pick(&["''", "\\'", "\""])
                    } else {
                        self.rng.pick(&["\"\"", "\\\"", "'"])
                    }
                }
                1 if self.family == Family::CommentsSafe => self.rng.pick(STRING_COMMENT_ATOMS),
                _ => self.rng.pick(STRING_ATOMS),
            };
            s.push_str(atom);
        }
        if self.rng.chance(10) {
            s.push_str("\\\\"); // a backslash at the very end
        }
        s.push(q);
        s
    }

    fn backticked(&mut self) -> String {
        let mut s = String::from("`");
        for _ in 0..1 + self.rng.below(4) {
            let atoms: &[&str] = if self.family == Family::CommentsSafe {
                &[
                    "a", "b", ";", "``", "'", "\"", "$$", "é", " ", "#", "--", "/*", "\\", "|",
                ]
            } else {
                &["a", "b", ";", "``", "'", "\"", "$$", "é", " ", "\\", "|"]
            };
            s.push_str(self.rng.pick(atoms));
        }
        s.push('`');
        s
    }

    /// A compound statement whose body holds `;` (only under another delimiter).
    fn compound(&mut self) -> String {
        let mut body = String::new();
        for _ in 0..1 + self.rng.below(3) {
            let inner = match self.rng.below(4) {
                0 => format!("SET @x = {};", self.expr()),
                1 => format!("IF 1 THEN SELECT {}; END IF;", self.expr()),
                _ => format!("SELECT {};", self.expr()),
            };
            body.push_str("  ");
            body.push_str(&inner);
            if self.family == Family::CommentsSafe && self.rng.chance(30) {
                body.push_str(self.rng.pick(&[" -- done; next", " # ok; '", " /* ; */"]));
            }
            body.push('\n');
        }
        match self.rng.below(4) {
            0 => format!("CREATE PROCEDURE {}()\nBEGIN\n{body}END", self.name("gp")),
            1 => format!(
                "CREATE FUNCTION {}() RETURNS INT DETERMINISTIC\nBEGIN\n  DECLARE v INT DEFAULT 1;\n{body}  RETURN v;\nEND",
                self.name("gf")
            ),
            2 => format!(
                "CREATE TRIGGER {} BEFORE INSERT ON gen_t FOR EACH ROW\nBEGIN\n{body}END",
                self.name("gt")
            ),
            _ => format!(
                "CREATE EVENT {} ON SCHEDULE AT CURRENT_TIMESTAMP + INTERVAL 1 DAY DISABLE DO\nBEGIN\n{body}END",
                self.name("ge")
            ),
        }
    }
}

// ------------------------------------------------------------------------------------------
// The test's own helpers, without a server
// ------------------------------------------------------------------------------------------

#[test]
fn echo_parser_reads_statements_between_dashes() {
    let out = "--------------\nSELECT 1\n--------------\n\n+---+\n| 1 |\n+---+\n| 1 |\n+---+\n1 row in set (0.000 sec)\n\n--------------\nSELECT 'a\n\nb'\n--------------\n\nQuery OK, 0 rows affected (0.001 sec)\n\nBye\n";
    assert_eq!(parse_echo(out).unwrap(), ["SELECT 1", "SELECT 'a\n\nb'"]);
    assert!(parse_echo("--------------\nSELECT 1\n").is_err());
    assert_eq!(parse_echo("Bye\n").unwrap(), Vec::<String>::new());
}

#[test]
fn normalisations_are_narrow() {
    // 1 and 2
    assert_eq!(normalise_ours("SELECT 'a\r\nb'\r\n"), "SELECT 'a\nb'");
    // 3
    assert_eq!(
        strip_leading_comments("  -- a\n# b\n/* c */ --x\nSELECT 1"),
        "SELECT 1"
    );
    assert_eq!(
        strip_leading_comments("/*!40101 SET a=1 */"),
        "/*!40101 SET a=1 */"
    );
    assert_eq!(
        strip_leading_comments("/*M!100100 SET a=1 */"),
        "/*M!100100 SET a=1 */"
    );
    assert_eq!(strip_leading_comments("-- only"), "");
    // 5
    assert!(same_with_comments("SELECT 1", "SELECT 1 -- trailing"));
    assert!(same_with_comments("SELECT 1", "SELECT 1# trailing"));
    assert!(same_with_comments("SELECT 1", "SELECT 1 --"));
    assert!(!same_with_comments("SELECT 1", "SELECT 1 --x"));
    assert!(!same_with_comments("SELECT 1", "SELECT 1 -- a\nSELECT 2"));
    assert!(!same_with_comments("SELECT 1", "SELECT 12"));
    assert!(!same_with_comments("SELECT 12", "SELECT 1"));
    // 6
    assert!(same_with_comments("SELECT /*a*/1", "SELECT /*a*/ 1"));
    assert!(!same_with_comments("SELECT 1", "SELECT  1"));
    assert!(!same_with_comments("SELECT /*a*/ 1", "SELECT /*a*/  1"));
    // 7
    assert!(has_comment_marker("SELECT 1 -- x"));
    assert!(!has_comment_marker("SELECT '-'"));
    assert!(loosely_same(
        "SELECT 1 /* a */ + 2 -- c\n, 3",
        "SELECT 1  + 2 \n, 3"
    ));
    assert!(loosely_same("SELECT/*a*/1", "SELECT 1"));
    assert!(!loosely_same("--x\nSELECT 2", "SELECT 2"));
    assert!(!loosely_same("SELECT 1 -- c", "SELECT 1 -- c\nSELECT 2"));
    assert!(!loosely_same("SELECT 2", "SELECT 12"));
    // 8: only for `mysql`, only in default mode (in --comments it is 3 and 4 anyway).
    let ours = |sqls: &[&str]| -> Vec<Ours> {
        sqls.iter()
            .enumerate()
            .map(|(k, s)| Ours {
                number: k as u32 + 1,
                line: 1,
                sql: s.to_string(),
            })
            .collect()
    };
    let echoed = |e: &[&str]| e.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let (mysql, mariadb) = (Flavour::MySql, Flavour::MariaDb);
    let one = ours(&["SELECT 1"]);
    for e in [
        &["--x no space\n------\nSELECT 1"][..],
        &["/*+ a */ SELECT 1"],
        &["SELECT 1", "--x"],
    ] {
        assert!(
            compare(mysql, Mode::Default, &one, &echoed(e)).is_ok(),
            "{e:?}"
        );
        assert!(
            compare(mariadb, Mode::Default, &one, &echoed(e)).is_err(),
            "{e:?}"
        );
    }
    assert!(compare(mysql, Mode::Default, &one, &echoed(&["--x\nSELECT 12"])).is_err());
    for e in [
        &["# x\nSELECT 1"][..],
        &["/* x */ SELECT 1"],
        &["SELECT 1", "#x"],
    ] {
        assert!(
            compare(mysql, Mode::Default, &one, &echoed(e)).is_err(),
            "{e:?}"
        );
    }
    // 9
    assert!(is_mariadb_comment("/*M!100100 SET @a = 1 */"));
    assert!(!is_mariadb_comment("/*M!100100 SET @a = 1 */ + 1"));
    assert!(!is_mariadb_comment("/*M!100100 a */ /*M!100100 b */"));
    assert!(!is_mariadb_comment("/*!40101 SET @a = 1 */"));
    let two = ours(&["/*M!100100 SET @a = 1 */", "SELECT 2"]);
    let e = echoed(&["SELECT 2"]);
    assert!(compare(mysql, Mode::Default, &two, &e).is_ok());
    assert!(compare(mysql, Mode::Comments, &two, &e).is_err());
    assert!(compare(mariadb, Mode::Default, &two, &e).is_err());
}

#[test]
fn generator_is_deterministic_and_splittable() {
    let run = |family, flavour| {
        let mut rng = Rng(7);
        (0..50)
            .map(|n| generate(&mut rng, n, family, flavour))
            .collect::<Vec<_>>()
    };
    for (family, flavour) in [
        (Family::CommentsSafe, Flavour::MariaDb),
        (Family::DefaultModeOnly, Flavour::MariaDb),
        (Family::CommentsSafe, Flavour::MySql),
        (Family::DefaultModeOnly, Flavour::MySql),
    ] {
        let files = run(family, flavour);
        assert_eq!(files, run(family, flavour));
        if flavour == Flavour::MySql {
            // The files for `mysql` are those for `mariadb` with `dash_comment_spaced` lines.
            for (a, b) in run(family, Flavour::MariaDb).iter().zip(&files) {
                let (a, b) = (
                    a.trim_start_matches('\u{feff}'),
                    b.trim_start_matches('\u{feff}'),
                );
                assert_eq!(a.lines().count(), b.lines().count());
                for (la, lb) in a.lines().zip(b.lines()) {
                    assert!(
                        lb == la || format!("{lb}\n") == dash_comment_spaced(format!("{la}\n")),
                        "{la:?} became {lb:?}"
                    );
                }
            }
        }
        let mut kinds: HashMap<&str, usize> = HashMap::new();
        for sql in &files {
            dbtool_statements(sql).unwrap_or_else(|e| panic!("{e}: {sql:?}"));
            for (marker, name) in [("DELIMITER", "delimiter"), ("\r\n", "crlf")] {
                if sql.to_ascii_uppercase().contains(marker) {
                    *kinds.entry(name).or_default() += 1;
                }
            }
        }
        assert!(
            kinds.get("delimiter").copied().unwrap_or(0) > 5,
            "{kinds:?}"
        );
        assert!(kinds.get("crlf").copied().unwrap_or(0) > 0, "{kinds:?}");
    }
}
