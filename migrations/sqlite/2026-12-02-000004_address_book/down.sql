ALTER TABLE orders DROP COLUMN address;
DROP TABLE addresses;
