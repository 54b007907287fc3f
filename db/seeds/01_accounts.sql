-- dbtool:run always
-- The example accounts. DELETE then INSERT, so every run leaves exactly these three rows;
-- only DML here, so the whole seed runs in one transaction.
DELETE FROM accounts;
INSERT INTO accounts (id, name, description) VALUES
  (1, 'John Smith', 'CEO'),
  (2, 'Ed Williams', 'CTO'),
  (3, 'Wendy Jones', 'CFO');
