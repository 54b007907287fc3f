// Shared by dbtool's own build script (for its example program) and by `dbtool::embed`:
// the Rust source of a list of a project's migration and seed files, each embedded with
// `include_str!`, so a binary carries exactly the bytes of the files (and so their checksums).

/// The `.sql` files under `root/db/migrations` and `root/db/seeds` (or the folders given),
/// relative to `root` with `/` separators, sorted.
pub(crate) fn sql_files(root: &std::path::Path, dirs: &[&str]) -> std::io::Result<Vec<String>> {
    fn walk(
        base: &std::path::Path,
        dir: &std::path::Path,
        out: &mut Vec<String>,
    ) -> std::io::Result<()> {
        if !dir.is_dir() {
            return Ok(());
        }
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(base, &path, out)?;
            } else if path.extension().is_some_and(|e| e == "sql") {
                let rel = path.strip_prefix(base).unwrap_or(&path);
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push(parts.join("/"));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for d in dirs {
        walk(root, &root.join(d), &mut out)?;
    }
    out.sort();
    Ok(out)
}

/// The source of a `&[dbtool::embed::EmbeddedFile]` expression holding `files` (paths relative
/// to `root`), each through `include_str!` of its absolute path.
pub(crate) fn source(root: &std::path::Path, files: &[String]) -> String {
    let mut s = String::from("&[\n");
    for f in files {
        let abs = root.join(f);
        s.push_str(&format!(
            "    dbtool::embed::EmbeddedFile {{ path: {:?}, text: include_str!({:?}) }},\n",
            f,
            abs.display().to_string()
        ));
    }
    s.push(']');
    s
}
