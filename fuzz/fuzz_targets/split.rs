//! Fuzz target `split`: arbitrary bytes through the streaming statement splitter.
//!
//! Each input is split twice: with the default 64 KiB reads (`Splitter::new`) and with a small
//! read size picked by the input's first byte (1, 2, 3, 7, 16, 64, 1000 or 4096 bytes), so that
//! every token can straddle a read boundary. Properties checked (any panic is a finding):
//!
//! 1. round trip: when splitting succeeds, the pieces' `raw()` texts concatenated are the input,
//!    byte for byte; when it fails, they are a prefix of the input, and the iterator yields
//!    nothing after the first error;
//! 2. the read size changes nothing: both runs yield the same pieces and the same error;
//! 3. every statement: `sql()` (its body) is non-empty, starts and ends with a non-space byte,
//!    `classify(sql())` equals its `kind`, statements are numbered 1, 2, 3, … and `line` is
//!    the 1-based line of the body's first byte in the input;
//! 4. every `DELIMITER` piece sets a non-empty delimiter without a backslash;
//! 5. on success, `bytes_done()` is the input's length.
#![no_main]

use std::io::Read;

use dbtool::sql::classify::{classify, several_results};
use dbtool::sql::{Piece, Splitter};
use libfuzzer_sys::fuzz_target;

const SMALL_READS: [usize; 8] = [1, 2, 3, 7, 16, 64, 1000, 4096];

fuzz_target!(|data: &[u8]| {
    let small = SMALL_READS[data.first().map_or(0, |&b| b as usize) % SMALL_READS.len()];
    let default = run(data, Splitter::new(data));
    let chunked = run(data, Splitter::with_chunk_size(data, small));
    assert!(
        default == chunked,
        "reading {small} bytes at a time changes the result:\n  64 KiB: {default:?}\n  \
         {small} B: {chunked:?}"
    );
});

/// The pieces and the error (as text: `SplitError` is not `PartialEq`).
type Outcome = (Vec<Piece>, Option<String>);

fn run<R: Read>(data: &[u8], mut splitter: Splitter<R>) -> Outcome {
    let mut pieces = Vec::new();
    let mut error = None;
    // How much of the input the pieces so far cover, and how many line breaks that holds.
    let mut offset = 0usize;
    let mut lines_before = 0u64;
    let mut statements = 0u32;
    for item in splitter.by_ref() {
        let piece = match item {
            Ok(p) => p,
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        };
        let raw = piece.raw().as_bytes();
        assert!(
            data.get(offset..offset + raw.len()) == Some(raw),
            "piece {} does not continue the input at byte {offset}: {raw:?}",
            pieces.len() + 1
        );
        check_piece(&piece, lines_before, &mut statements);
        offset += raw.len();
        lines_before += newlines(raw);
        pieces.push(piece);
    }
    match &error {
        None => {
            assert!(
                offset == data.len(),
                "the pieces do not rebuild the input ({offset} of {} bytes)",
                data.len()
            );
            assert_eq!(splitter.bytes_done(), data.len() as u64, "bytes_done");
        }
        Some(_) => {
            assert!(
                splitter.next().is_none(),
                "the splitter yields something after an error"
            );
        }
    }
    (pieces, error)
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
}

fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Checks one piece; `lines_before` is the number of line breaks before it in the input.
fn check_piece(piece: &Piece, lines_before: u64, statements: &mut u32) {
    let raw = piece.raw().as_bytes();
    assert!(!raw.is_empty(), "empty piece");
    match piece {
        Piece::Statement(s) => {
            *statements += 1;
            assert_eq!(s.number, *statements, "statement numbers");
            let sql = s.sql(); // panics if `body` is out of range or not on char boundaries
            let bytes = sql.as_bytes();
            assert!(!bytes.is_empty(), "empty statement body in {:?}", s.raw);
            assert!(
                !is_space(bytes[0]) && !is_space(bytes[bytes.len() - 1]),
                "body not trimmed: {sql:?}"
            );
            assert_eq!(classify(sql), s.kind, "kind of {sql:?}");
            let _ = several_results(sql);
            assert_eq!(
                s.line,
                1 + lines_before + newlines(&raw[..s.body.start]),
                "line of {sql:?}"
            );
        }
        Piece::Delimiter {
            raw: text,
            line,
            delimiter,
        } => {
            assert!(!delimiter.is_empty(), "empty delimiter from {text:?}");
            assert!(
                !delimiter.contains('\\'),
                "backslash delimiter from {text:?}"
            );
            let first = 1 + lines_before;
            assert!(
                (first..=first + newlines(raw)).contains(line),
                "line {line} of {text:?}"
            );
        }
        Piece::Trivia { .. } => {}
    }
}
