//! Walking a folder for `.sql` files, with every problem met on the way.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use super::{FileProblem, Paths, Problem};

/// Lists the `.sql` files under `dir` (following symlinks), with every problem met on the way.
pub(super) fn walk(
    dir: &Path,
    paths: &Paths,
    missing_hint: &'static str,
    problems: &mut Vec<FileProblem>,
) -> Vec<PathBuf> {
    let shown = paths.display(dir);
    match fs::metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            problems.push(FileProblem {
                path: shown,
                what: Problem::MissingFolder { hint: missing_hint },
            });
            return Vec::new();
        }
        Err(e) => {
            problems.push(FileProblem {
                path: shown,
                what: Problem::Unreadable(e),
            });
            return Vec::new();
        }
        Ok(m) if !m.is_dir() => {
            problems.push(FileProblem {
                path: shown,
                what: Problem::NotAFolder,
            });
            return Vec::new();
        }
        Ok(_) => {}
    }
    let mut files = Vec::new();
    for entry in WalkDir::new(dir).follow_links(true) {
        match entry {
            Ok(e) => {
                let is_sql = e
                    .file_name()
                    .to_str()
                    .is_none_or(|n| n.to_ascii_lowercase().ends_with(".sql"));
                if e.file_type().is_file() && is_sql {
                    files.push(e.into_path());
                }
            }
            Err(e) => {
                let path = e.path().map(|p| paths.display(p)).unwrap_or(shown.clone());
                let what = match e.loop_ancestor() {
                    Some(a) => Problem::SymlinkLoop {
                        ancestor: paths.display(a),
                    },
                    None => Problem::Unreadable(
                        e.into_io_error()
                            .unwrap_or_else(|| io::Error::other("cannot walk the folder")),
                    ),
                };
                problems.push(FileProblem { path, what });
            }
        }
    }
    files
}
