//! Migration file names: `<version>_<name>.up.sql` and `<version>_<name>.down.sql` (SPEC §2).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// A migration version: 1-32 ASCII digits compared as a number of any size, so `001` and `1`
/// are the same version and 20-digit versions (beyond u64) order correctly.
///
/// Equality, order and hashing use the number; [`Version::as_str`] keeps the digits as written
/// in the file name, which is what users see and what the ledger stores.
#[derive(Clone)]
pub struct Version {
    text: String,
    /// Index of the first significant digit in `text` (the last digit for zero).
    skip: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a version is 1 to 32 digits (0-9), got {0:?}")]
pub struct BadVersion(pub String);

impl Version {
    pub const MAX_DIGITS: usize = 32;

    /// The digits as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The digits without leading zeros: the number itself.
    pub fn number(&self) -> &str {
        &self.text[self.skip..]
    }

    /// The form the ledger stores and every comparison uses: the number without leading zeros
    /// (`001` and `1` are one version, so they must be one ledger key).
    pub fn canonical(&self) -> &str {
        self.number()
    }
}

impl FromStr for Version {
    type Err = BadVersion;

    fn from_str(s: &str) -> Result<Self, BadVersion> {
        if s.is_empty() || s.len() > Self::MAX_DIGITS || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BadVersion(s.chars().take(40).collect()));
        }
        let skip = s.bytes().position(|b| b != b'0').unwrap_or(s.len() - 1);
        Ok(Version {
            text: s.to_owned(),
            skip,
        })
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.number() == other.number()
    }
}

impl Eq for Version {}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.number(), other.number());
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Hash for Version {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.number().hash(state);
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.text)
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({})", self.text)
    }
}

/// Which half of a migration a file holds, and which way a step runs: the one encoding of
/// up/down in dbtool (files, plans, the runner and the ledger's `direction` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    /// As the ledger's `direction` column and JSON write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }

    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "up" => Some(Direction::Up),
            "down" => Some(Direction::Down),
            _ => None,
        }
    }
}

/// A parsed migration file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationName {
    pub version: Version,
    pub name: String,
    pub direction: Direction,
}

/// Why a `.sql` file name is not a migration name. The message says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadName {
    #[error("expected <version>_<name>.up.sql or <version>_<name>.down.sql")]
    Pattern,
    #[error("the version must be 1 to 32 digits before the first `_`")]
    Version,
    #[error("the name after `<version>_` is empty")]
    EmptyName,
    #[error("the name must not contain a path separator")]
    Separator,
}

/// Parses `file_name` (no directories). Returns `Ok(None)` for files that are not SQL at all
/// (README.md, .gitkeep), which discovery ignores.
pub fn parse_migration_name(file_name: &str) -> Result<Option<MigrationName>, BadName> {
    let lower = file_name.to_ascii_lowercase();
    if !lower.ends_with(".sql") {
        return Ok(None);
    }
    let (stem, direction) = if let Some(stem) = file_name.strip_suffix(".up.sql") {
        (stem, Direction::Up)
    } else if let Some(stem) = file_name.strip_suffix(".down.sql") {
        (stem, Direction::Down)
    } else {
        return Err(BadName::Pattern);
    };
    let Some((version, name)) = stem.split_once('_') else {
        return Err(if stem.bytes().all(|b| b.is_ascii_digit()) {
            BadName::EmptyName
        } else {
            BadName::Pattern
        });
    };
    let version: Version = version.parse().map_err(|_| BadName::Version)?;
    if name.is_empty() {
        return Err(BadName::EmptyName);
    }
    if name.contains(['/', '\\']) {
        return Err(BadName::Separator);
    }
    Ok(Some(MigrationName {
        version,
        name: name.to_owned(),
        direction,
    }))
}

/// `"Create accounts"` -> `"create_accounts"`: what `migrate:make` and `seed:make` write.
/// Runs of anything but letters and digits become one `_`; the result is lowercase.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.trim().chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_alphanumeric() {
            // camelCase and PascalCase words (`addIndexToPosts`, `HTTPServer`) split where
            // a capital starts a new word, as Knex users write them.
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1);
            let starts_word = c.is_uppercase()
                && prev.is_some_and(|p| {
                    p.is_lowercase()
                        || p.is_ascii_digit()
                        || (p.is_uppercase() && next.is_some_and(|n| n.is_lowercase()))
                });
            if starts_word && !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn versions_compare_as_numbers_of_any_size() {
        assert_eq!(v("001"), v("1"));
        assert_eq!(v("000"), v("0"));
        assert!(v("9") < v("10"));
        assert!(v("0009") < v("10"));
        assert!(v("99999999999999999999") < v("100000000000000000000"));
        assert_eq!(v("007").as_str(), "007");
        assert_eq!(v("007").number(), "7");
        assert!("".parse::<Version>().is_err());
        assert!("12a".parse::<Version>().is_err());
        assert!("1".repeat(33).parse::<Version>().is_err());
        assert!("1".repeat(32).parse::<Version>().is_ok());
    }

    #[test]
    fn file_names() {
        let ok = parse_migration_name("20260101120000_create_accounts.up.sql")
            .unwrap()
            .unwrap();
        assert_eq!(ok.version, v("20260101120000"));
        assert_eq!(ok.name, "create_accounts");
        assert_eq!(ok.direction, Direction::Up);
        let down = parse_migration_name("1_Add-Index.v2.down.sql")
            .unwrap()
            .unwrap();
        assert_eq!(
            (down.name.as_str(), down.direction),
            ("Add-Index.v2", Direction::Down)
        );
        assert_eq!(parse_migration_name("README.md"), Ok(None));
        assert_eq!(parse_migration_name(".gitkeep"), Ok(None));
        assert_eq!(
            parse_migration_name("create_users.sql"),
            Err(BadName::Pattern)
        );
        assert_eq!(
            parse_migration_name("001_create.sql"),
            Err(BadName::Pattern)
        );
        assert_eq!(
            parse_migration_name("001_create.UP.SQL"),
            Err(BadName::Pattern)
        );
        assert_eq!(parse_migration_name("001.up.sql"), Err(BadName::EmptyName));
        assert_eq!(parse_migration_name("001_.up.sql"), Err(BadName::EmptyName));
        assert_eq!(parse_migration_name("v1_x.up.sql"), Err(BadName::Version));
        assert_eq!(parse_migration_name("x.up.sql"), Err(BadName::Pattern));
        assert_eq!(
            parse_migration_name("1_a\\b.up.sql"),
            Err(BadName::Separator)
        );
        let long = format!("{}_x.up.sql", "1".repeat(33));
        assert_eq!(parse_migration_name(&long), Err(BadName::Version));
    }

    #[test]
    fn snake_case_names() {
        assert_eq!(snake_case("Create accounts"), "create_accounts");
        assert_eq!(snake_case("  Add   Index -- v2 "), "add_index_v2");
        assert_eq!(snake_case("already_snake"), "already_snake");
        assert_eq!(snake_case("Café Ünïcode"), "café_ünïcode");
        assert_eq!(snake_case("!!!"), "");
        assert_eq!(snake_case("addIndexToPosts"), "add_index_to_posts");
        assert_eq!(
            snake_case("CreateHTTPServer2Log"),
            "create_http_server2_log"
        );
        assert_eq!(snake_case("add2FAColumn"), "add2_fa_column");
    }
}
