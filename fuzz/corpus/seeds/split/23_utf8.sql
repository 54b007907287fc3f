INSERT INTO t VALUES ('héllo; wörld', '日本語;テキスト', '😀');
SELECT 'ÿ' AS `ç;olumn`;
