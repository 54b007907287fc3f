//! Which seeds run (SPEC §8), as pure functions with table tests: each seed's run mode, its
//! checksum against the ledger's, and what the command line asked for.

use crate::files::{Checksum, Mode, SeedFile};
use crate::rows::SeedRow;

/// A seed on disk with what deciding needs to know about it.
#[derive(Debug, Clone)]
pub(crate) struct SeedInfo {
    pub(crate) seed: SeedFile,
    pub(crate) mode: Mode,
    /// Its checksum, when it was computed before the run (status, on-change, --changed).
    pub(crate) checksum: Option<Checksum>,
}

/// Why a seed runs or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Run,
    /// `once`, and it ran before.
    SkipOnce,
    /// `on-change`, and its file is unchanged.
    SkipUnchanged,
    /// `--changed`, and its file is unchanged.
    SkipNotChanged,
    /// Not among `--specific`.
    SkipNotNamed,
}

impl Decision {
    /// Why, as the run's report says it.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Decision::Run => "runs",
            Decision::SkipOnce => "skipped: runs once and already ran",
            Decision::SkipUnchanged => "skipped: on-change and unchanged",
            Decision::SkipNotChanged => "skipped: unchanged (--changed)",
            Decision::SkipNotNamed => "skipped: not named by --specific",
        }
    }
}

/// The state seed:status shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeedState {
    New,
    Changed,
    Unchanged,
    /// In the ledger, no file.
    Missing,
}

impl SeedState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SeedState::New => "new",
            SeedState::Changed => "changed",
            SeedState::Unchanged => "unchanged",
            SeedState::Missing => "missing",
        }
    }
}

/// A seed's state against its ledger row (an unknown checksum counts as changed).
pub(crate) fn state(info: &SeedInfo, row: Option<&SeedRow>) -> SeedState {
    match (row, info.checksum) {
        (None, _) => SeedState::New,
        (Some(r), Some(c)) if r.checksum == c => SeedState::Unchanged,
        (Some(_), _) => SeedState::Changed,
    }
}

/// The ledger row of a seed (paths compare byte for byte).
pub(crate) fn row_of<'a>(rows: &'a [SeedRow], seed: &SeedFile) -> Option<&'a SeedRow> {
    rows.iter().find(|r| r.path == seed.key)
}

/// Decides for every seed (in path order) whether it runs. `named`: the keys `--specific`
/// chose, which run whatever their mode.
pub(crate) fn decide(
    infos: &[SeedInfo],
    rows: &[SeedRow],
    named: Option<&[String]>,
    changed: bool,
) -> Vec<Decision> {
    infos
        .iter()
        .map(|info| {
            if let Some(named) = named {
                return if named.contains(&info.seed.key) {
                    Decision::Run
                } else {
                    Decision::SkipNotNamed
                };
            }
            let row = row_of(rows, &info.seed);
            let st = state(info, row);
            if changed && st == SeedState::Unchanged {
                return Decision::SkipNotChanged;
            }
            match info.mode {
                Mode::Always => Decision::Run,
                Mode::Once if row.is_some() => Decision::SkipOnce,
                Mode::Once => Decision::Run,
                Mode::OnChange if st == SeedState::Unchanged => Decision::SkipUnchanged,
                Mode::OnChange => Decision::Run,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::{SqlFile, checksum};

    fn info(key: &str, mode: Mode, body: Option<&str>) -> SeedInfo {
        SeedInfo {
            seed: SeedFile {
                key: key.into(),
                file: SqlFile {
                    path: key.into(),
                    display: key.into(),
                },
            },
            mode,
            checksum: body.map(|b| checksum(b.as_bytes())),
        }
    }

    fn row(key: &str, body: &str) -> SeedRow {
        SeedRow {
            path: key.into(),
            checksum: checksum(body.as_bytes()),
            last_run_at: String::new(),
            run_count: 1,
        }
    }

    #[test]
    fn modes_changed_and_specific_decide_each_seed() {
        use Decision::*;
        let infos = [
            info("a.sql", Mode::Always, Some("a")),
            info("b.sql", Mode::Once, Some("b")),
            info("c.sql", Mode::OnChange, Some("c2")),
            info("d.sql", Mode::OnChange, Some("d")),
            info("e.sql", Mode::Once, Some("e")),
        ];
        let rows = [
            row("a.sql", "a"),
            row("b.sql", "b"),
            row("c.sql", "c"),
            row("d.sql", "d"),
        ];
        type Case<'a> = (Option<&'a [String]>, bool, [Decision; 5]);
        let cases: [Case<'_>; 3] = [
            (None, false, [Run, SkipOnce, Run, SkipUnchanged, Run]),
            (
                None,
                true,
                [SkipNotChanged, SkipNotChanged, Run, SkipNotChanged, Run],
            ),
            (
                Some(&["b.sql".to_owned()]),
                false,
                [SkipNotNamed, Run, SkipNotNamed, SkipNotNamed, SkipNotNamed],
            ),
        ];
        for (named, changed, want) in cases {
            assert_eq!(
                decide(&infos, &rows, named, changed),
                want,
                "{named:?} {changed}"
            );
        }
    }

    #[test]
    fn paths_compare_byte_for_byte() {
        let rows = [row("Users.sql", "x")];
        let i = info("users.sql", Mode::Once, Some("x"));
        assert_eq!(state(&i, row_of(&rows, &i.seed)), SeedState::New);
        assert_eq!(decide(&[i], &rows, None, false), [Decision::Run]);
    }
}
