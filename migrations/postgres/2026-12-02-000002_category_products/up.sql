-- Every category a product is in, directly or through a subcategory, with the
-- product's creation time (which never changes) as a sort key. A category page then
-- reads its newest products as one index range, (category_id, created_at, product_id)
-- walked backwards, instead of walking all products by date and probing each one's
-- memberships: a leaf of 333 of 10,000 products took 1.3-1.8 ms that way on
-- PostgreSQL. The rows are derived from product_categories and category_closure and
-- rewritten, in the same transaction, by every write that changes either.
CREATE TABLE category_products (
    category_id BIGINT NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
    product_id BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (category_id, product_id)
);
CREATE INDEX category_products_created_at_idx ON category_products (category_id, created_at, product_id);
CREATE INDEX category_products_product_id_idx ON category_products (product_id);

INSERT INTO category_products (category_id, product_id, created_at)
SELECT DISTINCT closure.ancestor_id, memberships.product_id, products.created_at
FROM product_categories AS memberships
JOIN category_closure AS closure ON closure.descendant_id = memberships.category_id
JOIN products ON products.id = memberships.product_id;
