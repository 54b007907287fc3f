//! `--explain`'s verdict on one statement, and the line that says what it means for the live
//! table ("COPY: rebuilds 3.4 GiB (~1,234,567 rows); blocks writes for the whole copy").

use serde::Serialize;

/// What the server would do with one ALTER, found on an empty copy of its table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Explain {
    /// `INSTANT`, `INPLACE` (or the `NOCOPY` a statement asks for) or `COPY`; None when the
    /// statement could not be explained.
    pub(crate) algorithm: Option<String>,
    /// `NONE`, `SHARED` or `EXCLUSIVE`; None for INSTANT (a metadata lock only).
    pub(crate) lock: Option<String>,
    /// The live table the statement changes (for a table renamed earlier in the run, its live
    /// name), or the new table's name.
    pub(crate) table: Option<String>,
    /// information_schema's estimate of the live table's rows (0 for a new table).
    pub(crate) rows: Option<u64>,
    /// information_schema's DATA_LENGTH + INDEX_LENGTH of the live table.
    pub(crate) bytes: Option<u64>,
    /// Whether the table is rebuilt (its data written anew); None when not known.
    pub(crate) rebuilds: Option<bool>,
    pub(crate) consequence: String,
    pub(crate) note: Option<String>,
}

/// How a dry run's verdicts were found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ExplainRun {
    /// The server's `VERSION()`.
    pub(crate) server: String,
    /// The scratch schema the copies were made in (dropped again).
    pub(crate) scratch_schema: String,
    pub(crate) tables_copied: usize,
}

/// The live table an explained statement changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Live {
        name: String,
        rows: u64,
        bytes: u64,
    },
    /// Created earlier in this run.
    New(String),
    Unknown(Option<String>),
}

impl Target {
    fn parts(&self) -> (Option<String>, Option<u64>, Option<u64>) {
        match self {
            Target::Live { name, rows, bytes } => (Some(name.clone()), Some(*rows), Some(*bytes)),
            Target::New(name) => (Some(name.clone()), Some(0), Some(0)),
            Target::Unknown(name) => (name.clone(), None, None),
        }
    }

    /// What is rebuilt or read, in words.
    fn amount(&self) -> String {
        match self {
            Target::Live { rows, bytes, .. } => {
                let unit = if *rows == 1 { "row" } else { "rows" };
                format!("{} (~{} {unit})", human_bytes(*bytes), thousands(*rows))
            }
            Target::New(_) => "the new table (created earlier in this run)".into(),
            Target::Unknown(_) => "the table".into(),
        }
    }
}

/// What the server took for a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Took<'a> {
    pub(crate) algorithm: &'a str,
    pub(crate) lock: Option<&'a str>,
    /// Whether the copy was rebuilt (None: not known).
    pub(crate) rebuilds: Option<bool>,
    /// The statement adds an index (built from every row, even without a rebuild).
    pub(crate) builds_index: bool,
}

impl Explain {
    /// A verdict on `target`.
    pub(crate) fn verdict(took: Took<'_>, target: &Target, note: Option<String>) -> Explain {
        let (table, rows, bytes) = target.parts();
        let rebuilds = match took.algorithm {
            "INSTANT" => Some(false),
            "COPY" => Some(true),
            _ => took.rebuilds,
        };
        Explain {
            algorithm: Some(took.algorithm.to_owned()),
            lock: took.lock.map(str::to_owned),
            table,
            rows,
            bytes,
            rebuilds,
            consequence: consequence(Took { rebuilds, ..took }, target),
            note,
        }
    }

    /// A statement that could not be explained, and why.
    pub(crate) fn unexplained(why: String, target: &Target, note: Option<String>) -> Explain {
        let (table, rows, bytes) = target.parts();
        Explain {
            algorithm: None,
            lock: None,
            table,
            rows,
            bytes,
            rebuilds: None,
            consequence: format!("could not explain: {why}"),
            note,
        }
    }
}

