//! `${VAR}` and `${VAR:-default}` in knexfile strings (SPEC §4).
//!
//! `${VAR:-default}` uses the default when VAR is unset or empty, as in a shell. `$$` stands for
//! one `$`, as in docker-compose, so `$${X}` is the text `${X}`. A `$` before anything else is
//! plain text (passwords may contain it).

use super::{ConfigError, Env};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpandError {
    Unset(String),
    Unterminated,
    /// The `${` at this character (1-based) of the value is not followed by a variable name.
    /// Its text is not kept: a `${` with a typo (a missing `}`) can run on into a password.
    BadName {
        at_char: usize,
    },
}

impl ExpandError {
    pub(crate) fn at(self, at: String) -> ConfigError {
        match self {
            ExpandError::Unset(var) => ConfigError::UnsetVar { at, var },
            ExpandError::Unterminated => ConfigError::Invalid {
                at,
                problem: "`${` without its closing `}`".into(),
            },
            // The text after `${` is not shown: with a `}` missing it runs on into the rest of
            // the value, which may be a password (`mysql://${DB_USER:pw@${DB_HOST}/db`).
            ExpandError::BadName { at_char } => ConfigError::Invalid {
                at,
                problem: format!(
                    "the `${{` at character {at_char} is not followed by a variable name \
                     (write ${{NAME}} or ${{NAME:-default}}, NAME made of letters, digits and _; \
                     write $$ for a literal $)"
                ),
            },
        }
    }
}

pub fn expand(s: &str, env: &Env) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(r) = after.strip_prefix('{') {
            let end = r.find('}').ok_or(ExpandError::Unterminated)?;
            let inner = &r[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            let valid = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                let dollar = s.len() - rest.len() + i;
                return Err(ExpandError::BadName {
                    at_char: s[..dollar].chars().count() + 1,
                });
            }
            match (
                env.get(name).filter(|v| !v.is_empty() || default.is_none()),
                default,
            ) {
                (Some(v), _) => out.push_str(v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => return Err(ExpandError::Unset(name.to_owned())),
            }
            rest = &r[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_like_a_shell() {
        let env = Env::from_pairs([("HOST", "db"), ("EMPTY", ""), ("P", "a$b")]);
        let x = |s: &str| expand(s, &env);
        assert_eq!(x("mysql://${HOST}:3306").unwrap(), "mysql://db:3306");
        assert_eq!(x("${MISSING:-fallback}").unwrap(), "fallback");
        assert_eq!(x("${EMPTY:-fallback}").unwrap(), "fallback");
        assert_eq!(x("${EMPTY}").unwrap(), "");
        assert_eq!(x("${P}").unwrap(), "a$b");
        assert_eq!(x("pa$word$").unwrap(), "pa$word$");
        assert_eq!(x("$${HOST}").unwrap(), "${HOST}");
        assert_eq!(x("${HOST:-}").unwrap(), "db");
        assert_eq!(x("${MISSING:-a:b/c}").unwrap(), "a:b/c");
        assert_eq!(x("${MISSING}"), Err(ExpandError::Unset("MISSING".into())));
        assert_eq!(x("${HOST"), Err(ExpandError::Unterminated));
        assert_eq!(x("${1X}"), Err(ExpandError::BadName { at_char: 1 }));
        assert_eq!(x("${}"), Err(ExpandError::BadName { at_char: 1 }));
        assert_eq!(
            x("é${HOST}${a-b}"),
            Err(ExpandError::BadName { at_char: 9 })
        );
    }

    /// Found by the `config` fuzz target: a `${` whose `}` is missing runs on into the password,
    /// and the error quoted everything up to the next `}`.
    #[test]
    fn a_bad_name_error_does_not_show_the_text_after_the_dollar() {
        let env = Env::from_pairs([]);
        for value in [
            "mysql://${DB_USERy:Pw_SeCrEt_9@TECTED:-yes}",
            "mysql://${DB_USER:Pw_SeCrEt_9@${DB_HOST}/app",
            "Pa${s-Pw_SeCrEt_9}",
        ] {
            let e = expand(value, &env).unwrap_err();
            let message = e
                .clone()
                .at("knexfile.toml:2: development.url".into())
                .to_string();
            assert!(!message.contains("SeCrEt"), "{value}: {message}");
            assert!(!format!("{e:?}").contains("SeCrEt"), "{value}: {e:?}");
            assert!(
                message.contains("is not followed by a variable name"),
                "{message}"
            );
        }
    }
}
