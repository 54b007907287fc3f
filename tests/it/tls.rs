//! TLS end to end: every `ssl_mode` against a second MariaDB started for the test with
//! certificates from a test CA (made with the `openssl` command line), and `preferred` /
//! `required` against the main test server, which offers no TLS.
//!
//! The server encrypts a session when `Ssl_cipher` is set for it: each successful run applies
//! a migration that copies its own session's `Ssl_cipher` into a table, which the test reads.
//! Missing tools (`openssl`, `mariadbd`, `mariadb-install-db`, `mariadb`) fail the test: it is
//! never skipped.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::*;

/// The password of the user dbtool logs in as; no output may contain it.
const PASSWORD: &str = "TlsPw_s3cr3t_9f1c";

/// A migration recording whether its own session is encrypted (MariaDB).
const PROBE_UP: &str = "CREATE TABLE tls_probe (cipher VARCHAR(255) NOT NULL);\n\
    INSERT INTO tls_probe (cipher) SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS \
    WHERE VARIABLE_NAME = 'Ssl_cipher';\n";

/// The same for MySQL, which has no information_schema.SESSION_STATUS.
const PROBE_UP_MYSQL: &str = "CREATE TABLE tls_probe (cipher VARCHAR(255) NOT NULL);\n\
    INSERT INTO tls_probe (cipher) SELECT VARIABLE_VALUE FROM performance_schema.session_status \
    WHERE VARIABLE_NAME = 'Ssl_cipher';\n";

/// An executable from PATH or the usual sbin folders (not always on a user's PATH).
fn tool(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the TLS test needs `{name}`, which is not installed (Debian: apt-get install \
                 {package}); it is never skipped"
            )
        })
}

/// Runs a command to completion; panics with its output unless it succeeds.
#[track_caller]
fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn is_root() -> bool {
    run_ok(Command::new("id").arg("-u")).trim() == "0"
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The test PKI in `dir`: `ca.pem` (the test CA), `other-ca.pem` (an unrelated CA), and
/// server key pairs signed by the test CA: `good` (CN=localhost, SAN IP:127.0.0.1 and
/// DNS:localhost), `wrong` (SAN DNS:wrong.example only) and `cn-only` (CN=localhost, no SAN).
fn make_pki(dir: &Path) {
    let openssl = tool("openssl", "openssl");
    let ssl = |args: &[&str]| {
        run_ok(Command::new(&openssl).args(args).current_dir(dir));
    };
    for (ca, cn) in [("ca", "dbtool test CA"), ("other-ca", "unrelated CA")] {
        ssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{ca}.key"),
            "-out",
            &format!("{ca}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={cn}"),
        ]);
    }
    for (name, cn, san) in [
        ("good", "localhost", Some("IP:127.0.0.1,DNS:localhost")),
        ("wrong", "wrong.example", Some("DNS:wrong.example")),
        ("cn-only", "localhost", None),
    ] {
        ssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={cn}"),
        ]);
        let mut ext = String::from(
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\n",
        );
        if let Some(san) = san {
            ext.push_str(&format!("subjectAltName={san}\n"));
        }
        std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
        ssl(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
        ]);
    }
}

/// A MariaDB server of the test's own, with TLS, on a free port of 127.0.0.1. Dropping it stops
/// the server and removes its folder (data, certificates, socket, log), even when a test fails.
struct TlsServer {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
    client: PathBuf,
}

