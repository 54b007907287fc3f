//! The script reader, the chain, and the mapping as plain functions: table tests of what real
//! Alembic scripts look like (1.13+'s annotated form and the older plain one) and of every
//! problem the mapping can have.

use super::mapping::{self, Entry};
use super::scripts::{self, Revision};
use crate::files::{MigrationFile, SqlFile, checksum};

/// A script as `alembic revision -m` 1.20 writes it.
fn annotated(id: &str, down: &str, title: &str) -> String {
    format!(
        "\"\"\"{title}\n\nRevision ID: {id}\nRevises: \nCreate Date: 2026-12-01 17:27:35\n\n\"\"\"\n\
         from typing import Sequence, Union\n\nfrom alembic import op\nimport sqlalchemy as sa\n\n\n\
         # revision identifiers, used by Alembic.\nrevision: str = '{id}'\n\
         down_revision: Union[str, Sequence[str], None] = {down}\n\
         branch_labels: Union[str, Sequence[str], None] = None\n\
         depends_on: Union[str, Sequence[str], None] = None\n\n\n\
         def upgrade() -> None:\n    \"\"\"Upgrade schema.\"\"\"\n    pass\n"
    )
}

fn rev(id: &str, down: Option<&str>) -> Revision {
    merge(id, down.as_slice())
}

fn merge(id: &str, downs: &[&str]) -> Revision {
    Revision {
        id: id.into(),
        downs: downs.iter().map(|d| (*d).to_owned()).collect(),
        path: format!("v/{id}.py"),
        line: 3,
        down_line: 4,
        title: String::new(),
    }
}

fn file(version: &str) -> MigrationFile {
    let up = format!("db/migrations/{version}_m.up.sql");
    MigrationFile {
        version: version.parse().unwrap(),
        name: "m".into(),
        up: SqlFile {
            path: up.clone().into(),
            display: up,
        },
        down: None,
        checksum: checksum(b""),
    }
}

#[test]
fn scripts_are_read_in_the_annotated_and_the_plain_form() {
    let r = scripts::parse("v/a.py", &annotated("ae1027a6acf", "None", "create a")).unwrap();
    assert_eq!(
        (r.id.as_str(), r.downs.len(), r.line),
        ("ae1027a6acf", 0, 15)
    );
    assert_eq!(r.title, "create a");
    let r = scripts::parse("v/b.py", &annotated("27c6a30d7c24", "'ae1027a6acf'", "b")).unwrap();
    assert_eq!(
        (r.downs.as_slice(), r.down_line),
        (&["ae1027a6acf".to_owned()][..], 16)
    );
    // Alembic before 1.13: no annotations, double quotes, a trailing comment.
    let plain = "\"\"\"add b\"\"\"\nrevision = \"b2\"  # the id\ndown_revision = \"a1\"\n";
    let r = scripts::parse("v/b2.py", plain).unwrap();
    assert_eq!((r.id.as_str(), r.line), ("b2", 2));
    assert_eq!(
        (r.downs, r.title),
        (vec!["a1".to_owned()], "add b".to_owned())
    );
    // A one-revision tuple is that revision, not a merge; a merge's tuple may span lines.
    let one = "revision = 'c'\ndown_revision = ('b',)\n";
    assert_eq!(scripts::parse("c.py", one).unwrap().downs, ["b"]);
    let two = "revision = 'm'\ndown_revision = (\n    'a',  # left\n    'b',\n)\n";
    let r = scripts::parse("m.py", two).unwrap();
    assert_eq!(
        (r.downs, r.down_line),
        (vec!["a".to_owned(), "b".to_owned()], 2)
    );
}

#[test]
fn assignments_in_docstrings_or_functions_are_not_the_scripts_own() {
    let text = "\"\"\"notes\nrevision = 'not-this'\n\"\"\"\nrevision = 'x1'\n\
                down_revision = None\n\ndef f():\n    revision = 'nor-this'\n";
    let r = scripts::parse("v/x1.py", text).unwrap();
    assert_eq!((r.id.as_str(), r.line), ("x1", 4));
}

#[test]
fn what_is_not_a_plain_revision_script_is_named_with_file_and_line() {
    let cases = [
        (
            "down_revision = None\n",
            "v/m.py: no `revision = \"…\"` line",
        ),
        ("revision = 'm'\n", "v/m.py: no `down_revision = …` line"),
        (
            "revision = 'm'\nrevision = 'n'\ndown_revision = None\n",
            "v/m.py:2: a second `revision =` (the first is at line 1)",
        ),
        (
            "revision = make_id()\ndown_revision = None\n",
            "v/m.py:1: `revision = make_id()` is not a quoted revision id",
        ),
    ];
    for (text, expected) in cases {
        let e = scripts::parse("v/m.py", text).unwrap_err();
        assert!(e.starts_with(expected), "{text:?}: {e}");
    }
}

