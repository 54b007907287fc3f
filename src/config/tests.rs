//! Config resolution: precedence, expansion, errors that name file, line and key.

use super::*;
use std::fs;

fn dir_with(knexfile: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    if let Some(text) = knexfile {
        fs::write(dir.path().join(KNEXFILE), text).unwrap();
    }
    dir
}

fn load_in(
    dir: &tempfile::TempDir,
    o: &Overrides,
    env: &[(&str, &str)],
) -> Result<Config, ConfigError> {
    load(o, &Env::from_pairs(env.iter().copied()), dir.path())
}

const KNEXFILE_TEXT: &str = r#"
[development]
url = "${DEV_URL:-mysql://root:rootpassword@127.0.0.1:3305/mydatabase}"

[test]
url = "mysql://root@127.0.0.1:3306/app_test"
migrations_dir = "sql/migrations"
lock_timeout = 5

[production]
url = "${DATABASE_URL}"
protected = true

[staging.connection]
host = "staging.example.com"
port = 3307
user = "app"
password = "${STAGING_PASSWORD}"
database = "app"
ssl_mode = "verify_identity"
"#;

#[test]
fn environment_selection_and_defaults() {
    let dir = dir_with(Some(KNEXFILE_TEXT));
    let c = load_in(&dir, &Overrides::default(), &[]).unwrap();
    assert_eq!(c.environment, "development");
    assert_eq!(
        c.connection().unwrap().to_string(),
        "mysql://root:***@127.0.0.1:3305/mydatabase"
    );
    assert_eq!(c.migrations_dir, dir.path().join("db/migrations"));
    assert_eq!(c.migrations_table.as_str(), "dbtool_migrations");
    assert_eq!(c.lock_timeout, Duration::from_secs(60));
    assert!(!c.protected && c.out_of_order);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);

    let c = load_in(&dir, &Overrides::default(), &[("DBTOOL_ENV", "test")]).unwrap();
    assert_eq!(c.environment, "test");
    assert_eq!(c.migrations_dir, dir.path().join("sql/migrations"));
    assert_eq!(c.lock_timeout, Duration::from_secs(5));

    let o = Overrides {
        env: Some("test".into()),
        ..Default::default()
    };
    let c = load_in(&dir, &o, &[("DBTOOL_ENV", "production")]).unwrap();
    assert_eq!(c.environment, "test", "--env wins over DBTOOL_ENV");
}

#[test]
fn connection_precedence() {
    let dir = dir_with(Some(KNEXFILE_TEXT));
    let env = [("DATABASE_URL", "mysql://from_env@h/envdb")];
    let c = load_in(&dir, &Overrides::default(), &env).unwrap();
    assert_eq!(c.connection().unwrap().user.as_deref(), Some("from_env"));
    assert_eq!(c.connection_origin().unwrap().0, "DATABASE_URL");
    let o = Overrides {
        url: Some("mysql://from_flag@h/flagdb".into()),
        ..Default::default()
    };
    let c = load_in(&dir, &o, &env).unwrap();
    assert_eq!(c.connection().unwrap().user.as_deref(), Some("from_flag"));
    // the environment's own URL expands its variables
    let c = load_in(
        &dir,
        &Overrides::default(),
        &[("DEV_URL", "mysql://dev@h/devdb")],
    )
    .unwrap();
    assert_eq!(c.connection().unwrap().database.as_deref(), Some("devdb"));
}

#[test]
fn connection_tables() {
    let dir = dir_with(Some(KNEXFILE_TEXT));
    let o = Overrides {
        env: Some("staging".into()),
        ..Default::default()
    };
    let c = load_in(&dir, &o, &[("STAGING_PASSWORD", "hunter2")]).unwrap();
    let conn = c.connection().unwrap();
    assert_eq!(
        conn.to_string(),
        "mysql://app:***@staging.example.com:3307/app"
    );
    assert_eq!(conn.password.as_ref().unwrap().expose(), "hunter2");
    assert_eq!(conn.ssl_mode, Some(SslMode::VerifyIdentity));
    let debug = format!("{c:?}");
    assert!(
        !debug.contains("hunter2"),
        "Debug leaks the password: {debug}"
    );
}