impl TlsServer {
    fn start() -> TlsServer {
        let mariadbd = tool("mariadbd", "mariadb-server");
        let install_db = tool("mariadb-install-db", "mariadb-server");
        let client = tool("mariadb", "mariadb-client");
        let dir = tempfile::Builder::new()
            .prefix("dbtool-tls-")
            .tempdir()
            .unwrap();
        let mut server = TlsServer {
            dir,
            port: 0,
            child: None,
            client,
        };
        let d = server.dir.path().to_owned();
        make_pki(&d);
        std::fs::copy(d.join("good.pem"), d.join("server.pem")).unwrap();
        std::fs::copy(d.join("good.key"), d.join("server.key")).unwrap();
        // As root, mariadbd must be told to stay root (the folder is private to root); as
        // anyone else it runs as that user.
        let user: &[&str] = if is_root() { &["--user=root"] } else { &[] };
        let datadir = format!("--datadir={}", d.join("data").display());
        let small = ["--innodb-log-file-size=4M", "--innodb-buffer-pool-size=16M"];
        run_ok(
            Command::new(&install_db)
                .arg("--no-defaults")
                .arg(&datadir)
                .args([
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                    "--skip-name-resolve",
                ])
                .args(small)
                .args(user),
        );
        // The port comes from binding port 0; if another process takes it before mariadbd
        // does, try another one.
        for attempt in 1..=3 {
            server.port = free_port();
            let log = d.join("error.log");
            let _ = std::fs::remove_file(&log);
            let child = Command::new(&mariadbd)
                .arg("--no-defaults")
                .arg(&datadir)
                .arg(format!("--socket={}", d.join("mysqld.sock").display()))
                .arg(format!("--pid-file={}", d.join("mysqld.pid").display()))
                .arg(format!("--log-error={}", log.display()))
                .arg(format!("--port={}", server.port))
                .arg("--bind-address=127.0.0.1")
                .arg(format!("--ssl-ca={}", d.join("ca.pem").display()))
                .arg(format!("--ssl-cert={}", d.join("server.pem").display()))
                .arg(format!("--ssl-key={}", d.join("server.key").display()))
                .args(["--skip-name-resolve", "--skip-log-bin"])
                .args(small)
                .args(user)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", mariadbd.display()));
            server.child = Some(child);
            match server.wait_ready() {
                Ok(()) => break,
                Err(why) if why.contains("Bind on TCP/IP port") && attempt < 3 => {
                    server.stop();
                }
                Err(why) => panic!("the TLS test server did not start: {why}"),
            }
        }
        // dbtool logs in as a user with a password (to check that none is ever shown);
        // root@127.0.0.1 (empty password) is the test's own way in over TCP.
        server.admin_socket(&format!(
            "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; \
             GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; \
             CREATE USER 'tls_app'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'; \
             GRANT ALL ON *.* TO 'tls_app'@'127.0.0.1';"
        ));
        assert_eq!(server.query("SELECT @@have_ssl"), "YES", "{}", server.log());
        server
    }

