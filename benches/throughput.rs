//! Throughput of the pure parts: splitting, hashing, both together (what a seed run does to
//! its file), and discovering 10,000 migrations. `cargo bench` (or `make bench`, which runs the
//! end-to-end benchmark too). Target: split + hash >= 300 MB/s on one core.

#![allow(unreachable_pub)] // a test crate: nothing in it is reachable from outside

use std::io::Read;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dbtool::files::checksum::Hasher;
use dbtool::files::{Paths, discover_migrations};
use dbtool::sql::{Piece, Splitter};

/// ~64 MB of realistic seed SQL: multi-row INSERTs with strings that need escaping, comments,
/// a DELIMITER block, CRLF lines.
fn seed_sql() -> Vec<u8> {
    let mut s = String::with_capacity(70 << 20);
    let mut id = 0u64;
    while s.len() < 64 << 20 {
        s.push_str("-- batch of accounts\nINSERT INTO accounts (id, name, email, note) VALUES ");
        for k in 0..200 {
            id += 1;
            if k > 0 {
                s.push(',');
            }
            s.push_str(&format!(
                "({id},'Name {id}','user{id}@example.com','it''s \\'quoted\\' ; not a delimiter')"
            ));
        }
        s.push_str(";\r\n");
        if id.is_multiple_of(20_000) {
            s.push_str("DELIMITER $$\nCREATE TRIGGER t BEFORE INSERT ON accounts FOR EACH ROW BEGIN SET NEW.id = NEW.id; END$$\nDELIMITER ;\n");
        }
    }
    s.into_bytes()
}

struct Hashing<'a, R> {
    inner: R,
    hasher: &'a mut Hasher,
}

impl<R: Read> Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

fn count_statements<R: Read>(r: R) -> usize {
    Splitter::new(r)
        .map(|p| p.expect("the generated SQL splits"))
        .filter(|p| matches!(p, Piece::Statement(_)))
        .count()
}

fn throughput(c: &mut Criterion) {
    let sql = seed_sql();
    let mut g = c.benchmark_group("seed file");
    g.throughput(Throughput::Bytes(sql.len() as u64));
    g.sample_size(10);
    g.bench_function("split", |b| b.iter(|| count_statements(&sql[..])));
    g.bench_function("checksum", |b| {
        b.iter(|| {
            let mut h = Hasher::new();
            h.update(&sql);
            h.finish()
        })
    });
    g.bench_function("split + checksum", |b| {
        b.iter(|| {
            let mut h = Hasher::new();
            let n = count_statements(Hashing {
                inner: &sql[..],
                hasher: &mut h,
            });
            (n, h.finish())
        })
    });
    g.finish();

    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("db/migrations");
    for i in 0..10_000u32 {
        let sub = migrations.join(format!("{}", 2020 + i / 2500));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(
            sub.join(format!(
                "{:014}_create_t{i}.up.sql",
                20200101000000u64 + i as u64
            )),
            format!("CREATE TABLE t{i} (id INT PRIMARY KEY, name VARCHAR(50));\n"),
        )
        .unwrap();
        std::fs::write(
            sub.join(format!(
                "{:014}_create_t{i}.down.sql",
                20200101000000u64 + i as u64
            )),
            format!("DROP TABLE t{i};\n"),
        )
        .unwrap();
    }
    let paths = Paths {
        cwd: dir.path().to_path_buf(),
    };
    let mut g = c.benchmark_group("discovery");
    g.sample_size(10);
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("10,000 migrations", |b| {
        b.iter(|| discover_migrations(&migrations, &paths).unwrap().len())
    });
    g.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