#[test]
fn unset_variables_name_the_variable_and_the_key() {
    let dir = dir_with(Some(KNEXFILE_TEXT));
    let o = Overrides {
        env: Some("production".into()),
        ..Default::default()
    };
    let e = load_in(&dir, &o, &[]).unwrap_err().to_string();
    assert!(e.contains("knexfile.toml:11: production.url"), "{e}");
    assert!(e.contains("DATABASE_URL is not set"), "{e}");
    // set, it is used; and production is protected
    let c = load_in(&dir, &o, &[("DATABASE_URL", "mysql://u:p@prod/db")]).unwrap();
    assert!(c.protected);
}

#[test]
fn unknown_environment_lists_the_valid_ones() {
    let dir = dir_with(Some(KNEXFILE_TEXT));
    let o = Overrides {
        env: Some("prod".into()),
        ..Default::default()
    };
    let e = load_in(&dir, &o, &[]).unwrap_err().to_string();
    assert!(
        e.contains(
            "no environment `prod`; environments here: development, test, production, staging"
        ),
        "{e}"
    );
}

#[test]
fn ddl_lock_wait_and_retries() {
    let dir = dir_with(Some(KNEXFILE_TEXT));
    let c = load_in(&dir, &Overrides::default(), &[]).unwrap();
    assert_eq!(c.ddl, crate::config::DdlWait::DEFAULT);
    assert_eq!(c.ddl.wait, Duration::from_secs(5));
    assert_eq!(c.ddl.retries, 3);

    let dir = dir_with(Some(
        "[development]\nurl = \"mysql://u@h/d\"\nddl_lock_wait = 0.5\nddl_retries = 0\n",
    ));
    let c = load_in(&dir, &Overrides::default(), &[]).unwrap();
    assert_eq!(c.ddl.wait, Duration::from_millis(500));
    assert_eq!(c.ddl.retries, 0);

    for (text, line, key) in [
        (
            "ddl_retries = -1",
            3,
            "ddl_retries: expected a whole number",
        ),
        (
            "ddl_retries = 1.5",
            3,
            "ddl_retries: expected a whole number",
        ),
        (
            "ddl_retries = 101",
            3,
            "ddl_retries: expected a whole number",
        ),
        (
            "ddl_lock_wait = \"soon\"",
            3,
            "ddl_lock_wait: expected a number of seconds",
        ),
    ] {
        let dir = dir_with(Some(&format!(
            "[development]\nurl = \"mysql://u@h/d\"\n{text}\n"
        )));
        let e = load_in(&dir, &Overrides::default(), &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("knexfile.toml:{line}: development.{key}")),
            "{text}: {e}"
        );
    }
}

#[test]
fn syntax_and_type_errors_name_file_line_and_key() {
    let dir = dir_with(Some(
        "[development]\nurl = \"mysql://u@h/d\"\nlock_timeout = \n",
    ));
    let e = load_in(&dir, &Overrides::default(), &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("knexfile.toml:3:"), "{e}");

    let dir = dir_with(Some(
        "[development]\nurl = \"mysql://u@h/d\"\nlock_timeout = \"soon\"\n",
    ));
    let e = load_in(&dir, &Overrides::default(), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("knexfile.toml:3: development.lock_timeout: expected a number of seconds"),
        "{e}"
    );

    let dir = dir_with(Some("[development]\nurl = 42\n"));
    let e = load_in(&dir, &Overrides::default(), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("development.url: expected a string, found an integer"),
        "{e}"
    );

    let dir = dir_with(Some("[development]\nprotected = \"maybe\"\n"));
    let e = load_in(&dir, &Overrides::default(), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("development.protected: expected true or false"),
        "{e}"
    );

    let dir = dir_with(Some("url = \"mysql://u@h/d\"\n"));
    let e = load_in(&dir, &Overrides::default(), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("knexfile.toml:1: url: expected an environment table"),
        "{e}"
    );

    let dir = dir_with(Some("[development]\nurl = \"postgres://u:secret@h/d\"\n"));
    let e = load_in(&dir, &Overrides::default(), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("development.url: invalid database URL: unsupported scheme"),
        "{e}"
    );
    assert!(!e.contains("secret"), "{e}");

    let dir = dir_with(Some("[development]\nmigrations_table = \"my table\"\n"));
    let e = load_in(&dir, &Overrides::default(), &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("development.migrations_table"), "{e}");
}