#[test]
fn the_chain_is_base_first_whatever_the_file_order() {
    let got = scripts::chain(
        vec![rev("c", Some("b")), rev("a", None), rev("b", Some("a"))],
        "v",
    )
    .unwrap();
    let ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c"]);
}

#[test]
fn branches_bases_and_broken_links_are_every_one_reported() {
    let problems = scripts::chain(
        vec![
            rev("a", None),
            rev("b", Some("a")),
            rev("c", Some("a")),
            rev("z", None),
            rev("d", Some("gone")),
            rev("b", Some("a")),
            merge("m", &["b", "c"]),
        ],
        "v",
    )
    .unwrap_err();
    let all = problems.join("\n");
    for expected in [
        "v/b.py:3: revision b is also v/b.py:3",
        "v/d.py:4: revision d revises gone, which no script in v is",
        "v/m.py:4: revision m merges b, c: merges are not supported by --write-mapping",
        "several bases (down_revision = None): a (v/a.py), z (v/z.py)",
        "a branch: b (v/b.py), c (v/c.py), b (v/b.py) all revise a",
    ] {
        assert!(all.contains(expected), "{expected:?} in\n{all}");
    }
    let cycle = scripts::chain(
        vec![rev("a", None), rev("x", Some("y")), rev("y", Some("x"))],
        "v",
    )
    .unwrap_err();
    assert!(cycle[0].contains("not reached from the base"), "{cycle:?}");
    assert!(scripts::chain(vec![], "v").unwrap_err()[0].contains("no Alembic revision scripts"));
}

#[test]
fn a_mapping_is_read_with_the_line_of_each_entry() {
    let text = "# c\n\n[[revision]]\nalembic = \"a1\"\nversion = \"20240101000000\"\n\n\
                [[revision]]\nalembic = \"b2\"  # x\nversion = \"20240102000000\"\n";
    let got = mapping::parse(text).unwrap();
    assert_eq!(
        got,
        [
            Entry {
                alembic: "a1".into(),
                version: "20240101000000".into(),
                line: 3
            },
            Entry {
                alembic: "b2".into(),
                version: "20240102000000".into(),
                line: 7
            },
        ]
    );
    assert!(mapping::parse("").unwrap().is_empty());
}

#[test]
fn a_file_that_is_no_mapping_is_refused_at_its_line() {
    for (text, line, says) in [
        (
            "[[revision]]\nalembic = \"a\"\nversion = 2024\n",
            3,
            "invalid type: integer",
        ),
        (
            "[[revision]]\nalembic = \"a\"\n",
            1,
            "missing field `version`",
        ),
        (
            "[[revision]]\nalembic = \"a\"\nversion = \"1\"\nname = \"x\"\n",
            4,
            "unknown field `name`",
        ),
        ("[[revision]\n", 1, ""),
    ] {
        let (l, message) = mapping::parse(text).unwrap_err();
        assert_eq!(l, line, "{text:?}: {message}");
        assert!(message.contains(says), "{text:?}: {message}");
    }
}

fn entry(alembic: &str, version: &str, line: usize) -> Entry {
    Entry {
        alembic: alembic.into(),
        version: version.into(),
        line,
    }
}

#[test]
fn a_head_stands_for_its_entry_and_every_one_before_it() {
    let files = [file("1"), file("2"), file("3")];
    let map = [entry("a", "1", 1), entry("b", "2", 4), entry("c", "3", 7)];
    let (wanted, problems) = mapping::applied(&map, &["b".into()], &files, ("m.toml", "av"));
    assert!(problems.is_empty(), "{problems:?}");
    let got: Vec<(String, &str)> = wanted
        .iter()
        .map(|(f, l)| (f.version.to_string(), l.as_str()))
        .collect();
    assert_eq!(
        got,
        [("1".into(), "revision a"), ("2".into(), "revision b")]
    );
}

