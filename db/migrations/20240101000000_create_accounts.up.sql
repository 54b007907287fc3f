-- 20240101000000_create_accounts (up)
-- The accounts table of the example project. Accepted by MySQL 8.4 and MariaDB 10.11.
CREATE TABLE accounts (
  id          INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name        VARCHAR(50) NOT NULL,
  description VARCHAR(200)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
