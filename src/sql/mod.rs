//! Reading SQL scripts: splitting them into statements and classifying each.

pub(crate) mod alter;
pub mod classify;
pub mod gated;
pub mod hazard;
pub(crate) mod objects;
pub mod split;
pub(crate) mod tokens;

pub use classify::{Kind, classify};
pub use split::{Piece, SplitError, Splitter, Statement, statements};
