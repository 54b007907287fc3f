-- 20240101000000_create_accounts (down)
DROP TABLE accounts;
