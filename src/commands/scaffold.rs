//! Commands that write files and need no server: `init`, `migrate:make`, `seed:make`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::commands::Context;
use crate::config::KNEXFILE;
use crate::error::{Error, Result, UsageError};
use crate::files::name::{Version, snake_case};
use crate::files::{self};
use crate::report::{Created, Report};

const KNEXFILE_TEMPLATE: &str = r#"# dbtool configuration: one [section] per environment (choose with --env NAME, DBTOOL_ENV or NODE_ENV).
# The connection is --url, else DATABASE_URL, else the section's `url` (or a [ENV.connection]
# table with host, port, user, password, database, socket). ${VAR} and ${VAR:-default} are
# expanded from the environment and from a .env file.

[development]
url = "mysql://root:rootpassword@127.0.0.1:3305/mydatabase"
# migrations_dir = "db/migrations"
# seeds_dir = "db/seeds"
# lock_timeout = 60
# ddl_lock_wait = 5   # seconds a migration statement waits for a lock; then ddl_retries = 3

[test]
url = "${TEST_DATABASE_URL:-mysql://root@127.0.0.1:3306/app_test}"

[production]
url = "${DATABASE_URL}"
protected = true        # rollback, down, seed:run, repair and resolve need --yes
"#;

/// `dbtool init`: knexfile.toml, db/migrations, db/seeds. Never overwrites.
/// `dbtool init [--knexfile PATH]`: the knexfile (at PATH, or `knexfile.toml`) and the
/// `db/migrations` and `db/seeds` folders beside it. Nothing that exists is overwritten.
pub(crate) fn init(report: &Report, cwd: &Path, knexfile: Option<&Path>) -> Result<u8> {
    let target = cwd.join(knexfile.unwrap_or(Path::new(KNEXFILE)));
    let paths = files::Paths {
        cwd: cwd.to_path_buf(),
    };
    let shown = paths.display(&target);
    if target.exists() {
        return Err(Error::Exists { path: shown });
    }
    let root = target.parent().unwrap_or(cwd).to_path_buf();
    let mut created = vec![shown.clone()];
    for dir in ["db/migrations", "db/seeds"] {
        let path = root.join(dir);
        if !path.is_dir() {
            fs::create_dir_all(&path).map_err(|e| Error::io(paths.display(&path), e))?;
            created.push(format!("{}/", paths.display(&path)));
        }
    }
    write_new(&target, KNEXFILE_TEMPLATE, &shown)?;
    report.print(&Created { created });
    Ok(0)
}

pub(crate) use crate::files::TEMPLATE_MARK;

/// `dbtool migrate:make NAME`: `<UTC timestamp>_<name>.up.sql` and `.down.sql`.
pub(crate) fn migrate_make(ctx: &Context, name: &str) -> Result<()> {
    let slug = slug(name)?;
    let dir = &ctx.config.migrations_dir;
    fs::create_dir_all(dir).map_err(|e| Error::io(ctx.paths.display(dir), e))?;
    let taken = files::list_versions(dir);
    let now = time::OffsetDateTime::now_utc();
    let mut version: u64 = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
    .parse()
    .expect("a timestamp is digits");
    while taken.contains(&version.to_string().parse::<Version>().expect("digits")) {
        version += 1;
    }
    let id = format!("{version}_{slug}");
    let up = dir.join(format!("{id}.up.sql"));
    let down = dir.join(format!("{id}.down.sql"));
    write_new(
        &up,
        &format!(
            "-- {id} (up)\n\
             -- {TEMPLATE_MARK}: replace these comments with the migration's statements.\n\
             -- Statements end with `;`. Use `DELIMITER $$` … `DELIMITER ;` around triggers and\n\
             -- procedures. A migration of only INSERT/UPDATE/DELETE runs in one transaction;\n\
             -- DDL commits as it goes, and dbtool records each statement so a failed run resumes.\n\n"
        ),
        &ctx.paths.display(&up),
    )?;
    write_new(
        &down,
        &format!(
            "-- {id} (down): undo the up migration, newest change first.\n\
             -- {TEMPLATE_MARK}: replace these comments with the statements that undo it.\n\
             -- Delete this file if the migration cannot be undone; rollback will then refuse it.\n\n"
        ),
        &ctx.paths.display(&down),
    )?;
    ctx.report.print(&Created {
        created: vec![ctx.paths.display(&up), ctx.paths.display(&down)],
    });
    Ok(())
}

/// `dbtool seed:make NAME`: `db/seeds/<name>.sql` with a header explaining run modes.
pub(crate) fn seed_make(ctx: &Context, name: &str) -> Result<()> {
    let slug = slug(name.strip_suffix(".sql").unwrap_or(name))?;
    let dir = &ctx.config.seeds_dir;
    fs::create_dir_all(dir).map_err(|e| Error::io(ctx.paths.display(dir), e))?;
    let path = dir.join(format!("{slug}.sql"));
    write_new(
        &path,
        &format!(
            "-- dbtool:run always\n\
             -- Seed {slug}.sql: data this database should hold. Seeds run in path order, each in\n\
             -- one transaction, so a failing seed leaves none of its rows. Write it so that it\n\
             -- can run again (DELETE then INSERT, or INSERT … ON DUPLICATE KEY UPDATE).\n\
             -- Run modes, set on the first line:\n\
             --   -- dbtool:run always     every seed:run (the default, as in Knex)\n\
             --   -- dbtool:run once       only if it never ran on this database\n\
             --   -- dbtool:run on-change  when new, or when this file changed since it last ran\n\n"
        ),
        &ctx.paths.display(&path),
    )?;
    ctx.report.print(&Created {
        created: vec![ctx.paths.display(&path)],
    });
    Ok(())
}

fn slug(name: &str) -> Result<String> {
    let s = snake_case(name);
    if s.is_empty() {
        return Err(UsageError::EmptyName(name.to_owned()).into());
    }
    Ok(s)
}

/// Writes a file that must not exist yet.
fn write_new(path: &Path, text: &str, shown: &str) -> Result<PathBuf> {
    use std::io::Write;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::Exists {
                    path: shown.to_owned(),
                }
            } else {
                Error::io(shown, e)
            }
        })?;
    f.write_all(text.as_bytes())
        .map_err(|e| Error::io(shown, e))?;
    Ok(path.to_path_buf())
}
