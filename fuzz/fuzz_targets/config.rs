//! Fuzz target `config`: arbitrary UTF-8 text as a knexfile, and as database URLs.
//!
//! The text goes through `config::parse` as `/tmp/knexfile.toml`, with `--env` set to one of
//! `development`, none (so `DBTOOL_ENV=staging`), `production` and `test`, picked by the
//! text's length, and a small fixed environment (no `DATABASE_URL`). `parse_url` gets the whole
//! text and each of its first 8 lines. Any panic is a finding, and so is a leaked password:
//!
//! when the text holds the marker password `Pw_SeCrEt_9` exactly once, as (part of) the value of
//! a `password` key or in the password of a URL's user info (`scheme://user:…Pw_SeCrEt_9…@host`)
//! that is parsed as a URL (a knexfile's `url`, or the text given to `parse_url`),
//! then no error message, no `Debug` output of an error or a `Config`, no warning and no
//! displayed connection may contain it. ("Exactly once" also counts the marker after TOML
//! unescaping, `${VAR}` expansion, URL percent-decoding and the URL parser's removal of tabs and
//! line breaks, so that it cannot legitimately reach a host or a database name.)
#![no_main]

use std::path::Path;

use dbtool::config::url::parse_url;
use dbtool::config::{self, Env, Overrides};
use libfuzzer_sys::fuzz_target;
use percent_encoding::percent_decode_str;

/// The password the corpus seeds use.
const MARKER: &str = "Pw_SeCrEt_9";

/// The environment variables every run sees. No `DATABASE_URL` (it would override the
/// knexfile's connection), no value holding the marker.
const VARS: &[(&str, &str)] = &[
    ("DBTOOL_ENV", "staging"),
    ("DB_HOST", "db.internal"),
    ("DB_PORT", "3307"),
    ("DB_USER", "app"),
    ("DB_NAME", "app_db"),
    ("EMPTY", ""),
    (
        "TEST_DATABASE_URL",
        "mysql://ci:ci_pw@127.0.0.1:3306/app_test",
    ),
];

/// `--env` values; the input's length picks one (None: `DBTOOL_ENV`, so `staging`).
const ENVIRONMENTS: [Option<&str>; 4] =
    [Some("development"), None, Some("production"), Some("test")];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = Env::from_pairs(VARS.iter().copied());
    let name = ENVIRONMENTS[text.len() % ENVIRONMENTS.len()];
    let secret = knexfile_holds_marker_password(text, &env);
    check_knexfile(text, name, &env, secret);

    check_url(text);
    for line in text.lines().take(8) {
        check_url(line);
    }
});

fn check_knexfile(text: &str, name: Option<&str>, env: &Env, secret: bool) {
    let overrides = Overrides {
        env: name.map(str::to_owned),
        ..Overrides::default()
    };
    let path = Path::new("/tmp/knexfile.toml");
    let shown = match config::parse(Some(text), Some(path), &overrides, env, Path::new("/tmp")) {
        Ok(c) => {
            let mut shown = format!("{c:?}\n");
            for w in &c.warnings {
                shown.push_str(w);
                shown.push('\n');
            }
            match c.connection() {
                Ok(conn) => {
                    shown.push_str(&format!("{conn}\n{conn:?}\n"));
                    let _ = conn.effective_ssl_mode();
                    shown.push_str(&conn.without_database().to_string());
                }
                Err(e) => shown.push_str(&format!("{e}\n{e:?}")),
            }
            if let Some(origin) = c.connection_origin() {
                shown.push_str(&origin.to_string());
            }
            shown
        }
        Err(e) => format!("{e}\n{e:?}"),
    };
    if secret && shown.contains(MARKER) {
        panic!("the password leaks (env {name:?}):\n--- input\n{text}\n--- output\n{shown}");
    }
}

fn check_url(text: &str) {
    let secret = url_holds_marker_password(text);
    let shown = match parse_url(text) {
        Ok((conn, unknown)) => {
            let _ = conn.is_loopback();
            let _ = conn.effective_ssl_mode();
            format!("{conn}\n{conn:?}\n{unknown:?}")
        }
        Err(e) => format!("{e}\n{e:?}"),
    };
    if secret && shown.contains(MARKER) {
        panic!("the URL's password leaks:\n--- input\n{text}\n--- output\n{shown}");
    }
}

// ---- Where the marker is -------------------------------------------------------------------

/// The forms a string can take on its way to a connection: as written, without tabs and line
/// breaks (the URL parser drops them), and percent-decoded.
fn forms(s: &str) -> Vec<String> {
    let stripped: String = s
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let mut out = vec![s.to_owned(), stripped];
    for i in 0..2 {
        out.push(percent_decode_str(&out[i]).decode_utf8_lossy().into_owned());
    }
    out
}

fn marker_count(s: &str) -> usize {
    forms(s)
        .iter()
        .map(|f| f.matches(MARKER).count())
        .max()
        .unwrap_or(0)
}

