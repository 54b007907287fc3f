//! `dbtool lint`: the migration and seed files checked offline (no connection), with the
//! severities of the knexfile's `[lint]` table. Exit 1 when a finding of severity error exists.

use crate::commands::Context;
use crate::commands::migrate::discover;
use crate::error::Result;
use crate::files::discover_seeds;
use crate::lint::{self, Severities};
use crate::report::LintOut;

pub(crate) fn lint(ctx: &Context) -> Result<u8> {
    let severities = Severities::from_settings(&ctx.config.lint)?;
    let migrations = discover(ctx)?;
    // A project without seeds is fine; a migrations folder is what lint is for.
    let seeds = if ctx.config.seeds_dir.is_dir() {
        discover_seeds(&ctx.config.seeds_dir, &ctx.paths)?
    } else {
        Vec::new()
    };
    let mut findings = Vec::new();
    for m in &migrations {
        findings.extend(lint::migration(m, &severities)?);
    }
    for s in &seeds {
        findings.extend(lint::seed(s, &severities)?);
    }
    let out = LintOut::new(
        migrations.len(),
        seeds.len(),
        findings,
        ctx.report.term.stdout_color,
    );
    ctx.report.print(&out);
    Ok(if out.errors > 0 { 1 } else { 0 })
}
