-- A customer's address book: at most 20 (checked under the user's row lock), at most
-- one default (the partial unique index makes it a fact, not only a rule).
CREATE TABLE addresses (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    full_name TEXT NOT NULL,
    line1 TEXT NOT NULL,
    line2 TEXT,
    city TEXT NOT NULL,
    region TEXT,
    postal_code TEXT NOT NULL,
    country_code TEXT NOT NULL CHECK (char_length(country_code) = 2),
    phone TEXT,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX addresses_user_id_idx ON addresses (user_id, created_at);
CREATE UNIQUE INDEX addresses_one_default_idx ON addresses (user_id) WHERE is_default;

-- The structured address an order ships to, copied when it was placed (JSON of its
-- fields); NULL for orders placed with a free-text shipping address. A snapshot that
-- is only ever read whole, so one column rather than eight.
ALTER TABLE orders ADD COLUMN address TEXT;