/// Whether the marker, which `s` holds once, is in the password of `s` read as a URL: as the
/// URL parser reads it (parse_url's way, hostless `user:pw@/db` included); when the parser
/// rejects `s`, by the look of it: `scheme://user:…MARKER…@host` (the user info runs to the
/// last `@` before `/`, `?` or `#`; the password starts after its first `:`).
fn in_url_password(s: &str) -> bool {
    let t = s.trim();
    let parsed =
        url::Url::parse(t).or_else(|_| url::Url::parse(&t.replacen("@/", "@localhost/", 1)));
    if let Ok(u) = parsed {
        return u
            .password()
            .is_some_and(|p| forms(p).iter().any(|f| f.contains(MARKER)));
    }
    let Some(pos) = t.find(MARKER) else {
        return false;
    };
    let (before, after) = (&t[..pos], &t[pos + MARKER.len()..]);
    let Some(k) = before.find("://") else {
        return false;
    };
    let scheme = &before[..k];
    let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let auth_before = &before[k + 3..];
    if !is_scheme || auth_before.contains(['/', '?', '#']) || !auth_before.contains(':') {
        return false;
    }
    let auth_after = after.split(['/', '?', '#']).next().unwrap_or("");
    auth_after.contains('@')
}

fn url_holds_marker_password(text: &str) -> bool {
    marker_count(text) == 1 && in_url_password(text)
}

/// Whether the knexfile holds the marker exactly once, as a password: in a `password` value, or
/// in the password of a `url` value (only `url` is read as a URL: a URL given as, say, `host` is
/// a host name to dbtool, shown as it is).
fn knexfile_holds_marker_password(text: &str, env: &Env) -> bool {
    if text.matches(MARKER).count() != 1 {
        return false;
    }
    match text.parse::<toml::Table>() {
        Ok(doc) => {
            let mut hits = Vec::new();
            let total = count_in_table(&doc, env, &mut hits);
            total == 1 && hits.len() == 1 && {
                let (key, value) = &hits[0];
                match expand(value, env) {
                    // A `${MARKER}` is a variable's name, gone once expanded.
                    Ok(e) => {
                        e.contains(MARKER)
                            && (key == "password" || (key == "url" && in_url_password(&e)))
                    }
                    Err(()) => {
                        !in_variable_name(value)
                            && (key == "password" || (key == "url" && in_url_password(value)))
                    }
                }
            }
        }
        // Not TOML: only the syntax error is shown. Judge by the line.
        Err(_) => {
            let line = text.lines().find(|l| l.contains(MARKER)).unwrap_or("");
            let t = line.trim_start();
            let is_password_line = t.strip_prefix("password").is_some_and(|r| {
                let r = r.trim_start_matches([' ', '\t']);
                r.strip_prefix('=').is_some_and(|r| {
                    let r = r.trim_start_matches([' ', '\t']);
                    r.starts_with(['"', '\''])
                        && !r[1..r.find(MARKER).unwrap_or(1).max(1)].contains(['"', '\'', '\\'])
                })
            });
            let quoted = line
                .split(['"', '\''])
                .find(|part| part.contains(MARKER))
                .unwrap_or("");
            !in_variable_name(line) && (is_password_line || in_url_password(quoted))
        }
    }
}

/// Counts the marker in every key and string of a table (strings in every form they can take);
/// `hits` gets (key, string) for the strings that hold it.
fn count_in_table(t: &toml::Table, env: &Env, hits: &mut Vec<(String, String)>) -> usize {
    let mut n = 0;
    for (k, v) in t {
        n += k.matches(MARKER).count();
        n += count_in_value(k, v, env, hits);
    }
    n
}

fn count_in_value(
    key: &str,
    v: &toml::Value,
    env: &Env,
    hits: &mut Vec<(String, String)>,
) -> usize {
    match v {
        toml::Value::String(s) => {
            let mut n = marker_count(s);
            if let Ok(e) = expand(s, env) {
                n = n.max(marker_count(&e));
            }
            if n > 0 {
                hits.push((key.to_owned(), s.clone()));
            }
            n
        }
        toml::Value::Table(t) => count_in_table(t, env, hits),
        toml::Value::Array(a) => a.iter().map(|v| count_in_value(key, v, env, hits)).sum(),
        _ => 0,
    }
}

/// Whether the marker is (part of) a variable name in `${NAME}` or `${NAME:-…}`.
fn in_variable_name(s: &str) -> bool {
    let Some(pos) = s.find(MARKER) else {
        return false;
    };
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let before = s[..pos].trim_end_matches(name_char);
    let after = s[pos + MARKER.len()..].trim_start_matches(name_char);
    before.ends_with("${") && (after.starts_with('}') || after.starts_with(":-"))
}

/// dbtool's own `${VAR}` / `${VAR:-default}` / `$$` expansion: the marker check must see what
/// the knexfile's strings become.
fn expand(s: &str, env: &Env) -> Result<String, ()> {
    dbtool::config::expand(s, env).map_err(|_| ())
}
