-- A customer's wishlist: one row per product, at most 200 (checked under the user's
-- row lock). A deleted product leaves every wishlist; an archived one stays.
CREATE TABLE wishlist_items (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, product_id)
);
CREATE INDEX wishlist_items_product_id_idx ON wishlist_items (product_id);
