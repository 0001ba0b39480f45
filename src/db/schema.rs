//! One schema for both backends, limited to types both support: `Text`, `BigInt`, `Integer`,
//! `Bool`, `Timestamp` (naive UTC), `Binary` (BLOB / bytea) and `Double` (REAL / double
//! precision). The migrations of each backend must build exactly this (a test compares them
//! column by column); a change is a new migration in both folders, never an edit of a landed one.

diesel::table! {
    shops (id) {
        id -> Text,
        domain -> Text,
        scopes -> Text,
        access_token_enc -> Nullable<Text>,
        access_token_expires_at -> Nullable<Timestamp>,
        refresh_token_enc -> Nullable<Text>,
        refresh_token_expires_at -> Nullable<Timestamp>,
        installed -> Bool,
        installed_at -> Nullable<Timestamp>,
        uninstalled_at -> Nullable<Timestamp>,
        webhooks_registered_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    app_keys (name) {
        name -> Text,
        value_enc -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    oauth_nonces (nonce) {
        nonce -> Text,
        shop_domain -> Text,
        used_at -> Timestamp,
    }
}

diesel::table! {
    webhook_inbox (id) {
        id -> Text,
        webhook_id -> Text,
        shop_domain -> Text,
        topic -> Text,
        api_version -> Nullable<Text>,
        event_id -> Nullable<Text>,
        triggered_at -> Nullable<Text>,
        payload -> Binary,
        received_at -> Timestamp,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        note -> Nullable<Text>,
        processed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    orders (shop_id, order_id) {
        shop_id -> Text,
        order_id -> BigInt,
        name -> Text,
        customer_id -> Nullable<BigInt>,
        financial_status -> Nullable<Text>,
        fulfillment_status -> Nullable<Text>,
        cancelled -> Bool,
        cancelled_at -> Nullable<Timestamp>,
        currency -> Text,
        total_price_cents -> BigInt,
        source_name -> Nullable<Text>,
        test -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version_triggered_at -> Nullable<Timestamp>,
        synced_at -> Timestamp,
        personalized -> Bool,
    }
}

diesel::table! {
    order_line_items (shop_id, line_item_id) {
        shop_id -> Text,
        line_item_id -> BigInt,
        order_id -> BigInt,
        position -> Integer,
        product_id -> Nullable<BigInt>,
        variant_id -> Nullable<BigInt>,
        title -> Text,
        variant_title -> Nullable<Text>,
        sku -> Nullable<Text>,
        quantity -> Integer,
        current_quantity -> Integer,
        refunded_quantity -> Integer,
        price_cents -> BigInt,
        gift_card -> Bool,
        properties -> Text,
        discount_cents -> BigInt,
        personalization_verified -> Nullable<Bool>,
        verdict -> Nullable<Text>,
        template_id -> Nullable<Text>,
        template_version -> Nullable<Integer>,
        expected_cents -> Nullable<BigInt>,
        charged_cents -> Nullable<BigInt>,
        status -> Nullable<Text>,
        status_changed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    products (shop_id, product_id) {
        shop_id -> Text,
        product_id -> BigInt,
        title -> Text,
        handle -> Text,
        product_type -> Text,
        vendor -> Text,
        tags -> Text,
        status -> Text,
        published -> Bool,
        available -> Bool,
        price_min_cents -> Nullable<BigInt>,
        price_max_cents -> Nullable<BigInt>,
        image_url -> Nullable<Text>,
        deleted -> Bool,
        updated_at -> Timestamp,
        version_triggered_at -> Nullable<Timestamp>,
        synced_at -> Timestamp,
        catalogue_seq -> BigInt,
    }
}

diesel::table! {
    product_variants (shop_id, variant_id) {
        shop_id -> Text,
        variant_id -> BigInt,
        product_id -> BigInt,
        position -> Integer,
        title -> Text,
        sku -> Nullable<Text>,
        price_cents -> BigInt,
        available -> Bool,
        inventory_quantity -> Nullable<BigInt>,
        option1 -> Nullable<Text>,
        option2 -> Nullable<Text>,
        option3 -> Nullable<Text>,
    }
}

diesel::table! {
    customers (shop_id, customer_id) {
        shop_id -> Text,
        customer_id -> BigInt,
        email_marketing_state -> Nullable<Text>,
        email_marketing_updated_at -> Nullable<Timestamp>,
        sms_marketing_state -> Nullable<Text>,
        sms_marketing_updated_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
        version_triggered_at -> Nullable<Timestamp>,
        synced_at -> Timestamp,
    }
}

diesel::table! {
    compliance_requests (id) {
        id -> Text,
        shop_domain -> Text,
        topic -> Text,
        customer_id -> Nullable<BigInt>,
        customer_ref -> Nullable<Text>,
        shopify_request_id -> Nullable<BigInt>,
        webhook_id -> Text,
        received_at -> Timestamp,
        state -> Text,
        completed_at -> Nullable<Timestamp>,
        export -> Nullable<Text>,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    redacted_customers (shop_domain, customer_ref) {
        shop_domain -> Text,
        customer_ref -> Text,
        redacted_at -> Timestamp,
    }
}

diesel::table! {
    templates (id) {
        id -> Text,
        shop_id -> Text,
        name -> Text,
        version -> Integer,
        fields -> Text,
        deleted -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    template_versions (template_id, version) {
        template_id -> Text,
        version -> Integer,
        shop_id -> Text,
        name -> Text,
        fields -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    template_products (shop_id, product_id) {
        shop_id -> Text,
        product_id -> BigInt,
        template_id -> Text,
    }
}

diesel::table! {
    uploads (id) {
        id -> Text,
        shop_id -> Text,
        content_type -> Text,
        width -> Integer,
        height -> Integer,
        byte_size -> BigInt,
        sha256 -> Text,
        data -> Binary,
        created_at -> Timestamp,
        order_id -> Nullable<BigInt>,
        referenced_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    personalization_settings (shop_id) {
        shop_id -> Text,
        blocked_words -> Text,
        fee_variant_id -> Nullable<BigInt>,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(orders -> shops (shop_id));
diesel::joinable!(products -> shops (shop_id));
diesel::joinable!(customers -> shops (shop_id));
diesel::allow_tables_to_appear_in_same_query!(
    shops,
    webhook_inbox,
    orders,
    order_line_items,
    products,
    product_variants,
    customers,
    compliance_requests,
    redacted_customers,
    templates,
    template_versions,
    template_products,
    uploads,
    personalization_settings,
);

// ---------------------------------------------------------------- preference center

diesel::table! {
    preference_settings (shop_id) {
        shop_id -> Text,
        settings -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    customer_preferences (shop_id, customer_id) {
        shop_id -> Text,
        customer_id -> BigInt,
        sizes -> Text,
        interests -> Text,
        email -> Bool,
        sms -> Bool,
        frequency -> Nullable<Text>,
        personalization_consent -> Bool,
        marketing_consent -> Bool,
        marketing_changed_at -> Nullable<Timestamp>,
        history_seq -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        pause_until -> Nullable<Text>,
    }
}

diesel::table! {
    consent_history (shop_id, customer_id, seq) {
        shop_id -> Text,
        customer_id -> BigInt,
        seq -> BigInt,
        field -> Text,
        old_value -> Text,
        new_value -> Text,
        source -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    saved_personalizations (id) {
        id -> Text,
        shop_id -> Text,
        customer_id -> BigInt,
        name -> Text,
        product_id -> Nullable<BigInt>,
        field_values -> Text,
        created_at -> Timestamp,
    }
}

// ---------------------------------------------------------------- recommendations

diesel::table! {
    rec_items (shop_id, product_id) {
        shop_id -> Text,
        product_id -> BigInt,
        orders -> BigInt,
        sessions -> BigInt,
        trend -> Double,
        flagged -> Bool,
        touched_seq -> BigInt,
        buyers -> BigInt,
    }
}

diesel::table! {
    rec_buyer_pairs (shop_id, a, b) {
        shop_id -> Text,
        a -> BigInt,
        b -> BigInt,
        n -> BigInt,
    }
}

diesel::table! {
    rec_pairs (shop_id, a, b) {
        shop_id -> Text,
        a -> BigInt,
        b -> BigInt,
        n -> BigInt,
    }
}

diesel::table! {
    rec_covisits (shop_id, a, b) {
        shop_id -> Text,
        a -> BigInt,
        b -> BigInt,
        n -> BigInt,
    }
}

diesel::table! {
    rec_shop_stats (shop_id) {
        shop_id -> Text,
        orders -> BigInt,
        first_order_at -> Nullable<BigInt>,
        last_order_at -> Nullable<BigInt>,
        model_version -> BigInt,
        catalogue_version -> BigInt,
        reset_version -> BigInt,
    }
}

diesel::table! {
    rec_order_contrib (shop_id, order_id) {
        shop_id -> Text,
        order_id -> BigInt,
        product_ids -> Text,
        at_secs -> BigInt,
        redacted -> Bool,
        applied_at -> Timestamp,
        first_bought -> Nullable<Text>,
        partners -> Nullable<Text>,
    }
}

diesel::table! {
    rec_events (id) {
        id -> Text,
        shop_id -> Text,
        session_id -> Text,
        customer_id -> Nullable<BigInt>,
        kind -> Text,
        product_id -> BigInt,
        intent -> Nullable<Text>,
        source_product_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        experiment_id -> Nullable<Text>,
        experiment_arm -> Nullable<Text>,
    }
}

diesel::table! {
    rec_settings (shop_id) {
        shop_id -> Text,
        pinned -> Text,
        excluded -> Text,
        excluded_everywhere -> Text,
        updated_at -> Timestamp,
        collection_pins -> Text,
    }
}

diesel::table! {
    rec_jobs (shop_id) {
        shop_id -> Text,
        state -> Text,
        cursor -> Nullable<Text>,
        orders_done -> BigInt,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    rec_items,
    rec_pairs,
    rec_buyer_pairs,
    rec_covisits,
    rec_shop_stats,
    rec_order_contrib,
    rec_events,
    rec_settings,
    rec_jobs,
);

diesel::allow_tables_to_appear_in_same_query!(products, rec_items);

// ---------------------------------------------------------------- recommendation experiments

diesel::table! {
    rec_experiments (id) {
        id -> Text,
        shop_id -> Text,
        name -> Text,
        intent -> Text,
        strategy_a -> Text,
        strategy_b -> Text,
        share_a -> Integer,
        state -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        stopped_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    rec_experiment_exposures (experiment_id, unit) {
        experiment_id -> Text,
        unit -> Text,
        shop_id -> Text,
        arm -> Text,
        customer_id -> Nullable<BigInt>,
        session_id -> Nullable<Text>,
        first_at -> Timestamp,
        last_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(rec_experiments, rec_experiment_exposures);

// ---------------------------------------------------------------- wishlists

diesel::table! {
    wishlist_items (shop_id, customer_id, product_id) {
        shop_id -> Text,
        customer_id -> BigInt,
        product_id -> BigInt,
        added_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(wishlist_items, products);

// ---------------------------------------------------------------- follow-ups

diesel::table! {
    followup_settings (shop_id) {
        shop_id -> Text,
        destination_url -> Nullable<Text>,
        format -> Text,
        channel -> Text,
        signing_secret -> Text,
        secret_hint -> Text,
        price_drop -> Bool,
        back_in_stock -> Bool,
        abandoned_personalization -> Bool,
        abandoned_after_minutes -> BigInt,
        updated_at -> Timestamp,
        klaviyo_key -> Nullable<Text>,
        klaviyo_key_hint -> Nullable<Text>,
    }
}

diesel::table! {
    followup_personalizations (shop_id, customer_id, product_id) {
        shop_id -> Text,
        customer_id -> BigInt,
        product_id -> BigInt,
        validated_at -> Timestamp,
    }
}

diesel::table! {
    followup_outbox (id) {
        id -> Text,
        shop_id -> Text,
        customer_id -> BigInt,
        kind -> Text,
        dedupe_key -> Text,
        data -> Text,
        state -> Text,
        attempts -> BigInt,
        next_attempt_at -> Timestamp,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        approved_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    store_writes (id) {
        id -> Text,
        shop_id -> Text,
        kind -> Text,
        subject_id -> BigInt,
        dedupe_key -> Text,
        data -> Text,
        state -> Text,
        attempts -> BigInt,
        next_attempt_at -> Timestamp,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        result -> Nullable<Text>,
        created_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    followup_settings,
    followup_personalizations,
    followup_outbox,
    shops,
);

diesel::allow_tables_to_appear_in_same_query!(store_writes, shops);

// ---------------------------------------------------------------- web pixel

diesel::table! {
    pixel_events (shop_id, event_id) {
        shop_id -> Text,
        event_id -> Text,
        client_id -> Text,
        name -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    pixel_order_links (shop_id, order_id) {
        shop_id -> Text,
        order_id -> BigInt,
        session_id -> Text,
        linked_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(pixel_order_links, orders);
diesel::allow_tables_to_appear_in_same_query!(pixel_order_links, order_line_items);

// ---------------------------------------------------------------- cart transform

diesel::table! {
    cart_transforms (shop_id) {
        shop_id -> Text,
        transform_id -> Nullable<Text>,
        last_error -> Nullable<Text>,
        attempts -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    price_table_syncs (shop_id, product_id) {
        shop_id -> Text,
        product_id -> BigInt,
        due -> Bool,
        generation -> BigInt,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        synced_value -> Nullable<Text>,
        synced_at -> Nullable<Timestamp>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(cart_transforms, shops);

// ---------------------------------------------------------------- zero-party questions

diesel::table! {
    quiz_questions (shop_id, question_key) {
        shop_id -> Text,
        question_key -> Text,
        position -> BigInt,
        active -> Bool,
        version -> BigInt,
        definition -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    quiz_answers (shop_id, customer_id, question_key, option_key) {
        shop_id -> Text,
        customer_id -> BigInt,
        question_key -> Text,
        option_key -> Text,
        answered_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(quiz_questions, quiz_answers);

// ---------------------------------------------------------------- collections

diesel::table! {
    collections (shop_id, collection_id) {
        shop_id -> Text,
        collection_id -> BigInt,
        handle -> Text,
        title -> Text,
        deleted -> Bool,
        updated_at -> Nullable<Timestamp>,
        synced_at -> Timestamp,
        members_due -> Bool,
        members_generation -> BigInt,
        members_attempts -> Integer,
        members_next_at -> Timestamp,
        members_lease_until -> Nullable<Timestamp>,
        members_synced_at -> Nullable<Timestamp>,
        members_error -> Nullable<Text>,
    }
}

diesel::table! {
    collection_products (shop_id, collection_id, product_id) {
        shop_id -> Text,
        collection_id -> BigInt,
        product_id -> BigInt,
        position -> Integer,
    }
}

diesel::allow_tables_to_appear_in_same_query!(collections, collection_products);
diesel::allow_tables_to_appear_in_same_query!(collection_products, products);
diesel::allow_tables_to_appear_in_same_query!(collections, shops);
// ---------------------------------------------------------------- per-visitor allowances

diesel::table! {
    visitor_allowances (client_key) {
        client_key -> Text,
        admitted -> BigInt,
        window_ends_at -> BigInt,
    }
}
