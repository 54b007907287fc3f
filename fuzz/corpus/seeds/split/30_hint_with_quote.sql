SELECT /*+ BKA(t1) it's; */ 1 FROM t1;
SELECT 2;
