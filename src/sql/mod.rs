//! Reading SQL scripts: splitting them into statements and classifying each.

pub mod classify;
pub mod gated;
pub mod hazard;
pub(crate) mod objects;
pub mod split;

pub use classify::{Kind, classify};
pub use split::{Piece, SplitError, Splitter, Statement, statements};
