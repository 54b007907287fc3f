//! Test fixtures: a fresh database per test on the real server, a temporary project, and the
//! real binary.
//!
//! The server comes from `DBTOOL_TEST_URL` (default `mysql://root@127.0.0.1:3306`). If it does
//! not answer, tests fail loudly: they are never skipped.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

pub fn server_url() -> String {
    std::env::var("DBTOOL_TEST_URL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "mysql://root@127.0.0.1:3306".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A connection to the test server for setting up and checking.
pub struct Server {
    rt: tokio::runtime::Runtime,
    conn: mysql_async::Conn,
}

impl Server {
    pub fn connect(db: Option<&str>) -> Server {
        let rt = runtime();
        let url = match db {
            Some(d) => format!("{}/{d}", server_url()),
            None => format!("{}/", server_url()),
        };
        let opts = mysql_async::Opts::from_url(&url).expect("DBTOOL_TEST_URL is a mysql:// URL");
        let opts = mysql_async::OptsBuilder::from_opts(opts).prefer_socket(false);
        let conn = rt
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(10), mysql_async::Conn::new(opts)).await
            })
            .unwrap_or_else(|_| {
                panic!("the test server at {} did not answer in 10 s", redact(&url))
            })
            .unwrap_or_else(|e| {
                panic!(
                    "cannot connect to the test server at {} ({e}); start MariaDB or set \
                     DBTOOL_TEST_URL",
                    redact(&url)
                )
            });
        Server { rt, conn }
    }

    pub fn exec(&mut self, sql: &str) {
        let conn = &mut self.conn;
        self.rt
            .block_on(conn.query_drop(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub fn try_exec(&mut self, sql: &str) -> Result<(), String> {
        let conn = &mut self.conn;
        self.rt
            .block_on(conn.query_drop(sql))
            .map_err(|e| e.to_string())
    }

    /// Rows as strings (NULL as None).
    pub fn rows(&mut self, sql: &str) -> Vec<Vec<Option<String>>> {
        let conn = &mut self.conn;
        let rows: Vec<mysql_async::Row> = self
            .rt
            .block_on(conn.query(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.into_iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| match r.as_ref(i) {
                        Some(mysql_async::Value::NULL) | None => None,
                        Some(mysql_async::Value::Bytes(b)) => {
                            Some(String::from_utf8_lossy(b).into_owned())
                        }
                        Some(v) => Some(v.as_sql(true)),
                    })
                    .collect()
            })
            .collect()
    }

    /// The first column of the first row.
    pub fn value(&mut self, sql: &str) -> Option<String> {
        self.rows(sql)
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next().flatten())
    }

    pub fn count(&mut self, sql: &str) -> u64 {
        self.value(sql).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    pub fn id(&self) -> u32 {
        self.conn.id()
    }

    /// Whether the server is MariaDB (its VERSION() says so; MySQL's never does).
    pub fn is_mariadb(&mut self) -> bool {
        self.value("SELECT VERSION()")
            .is_some_and(|v| v.contains("MariaDB"))
    }
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if url[s + 3..at].contains(':') => {
            let colon = s + 3 + url[s + 3..at].find(':').unwrap();
            format!("{}:***{}", &url[..colon], &url[at..])
        }
        _ => url.to_owned(),
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A uniquely named database, dropped at the end of the test.
pub struct TestDb {
    pub name: String,
    pub server: Server,
}

impl TestDb {
    pub fn new() -> TestDb {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("dbtool_t{}_{n}_{}", std::process::id(), nanos % 100_000);
        let mut server = Server::connect(None);
        server.exec(&format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"));
        server.exec(&format!("USE `{name}`"));
        TestDb { name, server }
    }

    pub fn url(&self) -> String {
        format!("{}/{}", server_url(), self.name)
    }

    pub fn tables(&mut self) -> Vec<String> {
        let name = self.name.clone();
        self.server
            .rows(&format!(
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{name}' \
                 ORDER BY TABLE_NAME"
            ))
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect()
    }

    pub fn has_table(&mut self, t: &str) -> bool {
        self.tables().iter().any(|x| x == t)
    }

    /// (version, state, statements_done, batch) of every ledger row.
    pub fn ledger(&mut self) -> Vec<(String, String, u32, u32)> {
        self.ledger_with("batch")
    }

    /// (version, state, statements_done, <column>) of every ledger row, by version.
    pub fn ledger_with(&mut self, column: &str) -> Vec<(String, String, u32, u32)> {
        self.server
            .rows(&format!(
                "SELECT version, state, statements_done, {column} FROM dbtool_migrations ORDER BY version"
            ))
            .into_iter()
            .map(|r| {
                (
                    r[0].clone().unwrap(),
                    r[1].clone().unwrap(),
                    r[2].as_deref().unwrap().parse().unwrap(),
                    r[3].as_deref().unwrap().parse().unwrap(),
                )
            })
            .collect()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let mut s = Server::connect(None);
        let _ = s.try_exec(&format!("DROP DATABASE IF EXISTS `{}`", self.name));
    }
}

/// A temporary project folder with a knexfile pointing at a test database.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub url: String,
    pub env: Vec<(String, String)>,
}

impl Project {
    pub fn new(db: &TestDb) -> Project {
        Self::with_url(&db.url())
    }

    pub fn with_url(url: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("db/migrations")).unwrap();
        std::fs::create_dir_all(dir.path().join("db/seeds")).unwrap();
        let p = Project {
            dir,
            url: url.to_owned(),
            env: Vec::new(),
        };
        p.write(
            "knexfile.toml",
            &format!("[development]\nurl = \"{url}\"\nlock_timeout = 30\n"),
        );
        p
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn write_bytes(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }

    pub fn remove(&self, rel: &str) {
        std::fs::remove_file(self.dir.path().join(rel)).unwrap();
    }

    /// Writes `db/migrations/<id>.up.sql` (and `.down.sql` if given).
    pub fn migration(&self, id: &str, up: &str, down: Option<&str>) {
        self.write(&format!("db/migrations/{id}.up.sql"), up);
        if let Some(d) = down {
            self.write(&format!("db/migrations/{id}.down.sql"), d);
        }
    }

    pub fn seed(&self, name: &str, text: &str) {
        self.write(&format!("db/seeds/{name}"), text);
    }

    /// The example project of the repository, copied in.
    pub fn example(db: &TestDb) -> Project {
        let p = Project::new(db);
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for rel in [
            "db/migrations/20240101000000_create_accounts.up.sql",
            "db/migrations/20240101000000_create_accounts.down.sql",
            "db/seeds/01_accounts.sql",
        ] {
            p.write(rel, &std::fs::read_to_string(root.join(rel)).unwrap());
        }
        p
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_dbtool"));
        c.args(args)
            .current_dir(self.dir.path())
            .env_remove("DATABASE_URL")
            .env_remove("DBTOOL_ENV")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Starts the binary with its output captured; `Run::from(child.wait_with_output())`.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.cmd(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.cmd(args).output().unwrap())
    }
}

/// What a run of the binary gave.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "expected success:\n{self}");
        self
    }

    #[track_caller]
    pub fn code(self, code: i32) -> Run {
        assert_eq!(self.code, code, "expected exit {code}:\n{self}");
        self
    }

    #[track_caller]
    pub fn stderr_has(self, text: &str) -> Run {
        assert!(self.stderr.contains(text), "stderr lacks {text:?}:\n{self}");
        self
    }

    #[track_caller]
    pub fn stdout_has(self, text: &str) -> Run {
        assert!(self.stdout.contains(text), "stdout lacks {text:?}:\n{self}");
        self
    }

    #[track_caller]
    pub fn stdout_lacks(self, text: &str) -> Run {
        assert!(!self.stdout.contains(text), "stdout has {text:?}:\n{self}");
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{self}"))
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}---",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Polls `check` until it is true or `timeout` passes; panics with `what` on timeout.
pub fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A seed of 100-row INSERTs into `big (id INT PRIMARY KEY, pad VARCHAR(100))`, each row's pad
/// `pad` bytes, until the text passes `bytes`; and how many rows it holds.
pub fn big_insert_seed(pad: usize, bytes: usize) -> (String, u64) {
    let row = "x".repeat(pad);
    let mut sql = String::with_capacity(bytes + (1 << 20));
    let mut id = 0;
    while sql.len() < bytes {
        sql.push_str("INSERT INTO big VALUES ");
        for k in 0..100 {
            id += 1;
            if k > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("({id},'{row}')"));
        }
        sql.push_str(";\n");
    }
    (sql, id)
}

/// Waits until no connection other than the checker's works on the database.
pub fn wait_quiet(db: &mut TestDb) {
    let name = db.name.clone();
    let me = db.server.id();
    wait_until(
        "the killed run's connection to end",
        Duration::from_secs(30),
        || {
            db.server.count(&format!(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = '{name}' AND ID <> {me}"
        )) == 0
        },
    );
}
