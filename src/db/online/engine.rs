//! Starting an online schema-change engine: the credentials in a defaults file only this user
//! can read (never on the command line, where `ps` shows them), and the engine's arguments.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::Alter;
use crate::config::{Connection, Online, OnlineTool};

/// A `[client]` option file with the connection's credentials, mode 0600, removed when
/// dropped.
pub(crate) struct DefaultsFile {
    path: PathBuf,
}

impl DefaultsFile {
    pub(crate) fn write(c: &Connection) -> std::io::Result<DefaultsFile> {
        use std::os::unix::fs::OpenOptionsExt as _;
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("dbtool-online-{}-{n}.cnf", std::process::id()));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        let file = DefaultsFile { path };
        f.write_all(defaults_text(c).as_bytes())?;
        Ok(file)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DefaultsFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// An option-file value, quoted (`\` and `"` escaped) so any character reads back as itself.
fn quoted(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

fn defaults_text(c: &Connection) -> String {
    let mut s = String::from("[client]\n");
    if let Some(u) = &c.user {
        s.push_str(&format!("user={}\n", quoted(u)));
    }
    if let Some(p) = &c.password {
        s.push_str(&format!("password={}\n", quoted(p.expose())));
    }
    match &c.socket {
        Some(sock) => s.push_str(&format!("socket={}\n", quoted(&sock.display().to_string()))),
        None => s.push_str(&format!("host={}\nport={}\n", quoted(&c.host), c.port)),
    }
    if let Some(ca) = &c.ssl_ca {
        s.push_str(&format!("ssl-ca={}\n", quoted(&ca.display().to_string())));
    }
    s
}

/// What of the server pt-online-schema-change 3.2 (Debian's) does not know.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Quirks {
    /// No `SHOW SLAVE HOSTS` (MySQL 8.4 and later), which it runs to find replicas unless
    /// told not to look.
    pub(crate) no_slave_hosts: bool,
    /// `EXPLAIN` prints a tree by default (`explain_format`, MySQL 9): it reads no row
    /// estimate from that, takes the table for empty, and copies it in one locking chunk.
    pub(crate) tree_explain: bool,
}

/// The engine's command line for `alter` on `database`.
pub(crate) fn command(
    settings: &Online,
    c: &Connection,
    defaults: &Path,
    database: &str,
    alter: &Alter,
    quirks: Quirks,
) -> Result<tokio::process::Command, String> {
    let program = settings.tool.program();
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(&settings.args);
    match settings.tool {
        OnlineTool::PtOsc => {
            // A DSN is `key=value` pairs separated by commas: names holding one cannot be said.
            if [database, alter.table.as_str()]
                .iter()
                .any(|n| n.contains([',', '=']))
            {
                return Err(format!(
                    "{program} cannot name a database or table holding `,` or `=`"
                ));
            }
            cmd.args(["--alter", &alter.spec, "--execute", "--progress", "time,5"]);
            let given = |flag: &str| settings.args.iter().any(|a| a.starts_with(flag));
            if quirks.no_slave_hosts && !given("--recursion-method") {
                cmd.arg("--recursion-method=none");
            }
            if quirks.tree_explain && !given("--set-vars") {
                cmd.args(["--set-vars", "explain_format=TRADITIONAL"]);
            }
            cmd.arg(format!(
                "F={},D={database},t={}",
                defaults.display(),
                alter.table
            ));
        }
        OnlineTool::GhOst => {
            cmd.arg(format!("--conf={}", defaults.display()));
            match &c.socket {
                Some(_) => {
                    return Err("gh-ost connects over TCP: give the connection a host".into());
                }
                None => cmd.args([format!("--host={}", c.host), format!("--port={}", c.port)]),
            };
            cmd.args([
                format!("--database={database}"),
                format!("--table={}", alter.table),
                format!("--alter={}", alter.spec),
                "--execute".to_owned(),
                "--allow-on-master".to_owned(),
            ]);
        }
    }
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_file_holds_the_password_quoted_and_only_its_owner_reads_it() {
        use std::os::unix::fs::PermissionsExt as _;
        let (c, _) = crate::config::url::parse_url("mysql://app:p%22w%5C@db1:3307/shop").unwrap();
        let f = DefaultsFile::write(&c).unwrap();
        let text = std::fs::read_to_string(f.path()).unwrap();
        assert_eq!(
            text,
            "[client]\nuser=\"app\"\npassword=\"p\\\"w\\\\\"\nhost=\"db1\"\nport=3307\n"
        );
        let mode = std::fs::metadata(f.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let path = f.path().to_owned();
        drop(f);
        assert!(!path.exists());
    }

    #[test]
    fn the_password_is_never_on_the_engines_command_line() {
        let (c, _) = crate::config::url::parse_url("mysql://app:s3cret@db1/shop").unwrap();
        let alter = super::super::parse_alter("ALTER TABLE t MODIFY v BIGINT").unwrap();
        for tool in [OnlineTool::PtOsc, OnlineTool::GhOst] {
            let settings = Online {
                tool,
                ..Online::default()
            };
            let quirks = Quirks {
                no_slave_hosts: true,
                tree_explain: true,
            };
            let cmd = command(
                &settings,
                &c,
                Path::new("/tmp/x.cnf"),
                "shop",
                &alter,
                quirks,
            )
            .unwrap();
            let line = format!("{:?}", cmd.as_std());
            assert!(!line.contains("s3cret"), "{line}");
            assert!(line.contains("MODIFY v BIGINT"), "{line}");
        }
    }
}