/// One line: the verdict and what it means for the live table.
fn consequence(took: Took<'_>, t: &Target) -> String {
    let Took {
        algorithm,
        lock,
        rebuilds,
        builds_index,
    } = took;
    if algorithm == "INSTANT" {
        return "INSTANT: metadata only, no rebuild (waits for a metadata lock only)".into();
    }
    let amount = t.amount();
    let lock = lock.unwrap_or("DEFAULT");
    let head = if algorithm == "COPY" && lock == "SHARED" {
        "COPY".to_owned()
    } else {
        format!("{algorithm}, LOCK={lock}")
    };
    let online = lock == "NONE";
    let work = match (algorithm, rebuilds) {
        ("COPY", _) if online => format!("copies {amount} online"),
        ("COPY", _) => format!("rebuilds {amount}"),
        (_, Some(true)) if online => format!("rebuilds {amount} online"),
        (_, Some(true)) => format!("rebuilds {amount}"),
        (_, Some(false)) if builds_index => {
            format!("builds the index from {amount}, no table rebuild")
        }
        (_, Some(false)) => "no table rebuild".to_owned(),
        (_, None) => format!("may rebuild {amount}"),
    };
    let whole = if algorithm == "COPY" {
        "the whole copy"
    } else {
        "the whole operation"
    };
    let blocks = match lock {
        "NONE" => "writes continue".to_owned(),
        "SHARED" => format!("blocks writes for {whole}"),
        "EXCLUSIVE" => format!("blocks reads and writes for {whole}"),
        _ => "takes the lock the server chooses".to_owned(),
    };
    format!("{head}: {work}; {blocks}")
}

/// `3.4 GiB`, `512 KiB`, `0 B`.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if v < 10.0 {
        format!("{v:.1} {}", UNITS[unit])
    } else {
        format!("{v:.0} {}", UNITS[unit])
    }
}

/// `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> Target {
        Target::Live {
            name: "orders".into(),
            rows: 1_234_567,
            bytes: 3_650_722_201,
        }
    }

    #[test]
    fn each_verdict_says_what_it_costs_and_what_it_blocks() {
        let line = |algorithm: &str, lock: Option<&str>, rebuilds: Option<bool>| {
            let took = Took {
                algorithm,
                lock,
                rebuilds,
                builds_index: true,
            };
            Explain::verdict(took, &live(), None).consequence
        };
        assert_eq!(
            line("INSTANT", None, None),
            "INSTANT: metadata only, no rebuild (waits for a metadata lock only)"
        );
        assert_eq!(
            line("INPLACE", Some("NONE"), Some(true)),
            "INPLACE, LOCK=NONE: rebuilds 3.4 GiB (~1,234,567 rows) online; writes continue"
        );
        assert_eq!(
            line("INPLACE", Some("NONE"), Some(false)),
            "INPLACE, LOCK=NONE: builds the index from 3.4 GiB (~1,234,567 rows), no table \
             rebuild; writes continue"
        );
        let drop = Took {
            algorithm: "INPLACE",
            lock: Some("NONE"),
            rebuilds: Some(false),
            builds_index: false,
        };
        assert_eq!(
            Explain::verdict(drop, &live(), None).consequence,
            "INPLACE, LOCK=NONE: no table rebuild; writes continue"
        );
        assert_eq!(
            line("INPLACE", Some("SHARED"), Some(true)),
            "INPLACE, LOCK=SHARED: rebuilds 3.4 GiB (~1,234,567 rows); blocks writes for the \
             whole operation"
        );
        assert_eq!(
            line("COPY", Some("SHARED"), None),
            "COPY: rebuilds 3.4 GiB (~1,234,567 rows); blocks writes for the whole copy"
        );
        assert_eq!(
            line("COPY", Some("EXCLUSIVE"), None),
            "COPY, LOCK=EXCLUSIVE: rebuilds 3.4 GiB (~1,234,567 rows); blocks reads and writes \
             for the whole copy"
        );
        assert_eq!(
            line("COPY", Some("NONE"), None),
            "COPY, LOCK=NONE: copies 3.4 GiB (~1,234,567 rows) online; writes continue"
        );
        let copy = Took {
            algorithm: "COPY",
            lock: Some("SHARED"),
            rebuilds: None,
            builds_index: false,
        };
        let new = Explain::verdict(copy, &Target::New("t".into()), None);
        assert_eq!(
            new.consequence,
            "COPY: rebuilds the new table (created earlier in this run); blocks writes for the \
             whole copy"
        );
        assert_eq!(
            (new.rows, new.bytes, new.rebuilds),
            (Some(0), Some(0), Some(true))
        );
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(27 << 20), "27 MiB");
        assert_eq!(human_bytes(3_650_722_201), "3.4 GiB");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
