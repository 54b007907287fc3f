//! Discovery over real folders.

use super::*;
use std::fs;

fn project(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, body) in files {
        let p = dir.path().join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, body).unwrap();
    }
    dir
}

fn paths(dir: &tempfile::TempDir) -> Paths {
    Paths {
        cwd: dir.path().to_path_buf(),
    }
}

#[test]
fn migrations_in_subfolders_are_ordered_by_version() {
    let dir = project(&[
        ("m/2026/20260102000000_b.up.sql", b"SELECT 2;"),
        ("m/2025/20251231000000_a.up.sql", b"SELECT 1;"),
        ("m/2025/20251231000000_a.down.sql", b""),
        ("m/9_nine.up.sql", b""),
        ("m/10_ten.up.sql", b"-- only a comment\n"),
        ("m/README.md", b"# notes"),
        ("m/.gitkeep", b""),
    ]);
    let found = discover_migrations(&dir.path().join("m"), &paths(&dir)).unwrap();
    let ids: Vec<String> = found.iter().map(|m| m.id()).collect();
    assert_eq!(
        ids,
        ["9_nine", "10_ten", "20251231000000_a", "20260102000000_b"]
    );
    assert_eq!(found[2].up.display, "m/2025/20251231000000_a.up.sql");
    assert_eq!(
        found[2].down.as_ref().map(|d| d.display.as_str()),
        Some("m/2025/20251231000000_a.down.sql")
    );
    assert!(found[3].down.is_none());
    assert_eq!(found[3].checksum, checksum(b"SELECT 2;"));
}

#[test]
fn every_problem_is_reported_at_once() {
    let dir = project(&[
        ("m/001_a.up.sql", b"SELECT 1;"),
        ("m/sub/1_b.up.sql", b"SELECT 1;"),
        ("m/2_orphan.down.sql", b""),
        ("m/3_c.up.sql", b"SELECT 3;"),
        ("m/3_other_name.down.sql", b""),
        ("m/create_users.sql", b""),
        ("m/4_bad.up.sql", b"SELECT '\xff';"),
        ("m/5_x.UP.SQL", b""),
    ]);
    let err = discover_migrations(&dir.path().join("m"), &paths(&dir)).unwrap_err();
    let text = err.to_string();
    assert_eq!(err.0.len(), 6, "{text}");
    assert!(text.starts_with("6 problems"), "{text}");
    for want in [
        "m/sub/1_b.up.sql: version 1 is also used by m/001_a.up.sql",
        "m/2_orphan.down.sql: down file without its up file (expected m/2_orphan.up.sql)",
        "m/3_other_name.down.sql: down file without its up file",
        "m/create_users.sql: misnamed migration file: expected <version>_<name>.up.sql",
        "m/4_bad.up.sql: not valid UTF-8 (first bad byte at offset 8)",
        "m/5_x.UP.SQL: misnamed migration file",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

#[test]
fn a_missing_folder_is_a_problem_not_an_empty_list() {
    let dir = project(&[]);
    let err = discover_migrations(&dir.path().join("nope"), &paths(&dir)).unwrap_err();
    assert!(
        err.to_string().starts_with("nope: folder does not exist"),
        "{err}"
    );
    let dir = project(&[("file", b"")]);
    let err = discover_seeds(&dir.path().join("file"), &paths(&dir)).unwrap_err();
    assert!(err.to_string().contains("is not a folder"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_symlink_loop_is_reported() {
    let dir = project(&[("m/1_a.up.sql", b"")]);
    std::os::unix::fs::symlink(dir.path().join("m"), dir.path().join("m/loop")).unwrap();
    let err = discover_migrations(&dir.path().join("m"), &paths(&dir)).unwrap_err();
    assert!(err.to_string().contains("symlink loop"), "{err}");
}

#[test]
fn seeds_run_in_byte_order_of_their_relative_path() {
    let dir = project(&[
        ("s/02_orders.sql", b""),
        ("s/01_accounts.sql", b""),
        ("s/10/a.sql", b""),
        ("s/B.sql", b""),
        ("s/notes.txt", b""),
    ]);
    let seeds = discover_seeds(&dir.path().join("s"), &paths(&dir)).unwrap();
    let keys: Vec<&str> = seeds.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(
        keys,
        ["01_accounts.sql", "02_orders.sql", "10/a.sql", "B.sql"]
    );
    assert_eq!(seeds[2].file.display, "s/10/a.sql");
}
