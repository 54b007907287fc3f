//! Integration tests: the real binary against the real server, a fresh database per test.

mod helpers;
mod migrate;
mod seeds;
