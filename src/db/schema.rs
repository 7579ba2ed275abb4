//! The tables, as diesel sees them; one description for both backends.

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        password_hash -> Text,
        first_name -> Text,
        last_name -> Text,
        phone -> Nullable<Text>,
        role -> Text,
        is_active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        user_id -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> BigInt,
        session_id -> BigInt,
        token_hash -> Text,
        created_at -> Timestamp,
        rotated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    products (id) {
        id -> BigInt,
        name -> Text,
        description -> Text,
        search_text -> Text,
        price_cents -> BigInt,
        stock -> Integer,
        image_path -> Nullable<Text>,
        is_archived -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        review_count -> Integer,
        rating_sum -> BigInt,
        rating_mean -> Nullable<Double>,
    }
}

diesel::table! {
    cart_items (id) {
        id -> BigInt,
        user_id -> BigInt,
        product_id -> BigInt,
        variant_id -> BigInt,
        quantity -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    orders (id) {
        id -> BigInt,
        order_number -> Text,
        user_id -> BigInt,
        status -> Text,
        total_cents -> BigInt,
        shipping_address -> Text,
        payment_method -> Text,
        idempotency_key -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        address -> Nullable<Text>,
        subtotal_cents -> BigInt,
        discount_cents -> BigInt,
        coupon_code -> Nullable<Text>,
        cancellation_reason -> Nullable<Text>,
        payment_due_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    addresses (id) {
        id -> BigInt,
        user_id -> BigInt,
        full_name -> Text,
        line1 -> Text,
        line2 -> Nullable<Text>,
        city -> Text,
        region -> Nullable<Text>,
        postal_code -> Text,
        country_code -> Text,
        phone -> Nullable<Text>,
        is_default -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    order_items (id) {
        id -> BigInt,
        order_id -> BigInt,
        product_id -> BigInt,
        product_name -> Text,
        unit_price_cents -> BigInt,
        quantity -> Integer,
        variant_id -> Nullable<BigInt>,
        sku -> Text,
        variant_title -> Text,
    }
}

diesel::table! {
    payments (id) {
        id -> BigInt,
        order_id -> BigInt,
        amount_cents -> BigInt,
        method -> Text,
        status -> Text,
        transaction_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    categories (id) {
        id -> BigInt,
        name -> Text,
        slug -> Text,
        description -> Text,
        position -> Integer,
        parent_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    category_closure (ancestor_id, descendant_id) {
        ancestor_id -> BigInt,
        descendant_id -> BigInt,
        depth -> Integer,
    }
}

diesel::table! {
    category_products (category_id, product_id) {
        category_id -> BigInt,
        product_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    product_categories (category_id, product_id) {
        category_id -> BigInt,
        product_id -> BigInt,
    }
}

diesel::table! {
    product_variants (id) {
        id -> BigInt,
        product_id -> BigInt,
        sku -> Text,
        title -> Text,
        price_cents -> BigInt,
        stock -> Integer,
        is_archived -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    variant_options (variant_id, position) {
        variant_id -> BigInt,
        product_id -> BigInt,
        position -> Integer,
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    coupons (id) {
        id -> BigInt,
        code -> Text,
        discount_type -> Text,
        value_hundredths -> BigInt,
        min_subtotal_cents -> Nullable<BigInt>,
        starts_at -> Nullable<Timestamp>,
        ends_at -> Nullable<Timestamp>,
        usage_limit -> Nullable<Integer>,
        per_customer_limit -> Nullable<Integer>,
        usage_count -> Integer,
        is_active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    cart_coupons (user_id) {
        user_id -> BigInt,
        coupon_id -> BigInt,
        applied_at -> Timestamp,
    }
}

diesel::table! {
    order_event_head (id) {
        id -> Integer,
        position -> BigInt,
    }
}

diesel::table! {
    order_events (id) {
        id -> BigInt,
        /// NULL on PostgreSQL until the transaction commits (a trigger numbers it); every
        /// row another transaction can read has one.
        position -> BigInt,
        order_id -> BigInt,
        user_id -> BigInt,
        event_type -> Text,
        status -> Text,
        payment_status -> Text,
        occurred_at -> Timestamp,
    }
}

diesel::table! {
    webhooks (id) {
        id -> BigInt,
        url -> Text,
        secret -> Text,
        on_order_event -> Bool,
        on_out_of_stock -> Bool,
        is_active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        webhook_id -> BigInt,
        topic -> Text,
        event_id -> Nullable<BigInt>,
        data -> Text,
        status -> Text,
        attempts -> Integer,
        last_response_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        next_attempt_at -> Nullable<Timestamp>,
        locked_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(cart_items -> users (user_id));
diesel::joinable!(cart_items -> products (product_id));
diesel::joinable!(orders -> users (user_id));
diesel::joinable!(order_items -> orders (order_id));
diesel::joinable!(order_items -> products (product_id));
diesel::joinable!(payments -> orders (order_id));
diesel::joinable!(cart_items -> product_variants (variant_id));
diesel::joinable!(order_items -> product_variants (variant_id));
diesel::joinable!(product_variants -> products (product_id));
diesel::joinable!(variant_options -> product_variants (variant_id));
diesel::table! {
    wishlist_items (id) {
        id -> BigInt,
        user_id -> BigInt,
        product_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    reviews (id) {
        id -> BigInt,
        product_id -> BigInt,
        user_id -> BigInt,
        rating -> Integer,
        title -> Text,
        body -> Text,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> BigInt,
        kind -> Text,
        recipient -> Text,
        subject -> Text,
        text_body -> Text,
        html_body -> Text,
        token_salt -> Nullable<Text>,
        created_at -> Timestamp,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        sent_at -> Nullable<Timestamp>,
        failed_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    password_resets (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        voided_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(password_resets -> users (user_id));
diesel::joinable!(reviews -> products (product_id));
diesel::joinable!(reviews -> users (user_id));
diesel::joinable!(product_categories -> categories (category_id));
diesel::joinable!(wishlist_items -> products (product_id));
diesel::joinable!(product_categories -> products (product_id));
diesel::joinable!(category_products -> categories (category_id));
diesel::joinable!(category_products -> products (product_id));
diesel::joinable!(cart_coupons -> coupons (coupon_id));
diesel::joinable!(order_events -> orders (order_id));
diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    refresh_tokens,
    products,
    cart_items,
    orders,
    order_items,
    payments,
    categories,
    category_closure,
    category_products,
    product_categories,
    product_variants,
    variant_options,
    wishlist_items,
    addresses,
    reviews,
    mail_outbox,
    password_resets,
    coupons,
    cart_coupons,
    order_event_head,
    order_events,
    webhooks,
    webhook_deliveries,
);
