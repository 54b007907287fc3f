delimiter //
CREATE PROCEDURE p(IN n INT)
BEGIN
  DECLARE i INT DEFAULT 0;
  WHILE i < n DO
    INSERT INTO t VALUES (i);
    SET i = i + 1;
  END WHILE;
END //
delimiter ;
CALL p(3);
