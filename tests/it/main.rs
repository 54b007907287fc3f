//! Integration tests: the real binary against the real server, a fresh database per test.

#![allow(unreachable_pub)] // a test crate: nothing in it is reachable from outside

mod bad_input;
mod baseline;
mod checked;
mod cli;
mod everyday;
mod explain;
mod faults;
mod fleet;
mod helpers;
mod import;
mod import_alembic;
mod import_real;
mod isolation;
mod ledger;
mod library;
mod lint;
mod migrate;
mod schema;
mod security;
mod seeds;
mod snapshots;
mod tls;
mod waits;
