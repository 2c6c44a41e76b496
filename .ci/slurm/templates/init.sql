CREATE USER IF NOT EXISTS '${db_user}'@'127.0.0.1' IDENTIFIED BY '${db_password}';
CREATE USER IF NOT EXISTS '${db_user}'@'localhost' IDENTIFIED BY '${db_password}';
GRANT ALL ON *.* TO '${db_user}'@'127.0.0.1';
GRANT ALL ON *.* TO '${db_user}'@'localhost';
