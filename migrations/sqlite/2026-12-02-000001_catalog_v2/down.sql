DROP INDEX order_items_variant_id_idx;
ALTER TABLE order_items DROP COLUMN variant_title;
ALTER TABLE order_items DROP COLUMN sku;
ALTER TABLE order_items DROP COLUMN variant_id;
CREATE TABLE cart_items_v1 (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, product_id)
);
INSERT INTO cart_items_v1 (user_id, product_id, quantity, created_at, updated_at)
SELECT user_id, product_id, sum(quantity), min(created_at), max(updated_at) FROM cart_items GROUP BY user_id, product_id;
DROP TABLE cart_items;
ALTER TABLE cart_items_v1 RENAME TO cart_items;
CREATE INDEX cart_items_product_id_idx ON cart_items (product_id);
DROP TABLE variant_options;
DROP TABLE product_variants;
DROP TABLE product_categories;
DROP TABLE category_closure;
DROP TABLE categories;
