//! db:create, db:drop, db:wait (dbmate's trio): the database itself, and waiting for a server
//! that is starting (`docker compose up`).

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

use crate::commands::Context;
use crate::commands::session::{block_on, connect_timeout, guard};
use crate::config::Ident;
use crate::db::Db;
use crate::error::{Error, Result, UsageError};
use crate::report::{DatabaseOut, WaitOut, ms};

fn database(ctx: &Context) -> Result<Ident> {
    let conn = ctx.config.connection()?;
    let name = conn
        .database
        .as_deref()
        .ok_or_else(|| UsageError::NoDatabase(conn.to_string()))?;
    Ident::database(name).map_err(|e| {
        Error::Config(crate::config::ConfigError::Invalid {
            at: "the connection's database".into(),
            problem: e.to_string(),
        })
    })
}

async fn server(ctx: &Context) -> Result<Db> {
    let conn = ctx.config.connection()?.without_database();
    Ok(Db::connect_waiting(&conn, connect_timeout(ctx), ctx.config.wait).await?)
}

async fn exists(db: &mut Db, name: &Ident) -> Result<bool> {
    let n: Option<u64> = db
        .conn
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            (name.as_str(),),
        )
        .await
        .map_err(|e| Error::db("looking for the database", e.into()))?;
    Ok(n.unwrap_or(0) > 0)
}

/// db:create: CREATE DATABASE … CHARACTER SET utf8mb4, unless it exists.
pub(crate) fn create(ctx: &Context) -> Result<u8> {
    let name = database(ctx)?;
    tracing::info!("db:create: {}", ctx.config.connection()?.target());
    let created = block_on(async {
        let mut db = server(ctx).await?;
        let created = if exists(&mut db, &name).await? {
            false
        } else {
            db.conn
                .query_drop(format!(
                    "CREATE DATABASE IF NOT EXISTS {name} CHARACTER SET utf8mb4"
                ))
                .await
                .map_err(|e| Error::db("creating the database", e.into()))?;
            true
        };
        db.close().await;
        Ok(created)
    })?;
    ctx.report.print(&DatabaseOut {
        name: name.as_str().to_owned(),
        created,
        create: true,
    });
    Ok(0)
}

/// db:drop: DROP DATABASE (a protected environment needs --yes).
pub(crate) fn drop(ctx: &Context) -> Result<u8> {
    guard(ctx, "db:drop")?;
    let name = database(ctx)?;
    tracing::info!("db:drop: {}", ctx.config.connection()?.target());
    let dropped = block_on(async {
        let mut db = server(ctx).await?;
        let dropped = if exists(&mut db, &name).await? {
            db.conn
                .query_drop(format!("DROP DATABASE IF EXISTS {name}"))
                .await
                .map_err(|e| Error::db("dropping the database", e.into()))?;
            true
        } else {
            false
        };
        db.close().await;
        Ok(dropped)
    })?;
    ctx.report.print(&DatabaseOut {
        name: name.as_str().to_owned(),
        created: dropped,
        create: false,
    });
    Ok(0)
}

/// db:wait: retries connecting until the server answers or `timeout` passes.
pub(crate) fn wait(ctx: &Context, timeout: Duration) -> Result<u8> {
    let conn = ctx.config.connection()?.without_database();
    let started = Instant::now();
    block_on(async {
        let db = Db::connect_waiting(&conn, connect_timeout(ctx), Some(timeout)).await?;
        db.close().await;
        Ok(())
    })?;
    ctx.report.print(&WaitOut {
        ready: true,
        url: conn.to_string(),
        waited_ms: ms(started.elapsed()),
    });
    Ok(0)
}
