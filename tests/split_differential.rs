//! Differential test of dbtool's statement splitter against the real `mariadb` client (SPEC §2:
//! "the reference for splitting is the client itself").
//!
//! Every file — the hand-written fixtures in `tests/fixtures/split/` and a few hundred files
//! generated from the same building blocks with a fixed seed — is piped through
//! `mariadb -vvv --force --batch <scratch_db>` (falling back to `mysql`), which echoes every
//! statement it sends between lines of 14 dashes. The echoed statements are compared, in order,
//! with the `Piece::Statement`s of `dbtool::sql::split::Splitter`.
//!
//! Each file is checked in two passes:
//!
//! 1. **`--comments`**: the client keeps comments, so the echo is dbtool's statement text almost
//!    byte for byte, comments inside statements included. The few ways in which `--comments`
//!    changes what the client sends are normalised below, each with its reason.
//! 2. **default mode** (no `--comments`), the way scripts are normally run: the number of
//!    statements must match; a statement without a comment marker (`--`, `#`, `/*`) must match
//!    byte for byte, one with a comment loosely (the client strips comments; normalisation 7).
//!
//! The files under `tests/fixtures/split/default_mode_only/` (and a family of generated ones)
//! exercise the places where `--comments` changes how the client *splits* — a `DELIMITER` line
//! after a whitespace-only line or a block comment, an indented `--x` line — and are checked in
//! default mode only: there dbtool follows the client as users run it.
//!
//! Normalisations (numbered in the code, each with its reason): 1 CRLF -> LF; 2 surrounding
//! whitespace; 3 comments before a statement; 4 echoes made only of comments; 5 a line comment
//! after the delimiter, on its line; 6 the space the client adds after a comment's `*/`; 7 the
//! loose comparison of a statement with comments in default mode.
//!
//! Deliberate differences, checked by hand against `mariadb` 10.11 (the corpus avoids them):
//! - client commands: a backslash outside a string (`\g`, `\G`, `\c`, `\d`, … except `\N`) and a
//!   statement starting with a client command word (`use`, `source`, `help`, `status`,
//!   `charset`, `system`, `tee`, `prompt`, `connect`, `exit`, `quit`, `go`, `ego`, `print`,
//!   `clear`, `rehash`, `edit`, `pager`, `nopager`, `notee`, `warnings`, `nowarning`, `?`) are
//!   run by the client; dbtool sends them to the server as SQL;
//! - the client follows the session's `sql_mode` (`NO_BACKSLASH_ESCAPES`, `ANSI_QUOTES`) while it
//!   reads; dbtool always splits with the default quoting rules (the scratch session pins
//!   `sql_mode` so the client does too);
//! - `DELIMITER` on the same line as a statement (`SELECT 1; DELIMITER $$`) is text to dbtool;
//!   the client runs it as a command, then loses the following statement;
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
//! Connection: `DBTOOL_TEST_URL` (default `mysql://root@127.0.0.1:3306`). Every worker creates
//! its own scratch database `dbtool_split_<pid>_<n>` and drops it when done, even on failure.
//! A missing client or an unreachable server fails the test: it never skips.

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
/// global setting; the value is valid on MariaDB and on MySQL 8.
const SQL_MODE: &str = "STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION";

// ------------------------------------------------------------------------------------------
// The client and the server
// ------------------------------------------------------------------------------------------

/// How to reach the server with the command-line client.
struct Client {
    program: String,
    version: String,
    host: String,
    port: u16,
    user: String,
    password: Option<String>,
    /// The URL with the password hidden, for messages.
    shown_url: String,
}

impl Client {
    /// Finds the client and reads `DBTOOL_TEST_URL`. Panics (never skips) when there is none.
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
        let (program, version) = ["mariadb", "mysql"]
            .iter()
            .find_map(|p| {
                let out = Command::new(p).arg("--version").output().ok()?;
                out.status.success().then(|| {
                    (
                        p.to_string(),
                        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
                    )
                })
            })
            .unwrap_or_else(|| {
                panic!(
                    "neither `mariadb` nor `mysql` is on PATH: the splitter's differential test \
                     needs the command-line client (e.g. `apt-get install mariadb-client`)"
                )
            });
        Client {
            program,
            version,
            host: url.host_str().unwrap_or("127.0.0.1").to_owned(),
            port: url.port().unwrap_or(3306),
            user,
            password,
            shown_url: shown.to_string(),
        }
    }

    fn is_mariadb(&self) -> bool {
        self.version.contains("MariaDB")
    }

    /// The client with the connection options and nothing from option files.
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        // `--no-defaults` must come first; a `~/.my.cnf` with `comments` or `safe-updates`
        // would change what is being tested.
        cmd.arg("--no-defaults")
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
        if mode == Mode::Comments {
            cmd.arg("--comments");
        }
        cmd.arg(db)
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
    /// No `--comments`, as scripts are normally run.
    Default,
}

