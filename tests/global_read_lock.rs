//! FLUSH TABLES WITH READ LOCK blocks every write on the server, so this test has a binary of
//! its own: cargo runs test binaries one after another, and nothing else runs beside it.

#![allow(unreachable_pub)] // a test crate: nothing in it is reachable from outside

#[path = "it/helpers.rs"]
mod helpers;

use std::io::BufRead;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use helpers::*;

#[test]
fn a_ledger_write_behind_a_global_read_lock_gives_up_after_lock_timeout() {
    let mut db = TestDb::new();
    let p = Project::new(&db);
    p.write(
        "knexfile.toml",
        &format!("[development]\nurl = \"{}\"\nlock_timeout = 3\n", db.url()),
    );
    p.migration("1_a", "CREATE TABLE a (id INT);\n", None);
    p.run(&["migrate:latest"]).ok();
    p.migration("2_b", "CREATE TABLE b (id INT);\n", None);
    let mut blocker = Server::connect(Some(&db.name));
    blocker.exec("FLUSH TABLES WITH READ LOCK");
    let mut child = p
        .cmd(&["migrate:latest"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            sink.lock().unwrap().push(line);
        }
    });
    let mut line = String::new();
    wait_until(
        "dbtool to say what it waits for",
        Duration::from_secs(20),
        || {
            line = lines
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains("has waited"))
                .cloned()
                .unwrap_or_default();
            !line.is_empty()
        },
    );
    assert!(line.contains("global read lock"), "{line}");
    let out = child.wait_with_output().unwrap();
    reader.join().unwrap();
    let r = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: lines.lock().unwrap().join("\n"),
    };
    blocker.exec("UNLOCK TABLES");
    assert_eq!(r.code, 4, "{r}");
    assert!(r.stderr.contains("dbtool stopped its ledger write"), "{r}");
    // Nothing of 2_b ran; the ledger says so; the next run applies it.
    assert!(!db.has_table("b"));
    assert_eq!(db.ledger(), [("1".into(), "applied".into(), 1, 1)]);
    p.run(&["migrate:latest"]).ok();
    assert!(db.has_table("b"));
}