    /// Polls (bounded, 30 s) until the server answers a query; Err with its log if it exits
    /// or never answers.
    fn wait_ready(&mut self) -> Result<(), String> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                return Err(format!("mariadbd exited ({status}):\n{}", self.log()));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
                && self.socket_client("SELECT 1").status.success()
            {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(30) {
                return Err(format!("no answer within 30 s:\n{}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log"))
            .unwrap_or_else(|e| format!("(no error.log: {e})"))
    }

    fn socket_client(&self, sql: &str) -> std::process::Output {
        Command::new(&self.client)
            .arg("--no-defaults")
            .arg(format!(
                "--socket={}",
                self.dir.path().join("mysqld.sock").display()
            ))
            .args(["-uroot", "--batch", "--skip-column-names", "-e", sql])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    #[track_caller]
    fn admin_socket(&self, sql: &str) {
        let out = self.socket_client(sql);
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs SQL as root over TCP; the first column of the output, trimmed.
    #[track_caller]
    fn query(&self, sql: &str) -> String {
        run_ok(
            Command::new(&self.client)
                .arg("--no-defaults")
                .args(["--protocol=TCP", "-h127.0.0.1"])
                .arg(format!("-P{}", self.port))
                .args(["-uroot", "--batch", "--skip-column-names", "-e", sql]),
        )
        .trim()
        .to_owned()
    }

    fn path(&self, file: &str) -> String {
        self.dir.path().join(file).display().to_string()
    }

    /// Serves `<name>.pem` / `<name>.key` from now on (FLUSH SSL rereads the files).
    fn use_cert(&self, name: &str) {
        let d = self.dir.path();
        std::fs::copy(d.join(format!("{name}.pem")), d.join("server.pem")).unwrap();
        std::fs::copy(d.join(format!("{name}.key")), d.join("server.key")).unwrap();
        self.query("FLUSH SSL");
    }

    fn url(&self, host: &str, db: &str, params: &str) -> String {
        let q = if params.is_empty() {
            String::new()
        } else {
            format!("?{params}")
        };
        format!("mysql://tls_app:{PASSWORD}@{host}:{}/{db}{q}", self.port)
    }

    /// A fresh database and a one-migration project whose URL is `host` + `params`.
    fn project(&self, db: &str, host: &str, params: &str) -> Project {
        self.query(&format!("CREATE DATABASE `{db}`"));
        probe_project(&self.url(host, db, params))
    }

    /// migrate:latest and migrate:status succeed; the cipher the migration's session used.
    #[track_caller]
    fn migrates(&self, db: &str, host: &str, params: &str) -> String {
        let p = self.project(db, host, params);
        clean(p.run(&["migrate:latest"]).ok());
        let st = clean(p.run(&["migrate:status", "--json"]).ok()).json();
        assert_eq!(st["counts"]["applied"], 1, "{st}");
        self.query(&format!("SELECT cipher FROM `{db}`.tls_probe"))
    }

    /// migrate:latest fails with exit 1 and applies nothing; its stderr.
    #[track_caller]
    fn refuses(&self, db: &str, host: &str, params: &str) -> String {
        let p = self.project(db, host, params);
        let r = clean(p.run(&["migrate:latest"]).code(1));
        assert_eq!(
            self.query(&format!(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{db}'"
            )),
            "0"
        );
        r.stderr
    }

    /// SIGTERM, then SIGKILL after 20 s; waits for the process either way.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        // The shell's kill: /bin/kill (procps) is not in every minimal image.
        let _ = Command::new("sh")
            .args(["-c", &format!("kill -TERM {}", child.id())])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.stop();
        // The TempDir field then removes the folder.
    }
}

fn probe_project(url: &str) -> Project {
    probe_project_for(url, true)
}

fn probe_project_for(url: &str, mariadb: bool) -> Project {
    let p = Project::with_url(url);
    p.migration(
        "20240101000000_tls_probe",
        if mariadb { PROBE_UP } else { PROBE_UP_MYSQL },
        Some("DROP TABLE tls_probe;\n"),
    );
    p
}

/// No run panics or shows the password.
#[track_caller]
fn clean(r: Run) -> Run {
    assert!(!r.stderr.contains("panicked"), "{r}");
    assert!(
        !r.stdout.contains(PASSWORD) && !r.stderr.contains(PASSWORD),
        "the password was shown:\n{r}"
    );
    r
}

#[track_caller]
fn has_all(text: &str, parts: &[&str]) {
    for p in parts {
        assert!(text.contains(p), "lacks {p:?}:\n{text}");
    }
}

/// Every mode against a private MariaDB with certificates from a test CA. (It starts its own
/// MariaDB, so it runs once, in the MariaDB run; `tls_against_the_test_server` covers MySQL.)
#[test]
fn mariadb_only_tls_modes_against_a_tls_server() {
    let s = TlsServer::start();
    let ca = format!("ssl_ca={}", s.path("ca.pem"));
    let other_ca = format!("ssl_ca={}", s.path("other-ca.pem"));
    let ip = "127.0.0.1";

    // --- the certificate names 127.0.0.1 and localhost ---------------------------------
    // required: encrypted, the certificate is not checked.
    let cipher = s.migrates("required", ip, "ssl_mode=required");
    assert!(!cipher.is_empty(), "ssl_mode=required ran in plain text");

    // preferred: the server offers TLS, so TLS.
    assert!(!s.migrates("preferred", ip, "ssl_mode=preferred").is_empty());

    // disabled, and the default for a loopback host (disabled): plain text.
    assert_eq!(s.migrates("disabled", ip, "ssl_mode=disabled"), "");
    assert_eq!(s.migrates("loopback_default", "localhost", ""), "");

    // verify_ca with the test CA: encrypted; with an unrelated CA: refused, saying why.
    let q = format!("ssl_mode=verify_ca&{ca}");
    assert!(!s.migrates("verify_ca", ip, &q).is_empty());
    let q = format!("ssl_mode=verify_ca&{other_ca}");
    let e = s.refuses("verify_ca_other", ip, &q);
    has_all(
        &e,
        &[
            "TLS handshake failed",
            "certificate",
            "UnknownIssuer",
            "not signed by the CA in ssl_ca",
            "other-ca.pem",
        ],
    );

    // verify_identity with the test CA, by IP address and by name: both are in the SAN.
    let q = format!("ssl_mode=verify_identity&{ca}");
    assert!(!s.migrates("identity_ip", ip, &q).is_empty());
    assert!(!s.migrates("identity_name", "localhost", &q).is_empty());
    let q = format!("ssl_mode=verify_identity&{other_ca}");
    let e = s.refuses("identity_other", ip, &q);
    has_all(
        &e,
        &["TLS handshake failed", "UnknownIssuer", "other-ca.pem"],
    );
    // Without ssl_ca only public roots are trusted.
    let e = s.refuses("identity_public", ip, "ssl_mode=verify_identity");
    has_all(&e, &["TLS handshake failed", "set ssl_ca"]);

    // A CA file that does not exist is named.
    let q = format!("ssl_mode=verify_ca&ssl_ca={}", s.path("missing.pem"));
    let e = s.refuses("missing_ca", ip, &q);
    has_all(&e, &["cannot read ssl_ca", "missing.pem"]);

    // --- a certificate for wrong.example only ----------------------------------------
    s.use_cert("wrong");
    let q = format!("ssl_mode=verify_identity&{ca}");
    for (db, host) in [("wrong_ip", ip), ("wrong_name", "localhost")] {
        let e = s.refuses(db, host, &q);
        has_all(
            &e,
            &[
                "TLS handshake failed",
                &format!("certificate not valid for name \"{host}\""),
                "wrong.example",
                "verify_identity",
            ],
        );
    }
    // verify_ca checks the CA, not the name.
    let q = format!("ssl_mode=verify_ca&{ca}");
    assert!(!s.migrates("wrong_verify_ca", ip, &q).is_empty());
    let q = format!("ssl_mode=verify_ca&{other_ca}");
    has_all(
        &s.refuses("wrong_verify_ca_other", ip, &q),
        &["UnknownIssuer"],
    );
    assert!(
        !s.migrates("wrong_required", ip, "ssl_mode=required")
            .is_empty()
    );

    // --- a certificate with a common name and no subjectAltName (as mysql_ssl_rsa_setup
    // makes them): names come from the SAN only, so verify_identity refuses it; verify_ca
    // takes it.
    s.use_cert("cn-only");
    let q = format!("ssl_mode=verify_identity&{ca}");
    has_all(
        &s.refuses("cn_identity", "localhost", &q),
        &["TLS handshake failed", "not valid for name \"localhost\""],
    );
    let q = format!("ssl_mode=verify_ca&{ca}");
    assert!(!s.migrates("cn_verify_ca", "localhost", &q).is_empty());
}

#[test]
fn tls_against_the_test_server() {
    let mut db = TestDb::new();
    let mariadb = db.server.is_mariadb();
    // MySQL 8.4 no longer has have_ssl; it offers TLS unless tls_version is empty.
    let have_ssl = db.server.rows("SHOW VARIABLES LIKE 'have_ssl'");
    let offers_tls = match have_ssl.first() {
        Some(row) => row[1].as_deref() == Some("YES"),
        None => !db
            .server
            .value("SELECT @@tls_version")
            .unwrap_or_default()
            .is_empty(),
    };
    if offers_tls {
        // Not the case on Debian's default mariadb-server (CI), but e.g. MySQL 8.4 offers TLS
        // with a self-signed certificate: then both modes must simply use it.
        for mode in ["required", "preferred"] {
            let mut db = TestDb::new();
            let p = probe_project_for(&format!("{}?ssl_mode={mode}", db.url()), mariadb);
            clean(p.run(&["migrate:latest"]).ok());
            let cipher = db.server.value("SELECT cipher FROM tls_probe");
            assert!(cipher.is_some_and(|c| !c.is_empty()), "{mode}: plain text");
        }
        return;
    }

    // required: refused, saying the server has no TLS.
    let p = probe_project(&format!("{}?ssl_mode=required", db.url()));
    let r = clean(p.run(&["migrate:latest"]).code(1));
    has_all(
        &r.stderr,
        &["the server does not offer TLS, but ssl_mode is required"],
    );
    assert!(!db.has_table("tls_probe"));
    // verify_identity alike.
    let p = probe_project(&format!("{}?ssl_mode=verify_identity", db.url()));
    let r = clean(p.run(&["migrate:status"]).code(1));
    has_all(
        &r.stderr,
        &["the server does not offer TLS, but ssl_mode is verify_identity"],
    );
    // verify_ca without ssl_ca is refused before connecting, as by the mysql client.
    let p = probe_project(&format!("{}?ssl_mode=verify_ca", db.url()));
    let r = clean(p.run(&["migrate:status"]).code(1));
    has_all(&r.stderr, &["ssl_mode is verify_ca but no ssl_ca is given"]);

    // preferred: falls back to plain text and works.
    let p = probe_project(&format!("{}?ssl_mode=preferred", db.url()));
    clean(p.run(&["migrate:latest"]).ok());
    clean(p.run(&["migrate:status"]).ok());
    assert_eq!(
        db.server.value("SELECT cipher FROM tls_probe").as_deref(),
        Some("")
    );
}
