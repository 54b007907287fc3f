#!/usr/bin/env python3
"""What dbtool's per-migration ledger writes cost the server, without dbtool: the same SQL sent
by the mariadb client (300 DROP TABLEs, alternating rounds). Usage: bench/ledger_cost.py [ROUNDS].
Creates and drops the database `dbtool_ledger_cost`. See docs/PERFORMANCE.md."""
import subprocess, time, statistics, sys
N=300
def sh(c, inp=None): subprocess.run(c, shell=True, check=True, input=inp)
def setup(db, with_tables):
    sh(f"mariadb -e 'drop database if exists {db}; create database {db}'")
    sql = """CREATE TABLE m (version VARCHAR(32) PRIMARY KEY, name VARCHAR(255), batch INT, state VARCHAR(16), direction VARCHAR(4), statements_done INT, statements_total INT, applied_at DATETIME(6), duration_ms BIGINT) ENGINE=InnoDB;
CREATE TABLE log (id BIGINT AUTO_INCREMENT PRIMARY KEY, at DATETIME(6), action VARCHAR(32), version VARCHAR(32), name VARCHAR(255), batch INT, duration_ms BIGINT) ENGINE=InnoDB;
"""
    for i in range(N):
        sql += f"INSERT INTO m VALUES ('{i}', 'n{i}', 1, 'applied', 'up', 1, 1, UTC_TIMESTAMP(6), 0);\n"
        if with_tables: sql += f"CREATE TABLE t{i} (id INT PRIMARY KEY, name VARCHAR(50));\n"
    sh(f"mariadb {db}", sql.encode())
def timed(db, text):
    s=time.perf_counter(); sh(f"mariadb -h127.0.0.1 --delimiter='//' {db}", text.encode()); return time.perf_counter()-s
variants = {
 "A drop only": lambda i: f"DROP TABLE t{i}//\n",
 "B our packet": lambda i: f"DROP TABLE t{i};\nSTART TRANSACTION;\nINSERT INTO log (at, action, version, name, batch, duration_ms) SELECT UTC_TIMESTAMP(6), 'rolled_back', version, name, batch, 1 FROM m WHERE version = '{i}';\nDELETE FROM m WHERE version = '{i}';\nSET @s{i+1} = UTC_TIMESTAMP(6);\nUPDATE m SET state = 'failed', direction = 'down', statements_done = 0 WHERE version = '{i+1}';\nCOMMIT//\n",
 "C drop+1 autocommit delete": lambda i: f"DROP TABLE t{i};\nDELETE FROM m WHERE version = '{i}'//\n",
 "D drop + txn(delete,insert log)": lambda i: f"DROP TABLE t{i};\nSTART TRANSACTION;\nINSERT INTO log (at, action, version) VALUES (UTC_TIMESTAMP(6), 'x', '{i}');\nDELETE FROM m WHERE version = '{i}';\nCOMMIT//\n",
}
res={k:[] for k in variants}
for r in range(int(sys.argv[1])):
    for k,f in (variants.items() if r%2==0 else reversed(list(variants.items()))):
        setup("dbtool_ledger_cost", True)
        text="".join(f(i) for i in reversed(range(N)))
        res[k].append(timed("dbtool_ledger_cost", text))
base=statistics.median(res["A drop only"])
for k,v in res.items(): print(f"{k:35s} median {statistics.median(v)*1000:7.0f} ms  ratio {statistics.median(v)/base:.3f}  {[round(x*1000) for x in v]}")
sh("mariadb -e \"drop database if exists dbtool_ledger_cost\"")
