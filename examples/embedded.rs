//! A service that carries its migrations and seeds inside its binary and brings its database
//! up to date as it starts: the repository's example project (`db/`), embedded at compile
//! time by the build script (`dbtool::embed`).
//!
//!     DATABASE_URL=mysql://root@127.0.0.1:3306/dbtool_example cargo run --example embedded

static FILES: &[dbtool::embed::EmbeddedFile] =
    include!(concat!(env!("OUT_DIR"), "/example_project.rs"));

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/dbtool_example".to_owned());
    let migrator = dbtool::Migrator::embedded(&url, FILES)?;
    let applied = migrator.latest()?;
    let seeded = migrator.seed()?;
    let status = migrator.status()?;
    println!(
        "{} embedded files; applied {}; seeds run {}; {}",
        FILES.len(),
        applied["applied"].as_array().map_or(0, Vec::len),
        seeded["seeds"]
            .as_array()
            .map_or(0, |s| s.iter().filter(|x| x["ran"] == true).count()),
        status["counts"]
    );
    Ok(())
}
