DROP TABLE payments;
DROP TABLE order_items;
DROP TABLE orders;
DROP TABLE cart_items;
DROP TABLE products;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE users;
