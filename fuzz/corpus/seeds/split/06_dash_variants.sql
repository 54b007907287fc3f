SELECT 1--1;
SELECT 2 --	x;
;
SELECT 3 -- x
;
SELECT 5 - -1;
