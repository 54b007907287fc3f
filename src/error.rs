//! The error type, and the one place errors become exit codes (SPEC §9).
//!
//! 0 success · 1 a statement or connection failed · 2 usage, config or migration-files error ·
//! 3 drift detected or a `failed` migration blocks the way · 4 lock not obtained in time ·
//! 5 pending migrations (only `migrate:status --exit-code`, which is not an error).
//!
//! Each variant carries what its message needs (path, line, statement number, server error);
//! each message is written once, here or in the type it wraps.

use std::io;

use crate::config::ConfigError;
use crate::files::FileProblems;
use crate::sql::SplitError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A usage problem: the command line asks for something that cannot be done.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("`{0}` gives an empty file name; use letters or digits")]
    EmptyName(String),
    #[error("{0}")]
    Conflict(&'static str),
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Files(#[from] FileProblems),
    #[error("{path}:{detail}", detail = split_detail(source))]
    Sql { path: String, source: SplitError },
    #[error("{path} already exists; dbtool does not overwrite it")]
    Exists { path: String },
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error(transparent)]
    Usage(#[from] UsageError),
}

/// `12: unterminated …` for errors with a line, ` byte 40: invalid UTF-8` otherwise.
fn split_detail(e: &SplitError) -> String {
    match e {
        SplitError::Unterminated { .. }
        | SplitError::DelimiterMissing { .. }
        | SplitError::DelimiterBackslash { .. } => {
            // The error's own text starts with "line N: "; show it as path:N.
            let text = e.to_string();
            text.strip_prefix("line ").unwrap_or(&text).to_owned()
        }
        SplitError::InvalidUtf8 { .. } | SplitError::Io(_) => format!(" {e}"),
    }
}

impl Error {
    /// The process exit code for this error (SPEC §9).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_)
            | Error::Files(_)
            | Error::Sql { .. }
            | Error::Exists { .. }
            | Error::Io { .. }
            | Error::Usage(_) => 2,
        }
    }

    pub fn io(path: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_errors_read_as_path_and_line() {
        let e = Error::Sql {
            path: "db/seeds/a.sql".into(),
            source: SplitError::Unterminated {
                what: "string `'`",
                line: 12,
            },
        };
        assert_eq!(
            e.to_string(),
            "db/seeds/a.sql:12: unterminated string `'` (it opens here and never closes)"
        );
        assert_eq!(e.exit_code(), 2);
        let e = Error::Sql {
            path: "db/seeds/a.sql".into(),
            source: SplitError::InvalidUtf8 { offset: 40 },
        };
        assert_eq!(e.to_string(), "db/seeds/a.sql: byte 40: invalid UTF-8");
    }
}