#[test]
fn every_disagreement_of_the_mapping_is_listed() {
    let files = [file("1"), file("2"), file("5")];
    let map = [
        entry("a", "1", 1),
        entry("a", "2", 4),
        entry("b", "01", 7),
        entry("c", "x.1", 10),
        entry("d", "4", 13),
        entry("e", "5", 16),
        entry("f", "2", 19),
    ];
    let (_, problems) = mapping::applied(&map, &["f".into()], &files, ("m.toml", "av"));
    let all = problems.join("\n");
    for expected in [
        "m.toml:4: revision a is mapped twice (also at line 1)",
        "m.toml:7: version 01 is mapped twice (to revision b here, to a at line 1)",
        "m.toml:10: version `x.1` of revision c is not a version",
        "m.toml:13: revision d: no migration file has version 4",
        "m.toml:19: version 2 comes after version 5 (line 16)",
    ] {
        assert!(all.contains(expected), "{expected:?} in\n{all}");
    }
    assert_eq!(problems.len(), 5, "{all}");
    for (heads, expected) in [
        (vec![], "av is empty: Alembic has applied no revision"),
        (
            vec!["zz".to_owned()],
            "head revision zz (in av) is not in m.toml",
        ),
        (
            vec!["a".to_owned(), "b".to_owned()],
            "av has 2 heads (a, b)",
        ),
    ] {
        let (wanted, problems) = mapping::applied(&map[..1], &heads, &files, ("m.toml", "av"));
        assert!(
            problems.join("\n").contains(expected),
            "{heads:?}: {problems:?}"
        );
        assert!(wanted.is_empty(), "{heads:?}");
    }
}

#[test]
fn the_written_mapping_pairs_in_order_and_reads_back() {
    let chain = [
        Revision {
            title: "create \"a\"".into(),
            ..rev("a1", None)
        },
        rev("b2", Some("a1")),
        rev("c3", Some("b2")),
    ];
    let text = mapping::render(
        &chain,
        &[file("20240101000000"), file("20240102000000")],
        "v",
    );
    let back = mapping::parse(&text).unwrap();
    let pairs: Vec<(&str, &str)> = back
        .iter()
        .map(|e| (e.alembic.as_str(), e.version.as_str()))
        .collect();
    assert_eq!(pairs, [("a1", "20240101000000"), ("b2", "20240102000000")]);
    assert!(
        text.contains("alembic = \"a1\"  # v/a1.py: create \"a\"\n"),
        "{text}"
    );
    assert!(text.contains("# [[revision]]\n# alembic = \"c3\"  # v/c3.py\n# version = \"\"\n"));
    let text = mapping::render(&chain[..1], &[file("1"), file("2")], "v");
    assert!(text.contains("#   db/migrations/2_m.up.sql\n"), "{text}");
}

#[test]
fn a_head_stands_for_every_revision_it_revises_through_merges() {
    // a - b - c - m (the merge of c and s), and a - s
    let history = [
        rev("a", None),
        rev("b", Some("a")),
        rev("c", Some("b")),
        rev("s", Some("a")),
        merge("m", &["c", "s"]),
    ];
    let of = |head: &str| {
        let mut v: Vec<String> = scripts::ancestors(&history, head, "v")
            .unwrap()
            .into_iter()
            .collect();
        v.sort();
        v
    };
    assert_eq!(of("m"), ["a", "b", "c", "m", "s"]);
    assert_eq!(of("s"), ["a", "s"]);
    assert!(scripts::ancestors(&history, "zz", "v").unwrap_err()[0].contains("zz is no script"));
    // That history linearised by hand: right at the merge and at c, wrong at s.
    let map = [
        entry("a", "1", 1),
        entry("b", "2", 4),
        entry("c", "3", 7),
        entry("s", "4", 10),
        entry("m", "5", 13),
    ];
    let at = |map: &[Entry], head: &str| {
        let ancestors = scripts::ancestors(&history, head, "v").unwrap();
        mapping::against_history(map, head, (&history, &ancestors), ("m.toml", "v")).join("\n")
    };
    assert_eq!(at(&map, "m"), "");
    assert_eq!(at(&map, "c"), "");
    let problems = at(&map, "s");
    for expected in [
        "m.toml:4: revision b comes before head s in the mapping, but by the scripts in v the \
         head does not stand for it",
        "m.toml:7: revision c comes before head s",
    ] {
        assert!(problems.contains(expected), "{expected:?} in\n{problems}");
    }
    // Out of Alembic's order; a revision the mapping lacks.
    let swapped = [entry("a", "1", 1), entry("c", "2", 4), entry("b", "3", 7)];
    let problems = at(&swapped, "b");
    assert!(
        problems.contains("m.toml:4: revision c comes before head b"),
        "{problems}"
    );
    let short = [entry("a", "1", 1), entry("c", "3", 7)];
    assert!(
        at(&short, "c").contains(
            "revision b (v/b.py) was applied by Alembic before head c but is not in m.toml"
        ),
        "{}",
        at(&short, "c")
    );
    let late = [entry("a", "1", 1), entry("c", "3", 4), entry("b", "4", 7)];
    assert!(at(&late, "c").contains("m.toml:7: revision b comes after head c"));
}
