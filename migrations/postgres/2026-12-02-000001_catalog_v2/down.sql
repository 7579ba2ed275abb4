DROP INDEX order_items_variant_id_idx;
ALTER TABLE order_items DROP COLUMN variant_title;
ALTER TABLE order_items DROP COLUMN sku;
ALTER TABLE order_items DROP COLUMN variant_id;
DELETE FROM cart_items a USING cart_items b
WHERE a.user_id = b.user_id AND a.product_id = b.product_id AND a.id > b.id;
ALTER TABLE cart_items DROP CONSTRAINT cart_items_user_id_variant_id_key;
ALTER TABLE cart_items ADD CONSTRAINT cart_items_user_id_product_id_key UNIQUE (user_id, product_id);
ALTER TABLE cart_items DROP COLUMN variant_id;
DROP TABLE variant_options;
DROP TABLE product_variants;
DROP TABLE product_categories;
DROP TABLE category_closure;
DROP TABLE categories;
