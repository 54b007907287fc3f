-- a comment; with a semicolon
SELECT 1; -- trailing; comment
# hash; comment
SELECT 2 # another; one
;
--
SELECT 3;
----------------------------------------
SELECT 4;
