//! What a stopped script means: the one mapping from a failed packet (or an oversized
//! statement, or a file that does not split) to the error the user reads, shared by migration
//! steps and seeds.
//!
//! A user statement travels in a packet with dbtool's own statements, so the server's "near
//! '…' at line N" quotes text that runs on into dbtool's ledger writes and counts lines from the
//! statement's start. [`user_message`] cuts the quote at the end of the user's statement and
//! turns the line into the file's.

use crate::db::packet::{FailedAt, PushError, SendFailure, TooLarge};
use crate::db::{Db, DbError, ServerError};
use crate::error::Error;
use crate::sql::SplitError;

/// Why a script stopped, before it becomes an [`Error`].
#[derive(Debug)]
pub(crate) enum Stop {
    Send(SendFailure),
    TooLarge(TooLarge),
    Split(SplitError),
    /// A statement refused before it was sent (see `sql::hazard`).
    Refused {
        line: u64,
        number: u32,
        hazard: crate::sql::hazard::Hazard,
    },
}

impl From<PushError> for Stop {
    fn from(e: PushError) -> Self {
        match e {
            PushError::Send(f) => Stop::Send(f),
            PushError::TooLarge(t) => Stop::TooLarge(t),
        }
    }
}

impl From<SendFailure> for Stop {
    fn from(f: SendFailure) -> Self {
        Stop::Send(f)
    }
}

/// A user statement the server refused.
#[derive(Debug)]
pub(crate) struct Refused {
    pub(crate) number: u32,
    pub(crate) line: u64,
    /// The server's error, its message quoting only the user's statement.
    pub(crate) error: DbError,
    /// The rollback could not undo everything (rows in non-transactional tables stay).
    pub(crate) kept_rows: bool,
}

/// What stopped a script, once settled.
#[derive(Debug)]
pub(crate) enum Settled {
    /// A user statement failed: the caller says what was kept.
    User(Refused),
    /// One of dbtool's own statements (a ledger write or its guard) failed.
    Ledger {
        error: DbError,
        /// It ran before any user statement of its packet.
        before_users: bool,
    },
    /// The run stopped before a packet (a signal came); its open transaction is rolled back.
    Stopped,
    /// Anything else, already the user's error.
    Other(Error),
}

/// Rolls back the open transaction (when the connection still allows) and sorts the stop.
pub(crate) async fn settle(db: &mut Db, path: &str, stop: Stop) -> Settled {
    let lost = matches!(&stop, Stop::Send(f) if f.error.is_lost());
    // Undo the open transaction, if any (a no-op otherwise).
    let kept_rows = !lost && db.rollback().await.unwrap_or(false);
    match stop {
        Stop::Split(source) => Settled::Other(Error::Split {
            path: path.to_owned(),
            source,
        }),
        Stop::Refused {
            line,
            number,
            hazard,
        } => Settled::Other(Error::Refused {
            path: path.to_owned(),
            line,
            number,
            hazard,
        }),
        Stop::TooLarge(t) => Settled::Other(Error::TooLarge {
            path: path.to_owned(),
            line: t.line,
            number: t.number,
            size: t.size,
            max: t.max,
        }),
        Stop::Send(SendFailure {
            at: FailedAt::User { number, line, sql },
            error,
        }) => Settled::User(Refused {
            number,
            line,
            error: match error {
                DbError::Server(e) => DbError::Server(ServerError {
                    message: user_message(&e.message, &sql, line),
                    ..e
                }),
                other => other,
            },
            kept_rows,
        }),
        Stop::Send(SendFailure {
            at: FailedAt::Stopped,
            ..
        }) => Settled::Stopped,
        Stop::Send(SendFailure { at, error }) => Settled::Ledger {
            error,
            before_users: at == FailedAt::Ours,
        },
    }
}

/// The server's message as if the statement (`sql`, starting at file line `line`) had been
/// sent alone: `near '<text>' at line N` quotes only the statement's own text, and N is the
/// file's line. Other messages are returned as they are.
pub(crate) fn user_message(message: &str, sql: &str, line: u64) -> String {
    const NEAR: &str = "near '";
    const AT: &str = "' at line ";
    let (Some(start), Some(end)) = (message.find(NEAR), message.rfind(AT)) else {
        return message.to_owned();
    };
    let quote_start = start + NEAR.len();
    if end < quote_start {
        return message.to_owned();
    }
    let quote = &message[quote_start..end];
    let Ok(n) = message[end + AT.len()..].trim().parse::<u64>() else {
        return message.to_owned();
    };
    // The quote starts somewhere in the statement and runs on (up to the server's cut) past
    // its end into dbtool's statements: keep what is the statement's. A quote wholly inside
    // the statement (the server cut it short) stays as it is.
    let own = if sql.contains(quote) {
        quote
    } else {
        (0..sql.len())
            .filter(|&i| sql.is_char_boundary(i))
            .map(|i| &sql[i..])
            .find(|rest| quote.starts_with(rest))
            .unwrap_or("")
    };
    // An error at the very end is found in the separator after the statement: it is on the
    // statement's last line.
    let last = line.saturating_add(sql.matches('\n').count() as u64);
    format!(
        "{}{own}{AT}{}",
        &message[..quote_start],
        line.saturating_add(n.saturating_sub(1)).min(last)
    )
}

#[cfg(test)]
mod tests {
    use super::user_message;

    const SYNTAX: &str = "You have an error in your SQL syntax; check the manual that \
        corresponds to your MariaDB server version for the right syntax to use near";

    #[test]
    fn the_quote_stops_at_the_users_statement_and_the_line_is_the_files() {
        let m = format!(
            "{SYNTAX} 'TABEL d (id INT)\n;\nSTART TRANSACTION\n;\nUPDATE `x`.`dbtool_mi' at line 1"
        );
        assert_eq!(
            user_message(&m, "CREATE TABEL d (id INT)", 7),
            format!("{SYNTAX} 'TABEL d (id INT)' at line 7")
        );
        // An error on the statement's third line.
        let m = format!("{SYNTAX} 'FROMM x\n;\nINSERT INTO `x`.`dbtool_seeds` (pa' at line 3");
        assert_eq!(
            user_message(&m, "SELECT\n  a,\n  b FROMM x", 10),
            format!("{SYNTAX} 'FROMM x' at line 12")
        );
        // At the very end of the statement the server quotes what follows it.
        let m = format!("{SYNTAX} '\n;\nCOMMIT' at line 1");
        assert_eq!(
            user_message(&m, "SELECT (1", 4),
            format!("{SYNTAX} '' at line 4")
        );
        // A quote cut by the server inside a long statement stays as it is.
        let long = format!("SELECT FROMM {}", "x".repeat(100));
        let m = format!("{SYNTAX} 'FROMM {}' at line 1", "x".repeat(74));
        assert_eq!(
            user_message(&m, &long, 2),
            format!("{SYNTAX} 'FROMM {}' at line 2", "x".repeat(74))
        );
    }

    #[test]
    fn other_messages_are_kept() {
        for m in [
            "Table 'd.t' doesn't exist",
            "Duplicate entry '1' for key 'PRIMARY'",
            "near 'x' without a line",
        ] {
            assert_eq!(user_message(m, "SELECT 1", 3), m);
        }
    }
}