#[test]
fn unknown_keys_warn_with_the_nearest_key() {
    let dir = dir_with(Some(
        "[development]\nurl = \"mysql://u@h/d\"\nlock_timout = 3\nfrobnicate = 1\n[development.connection_x]\n",
    ));
    let c = load_in(&dir, &Overrides::default(), &[]).unwrap();
    let w = c.warnings.join("\n");
    assert!(
        w.contains("knexfile.toml:3: unknown key `development.lock_timout` is ignored; did you mean `lock_timeout`?"),
        "{w}"
    );
    assert!(
        w.contains("`development.frobnicate` is ignored; known keys:"),
        "{w}"
    );
    assert!(w.contains("did you mean `connection`?"), "{w}");
}

#[test]
fn no_knexfile_needs_only_database_url() {
    let dir = dir_with(None);
    let c = load_in(
        &dir,
        &Overrides::default(),
        &[("DATABASE_URL", "mysql://ci@127.0.0.1/ci")],
    )
    .unwrap();
    assert!(c.knexfile.is_none());
    assert_eq!(c.connection().unwrap().database.as_deref(), Some("ci"));
    assert_eq!(c.migrations_dir, dir.path().join("db/migrations"));

    let c = load_in(&dir, &Overrides::default(), &[]).unwrap();
    let e = c.connection().unwrap_err().to_string();
    assert!(
        e.contains("no database configured for environment `development`"),
        "{e}"
    );
}

#[test]
fn paths_are_relative_to_the_knexfile() {
    let dir = dir_with(None);
    fs::create_dir(dir.path().join("conf")).unwrap();
    fs::write(
        dir.path().join("conf/db.toml"),
        "[development]\nmigrations_dir = \"../sql\"\nssl_ca = \"ca.pem\"\nurl = \"mysql://u@h/d\"\n",
    )
    .unwrap();
    let o = Overrides {
        knexfile: Some("conf/db.toml".into()),
        ..Default::default()
    };
    let c = load_in(&dir, &o, &[]).unwrap();
    assert_eq!(c.migrations_dir, dir.path().join("conf/../sql"));
    assert_eq!(
        c.connection().unwrap().ssl_ca,
        Some(dir.path().join("conf/ca.pem"))
    );

    let o = Overrides {
        knexfile: Some("missing.toml".into()),
        ..Default::default()
    };
    let e = load_in(&dir, &o, &[]).unwrap_err().to_string();
    assert!(e.contains("missing.toml: cannot read"), "{e}");
}

#[test]
fn dot_env_fills_in_without_overriding() {
    let dir = dir_with(None);
    fs::write(
        dir.path().join(".env"),
        "DBTOOL_TEST_A=from_file\nDBTOOL_TEST_B=file_b\n",
    )
    .unwrap();
    // SAFETY: no other test reads or writes this variable.
    let env = Env::from_process(dir.path()).unwrap();
    assert_eq!(env.get("DBTOOL_TEST_A"), Some("from_file"));
    assert_eq!(env.get("PATH"), std::env::var("PATH").ok().as_deref());

    fs::write(dir.path().join(".env"), "NOT A LINE 'secret\n").unwrap();
    let e = Env::from_process(dir.path()).unwrap_err().to_string();
    assert!(e.contains(".env: cannot parse"), "{e}");
    assert!(!e.contains("secret"), "{e}");
}

/// Found by the `config` fuzz target (fuzz/, docs/fuzzing.md): a `${` with its `}` missing ran
/// on into the URL's password, and the "not a variable name" error quoted it.
#[test]
fn a_broken_variable_reference_does_not_show_the_password() {
    let text =
        "[staging]\nurl = \"mysql://${DB_USERy:Pw_SeCrEt_9@TECTED:-yes}\"\nmigratons_dir = \"0\"\n";
    let o = Overrides {
        env: Some("staging".into()),
        ..Overrides::default()
    };
    let path = Path::new("/tmp/knexfile.toml");
    let e = parse(
        Some(text),
        Some(path),
        &o,
        &Env::default(),
        Path::new("/tmp"),
    )
    .unwrap_err();
    for shown in [e.to_string(), format!("{e:?}")] {
        assert!(!shown.contains("Pw_SeCrEt_9"), "{shown}");
    }
    assert_eq!(
        e.to_string(),
        "/tmp/knexfile.toml:2: staging.url: the `${` at character 9 is not followed by a variable \
         name (write ${NAME} or ${NAME:-default}, NAME made of letters, digits and _; write $$ \
         for a literal $)"
    );
}
