//! dbtool: a migration runner for MySQL and MariaDB.

pub mod files;
pub mod sql;
