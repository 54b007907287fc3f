//! A read-only server (a replica) is refused before anything runs. Setting `read_only` changes
//! the whole server, so this test has a binary of its own: cargo runs test binaries one after
//! another, and nothing else runs beside it on this server.

#![allow(unreachable_pub)] // a test crate: nothing in it is reachable from outside

#[path = "it/helpers.rs"]
mod helpers;

use helpers::*;

/// Turns the server's `read_only` back off, even when the test fails.
struct ReadOnly(Server);

impl Drop for ReadOnly {
    fn drop(&mut self) {
        self.0.exec("SET GLOBAL read_only = 0");
    }
}

#[test]
fn a_read_only_server_is_refused_before_anything_runs() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.migration("1_a", "CREATE TABLE a (id INT);\n", None);
    p.seed("s.sql", "DO 1;\n");
    let mut admin = Server::connect(None);
    admin.exec("SET GLOBAL read_only = 1");
    let guard = ReadOnly(admin);
    // root may write despite read_only (SUPER): dbtool refuses anyway, a replica is the wrong
    // target whoever connects.
    for args in [
        &["migrate:latest"][..],
        &["seed:run"],
        &["migrate:import", "--from", "dbmate"],
    ] {
        let r = p.run(args).code(2);
        assert!(
            r.stderr
                .contains("the server is read-only (read_only = ON)"),
            "{args:?}: {r}"
        );
    }
    drop(guard);
    assert!(!db.has_table("a") && !db.has_table("dbtool_migrations"));
    // Read-only commands still work on a replica.
    let mut admin = Server::connect(None);
    admin.exec("SET GLOBAL read_only = 1");
    let guard = ReadOnly(admin);
    p.run(&["migrate:status"]).ok().stdout_has("1 pending");
    drop(guard);
    p.run(&["migrate:latest"]).ok();
    assert!(db.has_table("a"));
}
