-- Coupons. value_hundredths is the value times 100: hundredths of a percent for
-- PERCENTAGE (12.5 % = 1250), cents for FIXED_AMOUNT. usage_count is the number of
-- orders that hold a use now: placeOrder takes one with a conditional UPDATE (so the
-- cap holds under concurrency), a cancellation gives it back.
CREATE TABLE coupons (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    discount_type TEXT NOT NULL CHECK (discount_type IN ('PERCENTAGE', 'FIXED_AMOUNT')),
    value_hundredths BIGINT NOT NULL CHECK (value_hundredths > 0),
    min_subtotal_cents BIGINT,
    starts_at TIMESTAMP,
    ends_at TIMESTAMP,
    usage_limit INTEGER CHECK (usage_limit >= 1),
    per_customer_limit INTEGER CHECK (per_customer_limit >= 1),
    usage_count INTEGER NOT NULL DEFAULT 0 CHECK (usage_count >= 0),
    is_active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- The coupon applied to a customer's cart (a cart is its customer's lines).
CREATE TABLE cart_coupons (
    user_id BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    coupon_id BIGINT NOT NULL REFERENCES coupons (id) ON DELETE CASCADE,
    applied_at TIMESTAMP NOT NULL
);
CREATE INDEX cart_coupons_coupon_idx ON cart_coupons (coupon_id);

-- What an order was priced at: v1 orders had no discount, so their subtotal is their total.
ALTER TABLE orders ADD COLUMN subtotal_cents BIGINT;
UPDATE orders SET subtotal_cents = total_cents;
ALTER TABLE orders ALTER COLUMN subtotal_cents SET NOT NULL;
ALTER TABLE orders ADD COLUMN discount_cents BIGINT NOT NULL DEFAULT 0;
-- The code of the coupon whose use the order holds (codes never change).
ALTER TABLE orders ADD COLUMN coupon_code TEXT;
ALTER TABLE orders ADD COLUMN cancellation_reason TEXT
    CHECK (cancellation_reason IN ('CUSTOMER', 'ADMIN', 'PAYMENT_TIMEOUT'));
ALTER TABLE orders ADD COLUMN payment_due_at TIMESTAMP;
-- A customer's uses of a coupon (the per-customer limit).
CREATE INDEX orders_coupon_user_idx ON orders (coupon_code, user_id) WHERE coupon_code IS NOT NULL;
-- The expiry sweeper's scan: open orders with a deadline, soonest first.
CREATE INDEX orders_payment_due_idx ON orders (payment_due_at)
    WHERE status = 'PENDING' AND payment_due_at IS NOT NULL;

-- The order event log. A transaction appends events without a position; at its COMMIT
-- a deferred trigger numbers them from order_event_head, whose one row it updates: the
-- row lock orders the committing transactions, so positions follow commit order, and it
-- is held only while the commit itself runs (see src/events/log.rs).
CREATE TABLE order_event_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    position BIGINT NOT NULL
);
INSERT INTO order_event_head (id, position) VALUES (1, 0);

CREATE TABLE order_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Set at commit; no committed event is without one.
    position BIGINT UNIQUE,
    order_id BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    status TEXT NOT NULL,
    payment_status TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL
);
CREATE INDEX order_events_order_idx ON order_events (order_id, position);
CREATE INDEX order_events_user_idx ON order_events (user_id, position);

-- Outgoing webhooks and their deliveries (an outbox: a delivery is written in the
-- transaction of the event it reports, and sent by a worker after the commit). A
-- deleted webhook keeps its row (deleted_at): a delete would take a lock that every
-- delivery insert, and so every order change, would wait for; and ids are never reused.
CREATE TABLE webhooks (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    on_order_event BOOLEAN NOT NULL,
    on_out_of_stock BOOLEAN NOT NULL,
    is_active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP
);

CREATE TABLE webhook_deliveries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id BIGINT NOT NULL REFERENCES webhooks (id),
    topic TEXT NOT NULL CHECK (topic IN ('ORDER_EVENT', 'PRODUCT_OUT_OF_STOCK')),
    -- The event an ORDER_EVENT delivery reports.
    event_id BIGINT REFERENCES order_events (id) ON DELETE CASCADE,
    -- The body's "data" object, as JSON; the body is composed from this row alone.
    data TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_response_status INTEGER,
    last_error TEXT,
    next_attempt_at TIMESTAMP,
    locked_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'PENDING';
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id)
    WHERE event_id IS NOT NULL;

-- Numbers an event as its transaction commits, and puts its cursor into the data of the
-- deliveries that report it (written with "cursor":"" until then).
CREATE FUNCTION order_event_number() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    assigned BIGINT;
BEGIN
    UPDATE order_event_head SET position = position + 1 WHERE id = 1
        RETURNING position INTO assigned;
    UPDATE order_events SET position = assigned WHERE id = NEW.id;
    UPDATE webhook_deliveries
        SET data = replace(data, '"cursor":""', '"cursor":"' || assigned || '"')
        WHERE event_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER order_event_number AFTER INSERT ON order_events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION order_event_number();
