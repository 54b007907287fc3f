//! Links the `dbtool` binary as a position-dependent executable: the dynamic loader then has
//! no relocations to apply to ~230 KiB of tables at every start, which keeps the resident set
//! of a short-lived CLI smaller (docs/PERFORMANCE.md).
//!
//! Also writes the embedded list of the example project's files (`db/`) for the example
//! program and the library's tests, with the generator `dbtool::embed::write` uses.

#[path = "src/embed/generate.rs"]
#[allow(dead_code)]
mod generate;

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    let root = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=db");
    let files = generate::sql_files(&root, &["db/migrations", "db/seeds"]).unwrap_or_default();
    for f in &files {
        println!("cargo:rerun-if-changed={f}");
    }
    let _ = std::fs::write(
        out.join("example_project.rs"),
        generate::source(&root, &files),
    );
}
