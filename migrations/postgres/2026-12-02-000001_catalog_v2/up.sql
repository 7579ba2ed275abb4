-- Catalog v2: categories, and variants that own price, stock and SKU.
--
-- products.price_cents and products.stock stay, as values derived from the product's
-- active variants (lowest price, summed stock) and kept by every write of a variant in
-- the same transaction: the v1 reads, filters and sorts keep their indexes and need
-- no join.

CREATE TABLE categories (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    slug TEXT NOT NULL UNIQUE CHECK (char_length(slug) BETWEEN 1 AND 64),
    description TEXT NOT NULL DEFAULT '',
    position INTEGER NOT NULL DEFAULT 0,
    parent_id BIGINT REFERENCES categories (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX categories_parent_id_idx ON categories (parent_id, position, name);

-- The tree as a closure table: one row per (ancestor, descendant) pair, a category
-- being its own ancestor at depth 0. A subtree filter is one index range on
-- ancestor_id; a move rewrites only the rows of the moved subtree.
CREATE TABLE category_closure (
    ancestor_id BIGINT NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
    descendant_id BIGINT NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
    depth INTEGER NOT NULL CHECK (depth >= 0),
    PRIMARY KEY (ancestor_id, descendant_id)
);
CREATE INDEX category_closure_descendant_id_idx ON category_closure (descendant_id, depth);

CREATE TABLE product_categories (
    category_id BIGINT NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
    product_id BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    PRIMARY KEY (category_id, product_id)
);
CREATE INDEX product_categories_product_id_idx ON product_categories (product_id);

CREATE TABLE product_variants (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    sku TEXT NOT NULL CHECK (char_length(sku) BETWEEN 1 AND 64),
    -- The option values joined by " / " in the product's option order, or "Default".
    title TEXT NOT NULL,
    price_cents BIGINT NOT NULL CHECK (price_cents > 0 AND price_cents <= 9999999999),
    stock INTEGER NOT NULL DEFAULT 0 CHECK (stock >= 0),
    is_archived BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX product_variants_sku_lower_key ON product_variants (lower(sku));
CREATE INDEX product_variants_product_id_idx ON product_variants (product_id, id);

-- A variant's option values; product_id is copied here so that facets group by it
-- without a join.
CREATE TABLE variant_options (
    variant_id BIGINT NOT NULL REFERENCES product_variants (id) ON DELETE CASCADE,
    product_id BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    value TEXT NOT NULL CHECK (char_length(value) BETWEEN 1 AND 200),
    PRIMARY KEY (variant_id, position)
);
CREATE INDEX variant_options_name_value_idx ON variant_options (name, value, variant_id);
CREATE INDEX variant_options_product_id_idx ON variant_options (product_id);

-- Every v1 product becomes a product with one variant of its price and stock.
-- A migrated variant takes its product's id, so that the old cart and order lines find
-- it by the product_id they hold.
INSERT INTO product_variants (id, product_id, sku, title, price_cents, stock, is_archived, created_at, updated_at)
OVERRIDING SYSTEM VALUE
SELECT id, id, 'SKU-' || id, 'Default', price_cents, stock, FALSE, created_at, updated_at FROM products;
SELECT setval(pg_get_serial_sequence('product_variants', 'id'), (SELECT max(id) FROM product_variants))
WHERE EXISTS (SELECT 1 FROM product_variants);

-- Cart lines become lines of a variant: the unique line is now per variant.
ALTER TABLE cart_items ADD COLUMN variant_id BIGINT REFERENCES product_variants (id) ON DELETE CASCADE;
UPDATE cart_items SET variant_id = product_id;
ALTER TABLE cart_items ALTER COLUMN variant_id SET NOT NULL;
ALTER TABLE cart_items DROP CONSTRAINT cart_items_user_id_product_id_key;
ALTER TABLE cart_items ADD CONSTRAINT cart_items_user_id_variant_id_key UNIQUE (user_id, variant_id);
CREATE INDEX cart_items_variant_id_idx ON cart_items (variant_id);

-- Order lines snapshot the variant too; variant_id is null once a variant is deleted.
ALTER TABLE order_items ADD COLUMN variant_id BIGINT REFERENCES product_variants (id) ON DELETE SET NULL;
ALTER TABLE order_items ADD COLUMN sku TEXT NOT NULL DEFAULT '';
ALTER TABLE order_items ADD COLUMN variant_title TEXT NOT NULL DEFAULT 'Default';
UPDATE order_items SET variant_id = product_id, sku = 'SKU-' || product_id;
CREATE INDEX order_items_variant_id_idx ON order_items (variant_id);
