//! Properties of the splitter over generated SQL-ish text: the pieces rebuild the input, the
//! result does not depend on how the input is read, and nothing panics.

use super::tests::{bodies, pieces, pieces_trickled};
use super::*;
use proptest::prelude::*;

/// Text built from the splitter's alphabet, so the interesting states are reached often.
fn sqlish() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "SELECT",
        " ",
        "\n",
        "\r\n",
        "\t",
        ";",
        "'",
        "\"",
        "`",
        "\\",
        "--",
        "-- ",
        "#",
        "/*",
        "*/",
        "/*!",
        "/*!40101",
        "/*+",
        "---",
        "*",
        "/",
        "-",
        "$$",
        "//",
        "DELIMITER ",
        "delimiter $$\n",
        "DELIMITER ;\n",
        "\nDELIMITER //\n",
        "a",
        "1",
        "é",
        "''",
        "BEGIN",
        "END",
        "\u{feff}",
    ]);
    prop::collection::vec(atoms, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// The pieces rebuild the input exactly, whatever it is.
    #[test]
    fn round_trip(sql in sqlish()) {
        if let Ok(pieces) = pieces(&sql) {
            let rebuilt: String = pieces.iter().map(Piece::raw).collect();
            prop_assert_eq!(rebuilt, sql.clone());
            for p in &pieces {
                if let Piece::Statement(s) = p {
                    prop_assert!(!s.sql().trim().is_empty());
                    prop_assert!(s.line >= 1);
                }
            }
        }
    }

    /// Reading one byte at a time gives the same pieces as reading all at once.
    #[test]
    fn independent_of_read_sizes(sql in sqlish()) {
        prop_assert_eq!(pieces_trickled(&sql), pieces(&sql));
    }

    /// Arbitrary bytes never make it panic.
    #[test]
    fn never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        for piece in Splitter::new(&bytes[..]) {
            let _ = piece;
        }
    }

    /// Statements separated by `;` come back as written.
    #[test]
    fn plain_statements_come_back(words in prop::collection::vec("[a-z0-9 ,()=]{1,20}", 1..10)) {
        let words: Vec<String> = words.into_iter().filter(|w| !w.trim().is_empty()).collect();
        let sql: String = words.iter().map(|w| format!("SELECT {w};\n")).collect();
        let want: Vec<String> = words.iter().map(|w| format!("SELECT {w}").trim_end().to_owned()).collect();
        prop_assert_eq!(bodies(&sql), want);
    }
}
