-- Product reviews: one per customer and product (a rewrite updates the row). Only
-- published ones count in the product's aggregates.
CREATE TABLE reviews (
    id INTEGER PRIMARY KEY,
    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('PUBLISHED', 'HIDDEN')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (product_id, user_id)
);
-- Product.reviews (published, newest first; admins: all) and Query.reviews.
CREATE INDEX reviews_product_idx ON reviews (product_id, status, created_at, id);
CREATE INDEX reviews_product_all_idx ON reviews (product_id, created_at, id);
CREATE INDEX reviews_created_idx ON reviews (created_at, id);
CREATE INDEX reviews_status_created_idx ON reviews (status, created_at, id);
CREATE INDEX reviews_user_idx ON reviews (user_id);

-- The product's aggregate of its published reviews, kept in every review write's
-- (IMMEDIATE, so serialized) transaction: the sum and count are exact, the mean (their
-- quotient, NULL without reviews) is what the RATING sort reads by index.
ALTER TABLE products ADD COLUMN review_count INTEGER NOT NULL DEFAULT 0 CHECK (review_count >= 0);
ALTER TABLE products ADD COLUMN rating_sum BIGINT NOT NULL DEFAULT 0 CHECK (rating_sum >= 0);
ALTER TABLE products ADD COLUMN rating_mean REAL;
CREATE INDEX products_rating_idx ON products (rating_mean, id);
