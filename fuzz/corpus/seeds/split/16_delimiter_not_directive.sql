SELECT delimiter FROM t;
SELECT 1; DELIMITER $$
CREATE TABLE delimiters (delimiter_x INT);
