/* header; comment */
SELECT /* inline; */ 1;
/*
 multi
 line;
*/
SELECT 2 /**/;
/***/ SELECT 3;
