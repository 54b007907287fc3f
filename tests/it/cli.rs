//! The commands that need no server, and the command line itself.

use crate::helpers::*;

fn empty_project() -> Project {
    let p = Project::with_url("mysql://root@127.0.0.1:1/none");
    std::fs::remove_file(p.path().join("knexfile.toml")).unwrap();
    p
}

fn utc_now_version() -> u64 {
    let out = std::process::Command::new("date")
        .args(["-u", "+%Y%m%d%H%M%S"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn init_writes_the_layout_and_never_overwrites() {
    let p = empty_project();
    std::fs::remove_dir_all(p.path().join("db")).unwrap();
    p.run(&["init"])
        .ok()
        .stdout_has("Created knexfile.toml")
        .stdout_has("Created db/migrations/")
        .stdout_has("Created db/seeds/");
    let knexfile = std::fs::read_to_string(p.path().join("knexfile.toml")).unwrap();
    assert!(knexfile.contains("[development]") && knexfile.contains("[production]"));
    assert!(knexfile.contains("protected = true"));
    p.run(&["init"])
        .code(2)
        .stderr_has("knexfile.toml already exists");
    assert_eq!(
        std::fs::read_to_string(p.path().join("knexfile.toml")).unwrap(),
        knexfile
    );
    // the written knexfile is valid: status reaches the (absent) server, not a config error
    p.run(&["migrate:status"])
        .code(1)
        .stderr_has("cannot connect");
}

#[test]
fn migrate_make_writes_a_utc_timestamped_pair() {
    let p = empty_project();
    let before = utc_now_version();
    p.run(&["migrate:make", "Create accounts"])
        .ok()
        .stdout_has("_create_accounts.up.sql")
        .stdout_has("_create_accounts.down.sql");
    let after = utc_now_version();
    let mut names: Vec<String> = std::fs::read_dir(p.path().join("db/migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    let version: u64 = names[0].split('_').next().unwrap().parse().unwrap();
    assert_eq!(names[0].split('_').next().unwrap().len(), 14);
    assert!(
        (before..=after).contains(&version),
        "{version} not in {before}..={after}"
    );
    assert_eq!(names[0], format!("{version}_create_accounts.down.sql"));
    assert_eq!(names[1], format!("{version}_create_accounts.up.sql"));
    let up = std::fs::read_to_string(p.path().join("db/migrations").join(&names[1])).unwrap();
    assert!(
        up.starts_with(&format!("-- {version}_create_accounts (up)")),
        "{up}"
    );

    // the same second: bumped by one
    p.run(&["migrate:make", "Create accounts"]).ok();
    let count = std::fs::read_dir(p.path().join("db/migrations"))
        .unwrap()
        .count();
    assert_eq!(count, 4);
    p.run(&["migrate:make", "!!!"])
        .code(2)
        .stderr_has("empty file name");
}

#[test]
fn seed_make_writes_a_seed_with_its_run_modes_explained() {
    let p = empty_project();
    p.run(&["seed:make", "02 Orders"])
        .ok()
        .stdout_has("Created db/seeds/02_orders.sql");
    let text = std::fs::read_to_string(p.path().join("db/seeds/02_orders.sql")).unwrap();
    assert!(text.starts_with("-- dbtool:run always"), "{text}");
    assert!(text.contains("dbtool:run once") && text.contains("dbtool:run on-change"));
    p.run(&["seed:make", "02_orders"])
        .code(2)
        .stderr_has("already exists");
}

#[test]
fn version_and_help() {
    let p = empty_project();
    p.run(&["--version"])
        .ok()
        .stdout_has(&format!("dbtool {}", env!("CARGO_PKG_VERSION")));
    let help = p.run(&["--help"]).ok();
    for cmd in [
        "init",
        "migrate:make",
        "migrate:latest",
        "migrate:up",
        "migrate:down",
        "migrate:rollback",
        "migrate:status",
        "migrate:validate",
        "migrate:repair",
        "migrate:resolve",
        "migrate:unlock",
        "seed:make",
        "seed:run",
        "seed:status",
        "db:create",
        "db:drop",
        "db:wait",
    ] {
        assert!(help.stdout.contains(cmd), "--help lacks {cmd}");
        let r = p.run(&[cmd, "--help"]).ok();
        assert!(
            r.stdout.contains("Example"),
            "`{cmd} --help` has no example:\n{}",
            r.stdout
        );
    }
    // no arguments: the help, as a usage error
    p.run(&[]).code(2);
}

#[test]
fn usage_errors_exit_2() {
    // A project with a working connection: exit 2 can only come from the command line.
    let db = TestDb::new();
    let p = Project::new(&db);
    p.run(&["migrate:status"]).ok();
    p.run(&["migrate:rollback", "--all", "--step", "2"])
        .code(2)
        .stderr_has("cannot be used with");
    p.run(&["migrate:resolve", "1"])
        .code(2)
        .stderr_has("required arguments were not provided")
        .stderr_has("<--applied|--rolled-back>");
    p.run(&["migrate:status", "-q", "-v"])
        .code(2)
        .stderr_has("cannot be used with");
}

#[test]
fn json_errors_are_one_document_on_stdout() {
    let p = empty_project();
    p.write(
        "knexfile.toml",
        "[development]\nurl = \"postgres://u@h/d\"\n",
    );
    let r = p.run(&["migrate:status", "--json"]).code(2);
    let j = r.json();
    assert_eq!(j["error"]["exit_code"], 2);
    assert!(
        j["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unsupported scheme")
    );
}
