//! Links the `dbtool` binary as a position-dependent executable: the dynamic loader then has
//! no relocations to apply to ~230 KiB of tables at every start, which keeps the resident set
//! of a short-lived CLI smaller (docs/PERFORMANCE.md).
fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