impl Mode {
    fn flag(self) -> &'static str {
        match self {
            Mode::Comments => "--comments",
            Mode::Default => "without --comments",
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
/// whitespace after it (the `mariadb` client's rule, which dbtool follows); an optimizer hint
/// `/*+ … */` there is a plain comment to the `mariadb` client.
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
            // comment never glues two tokens together.
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
fn compare(mode: Mode, ours: &[Ours], echoed: &[String]) -> Result<Tally, String> {
    let theirs: Vec<String> = match mode {
        // Normalisation 4: with --comments the client sends a line comment that starts a
        // statement on its own (so that a client command on the next line is still seen), and
        // whatever comments are left at the end of the file; SPEC §2: a statement made only of
        // comments is not sent. (Normalisations 2 and 3 apply too.)
        Mode::Comments => echoed
            .iter()
            .map(|e| strip_leading_comments(e).trim().to_owned())
            .filter(|e| !e.is_empty())
            .collect(),
        // Normalisation 2.
        Mode::Default => echoed.iter().map(|e| e.trim().to_owned()).collect(),
    };
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
                    let raw = match mode {
                        Mode::Comments => {
                            format!("\n    client, as echoed: {}", short(&echoed_for(echoed, t)))
                        }
                        Mode::Default => String::new(),
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
    let mut comments = Tally::default();
    if case.passes == Passes::Both {
        let echoed = client.echo(db, Mode::Comments, case.sql.as_bytes())?;
        comments = compare(Mode::Comments, &ours, &echoed)?;
    }
    let echoed = client.echo(db, Mode::Default, case.sql.as_bytes())?;
    let default = compare(Mode::Default, &ours, &echoed)?;
    Ok((comments, default))
}

/// Runs every case on a few workers, each with its own scratch database; panics with a report
/// of every file that differs.
fn run(cases: &[Case]) {
    let client = Client::from_env();
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 6)
        .min(cases.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    // Created here, not in the workers, so that an unreachable server fails once; dropped at
    // the end of this function, also when it panics.
    let dbs: Vec<ScratchDb> = (0..workers).map(|_| ScratchDb::create(&client)).collect();
    std::thread::scope(|s| {
        for db in &dbs {
            let (client, next, results) = (&client, &next, &results);
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
    if !client.is_mariadb() {
        report.push_str(
            "(note: the expectations follow the `mariadb` client; Oracle's `mysql` client differs \
             on `--x` at the start of a statement and on optimizer hints)\n",
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
    run(&cases);
}

#[test]
fn generated_files_split_like_the_client() {
    let mut rng = Rng(0x5EED_D870);
    let mut cases = Vec::new();
    for n in 0..300 {
        cases.push(Case {
            name: format!("generated/comments_safe_{n:03}"),
            sql: generate(&mut rng, n, Family::CommentsSafe),
            passes: Passes::Both,
            generated: true,
        });
    }
    for n in 0..100 {
        cases.push(Case {
            name: format!("generated/default_mode_{n:03}"),
            sql: generate(&mut rng, n, Family::DefaultModeOnly),
            passes: Passes::DefaultOnly,
            generated: true,
        });
    }
    run(&cases);
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

fn generate(rng: &mut Rng, file: usize, family: Family) -> String {
    let mut g = Gen {
        rng,
        family,
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
}

#[test]
fn generator_is_deterministic_and_splittable() {
    let run = |family| {
        let mut rng = Rng(7);
        (0..50)
            .map(|n| generate(&mut rng, n, family))
            .collect::<Vec<_>>()
    };
    for family in [Family::CommentsSafe, Family::DefaultModeOnly] {
        let files = run(family);
        assert_eq!(files, run(family));
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
