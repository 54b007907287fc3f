//! The one helper that turns a name into a quoted SQL identifier, rejecting odd names.
//!
//! Table names come from the knexfile; database names from a URL. Values are always bound as
//! parameters, but identifiers cannot be, so they pass through here: a table name must be 1-64
//! ASCII letters, digits, `_` or `$`; a database name may hold more (MySQL allows `my-app`) but
//! never a backtick, a NUL or a trailing space, and at most 64 characters.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadIdent {
    #[error("a name cannot be empty")]
    Empty,
    #[error("{0:?} is longer than 64 characters")]
    TooLong(String),
    #[error("{0:?} may only contain ASCII letters, digits, `_` and `$`")]
    Chars(String),
    #[error("{0:?} contains a backtick, a NUL or a trailing space")]
    Unquotable(String),
}

/// A validated identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ident(String);

impl Ident {
    /// A table name from the configuration.
    pub fn table(name: &str) -> Result<Ident, BadIdent> {
        Self::check_len(name)?;
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        {
            return Err(BadIdent::Chars(name.to_owned()));
        }
        Ok(Ident(name.to_owned()))
    }

    /// A database name.
    pub fn database(name: &str) -> Result<Ident, BadIdent> {
        Self::check_len(name)?;
        if name.contains(['`', '\0']) || name.ends_with(' ') {
            return Err(BadIdent::Unquotable(name.to_owned()));
        }
        Ok(Ident(name.to_owned()))
    }

    fn check_len(name: &str) -> Result<(), BadIdent> {
        match name.chars().count() {
            0 => Err(BadIdent::Empty),
            1..=64 => Ok(()),
            _ => Err(BadIdent::TooLong(name.chars().take(70).collect())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The quoted form, `` `name` ``, ready to put in SQL text.
impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        assert_eq!(
            Ident::table("dbtool_migrations").unwrap().to_string(),
            "`dbtool_migrations`"
        );
        assert!(Ident::table("a$b_1").is_ok());
        for bad in ["", "a`b", "a'b", "a\"b", "a b", "a;b", "a.b", "é"] {
            assert!(Ident::table(bad).is_err(), "{bad:?}");
        }
        assert!(Ident::table(&"x".repeat(64)).is_ok());
        assert!(matches!(
            Ident::table(&"x".repeat(65)),
            Err(BadIdent::TooLong(_))
        ));
    }

    #[test]
    fn database_names() {
        assert_eq!(Ident::database("my-app").unwrap().to_string(), "`my-app`");
        assert!(Ident::database("a`b").is_err());
        assert!(Ident::database("trailing ").is_err());
        assert!(Ident::database("").is_err());
        assert!(Ident::database(&"d".repeat(65)).is_err());
    }
}
