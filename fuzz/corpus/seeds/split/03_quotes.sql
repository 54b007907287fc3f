INSERT INTO t (a, b) VALUES ('it''s; fine', "say \"hi\"; ok");
SELECT `weird;col``name` FROM t;
