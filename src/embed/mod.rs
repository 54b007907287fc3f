//! Migrations and seeds carried inside a binary, with the exact bytes of the files (so the
//! same checksums as the CLI computes from the files on disk, and no drift between the two).
//!
//! In the build script of the crate that embeds them (with dbtool as a build dependency):
//!
//! ```no_run
//! // build.rs, in fn main():
//! let out = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("dbtool_files.rs");
//! dbtool::embed::write(std::path::Path::new("."), &out).unwrap();
//! ```
//!
//! and in the program:
//!
//! ```ignore
//! static FILES: &[dbtool::embed::EmbeddedFile] =
//!     include!(concat!(env!("OUT_DIR"), "/dbtool_files.rs"));
//! let applied = dbtool::Migrator::embedded("mysql://app@db:3306/app", FILES)?.latest()?;
//! ```
//!
//! (`ignore`: it needs a build script's output. `examples/embedded.rs` is that program for the
//! repository's example project; `cargo test` builds it and `tests/it/library.rs` makes the same
//! calls against the server.)

#[path = "generate.rs"]
mod generate;

use std::path::Path;

/// One embedded file: its path relative to the project (`db/migrations/…`) and its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedFile {
    pub path: &'static str,
    pub text: &'static str,
}

/// The project's `.sql` files under `db/migrations` and `db/seeds`, relative to `root`, sorted.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("dbtool-doc-{}", std::process::id()));
/// std::fs::create_dir_all(dir.join("db/migrations")).unwrap();
/// std::fs::write(dir.join("db/migrations/1_a.up.sql"), "CREATE TABLE a (id INT);\n").unwrap();
/// assert_eq!(dbtool::embed::files(&dir).unwrap(), ["db/migrations/1_a.up.sql"]);
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn files(root: &Path) -> std::io::Result<Vec<String>> {
    generate::sql_files(root, &["db/migrations", "db/seeds"])
}

/// Writes to `out` the Rust source of the `&[EmbeddedFile]` list of the project at `root`
/// (for `include!` in the program), and tells cargo to rebuild when the folders change.
pub fn write(root: &Path, out: &Path) -> std::io::Result<()> {
    let root = root.canonicalize()?;
    for d in ["db/migrations", "db/seeds"] {
        println!("cargo:rerun-if-changed={}", root.join(d).display());
    }
    let files = files(&root)?;
    for f in &files {
        println!("cargo:rerun-if-changed={}", root.join(f).display());
    }
    std::fs::write(out, generate::source(&root, &files))
}
