//! dbtool as a library: `Migrator` on the real server, with the example project embedded at
//! compile time (build.rs, the generator of `dbtool::embed`).

use crate::helpers::*;

static FILES: &[dbtool::embed::EmbeddedFile] =
    include!(concat!(env!("OUT_DIR"), "/example_project.rs"));

#[test]
fn embedded_files_migrate_and_their_checksums_are_the_clis() {
    let mut db = TestDb::new();
    assert!(
        FILES
            .iter()
            .any(|f| f.path.ends_with("_create_accounts.up.sql"))
    );
    let m = dbtool::Migrator::embedded(&db.url(), FILES).unwrap();
    let applied = m.latest().unwrap();
    assert_eq!(
        applied["applied"][0]["version"], "20240101000000",
        "{applied}"
    );
    let seeded = m.seed().unwrap();
    assert_eq!(seeded["seeds"][0]["ran"], true, "{seeded}");
    assert_eq!(db.server.count("SELECT COUNT(*) FROM accounts"), 3);
    let status = m.status().unwrap();
    assert_eq!(status["counts"]["applied"], 1, "{status}");
    // The CLI, on the files on disk, finds no drift: the same bytes, the same checksums.
    let p = Project::example(&db);
    p.run(&["migrate:validate"]).ok();
    let recorded = db
        .server
        .value("SELECT checksum FROM dbtool_migrations")
        .unwrap();
    let on_disk = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("db/migrations/20240101000000_create_accounts.up.sql"),
    )
    .unwrap();
    assert_eq!(recorded, dbtool::files::checksum(&on_disk).to_string());
    // Nothing left to do; the private folder goes with the Migrator.
    assert_eq!(m.latest().unwrap()["applied"], serde_json::json!([]));
    drop(m);
}

#[test]
fn a_failure_is_an_error_with_the_clis_message_and_exit_code() {
    let db = TestDb::new();
    let p = Project::new(&db);
    p.migration("1_ok", "CREATE TABLE ok (id INT);\n", None);
    p.migration("2_bad", "CREATE TABLE bad (id INT;\n", None);
    let m = dbtool::Migrator::new(&db.url(), p.path()).unwrap();
    let e = m.latest().unwrap_err();
    assert_eq!(e.exit_code, 1);
    assert!(
        e.message
            .contains("db/migrations/2_bad.up.sql:1: statement 1 of 1 failed"),
        "{e}"
    );
    // What ran before the failure comes with the error.
    let partial = e.partial.expect("the first migration's result");
    assert_eq!(partial["applied"][0]["version"], "1", "{partial}");
    assert!(dbtool::Migrator::new("mysql://u@h:99999/x", p.path()).is_err());
}
