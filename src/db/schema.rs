//! One schema for both backends, limited to types both support (TEXT, BIGINT, INTEGER,
//! BOOLEAN, TIMESTAMP). Kept in step with `migrations/{sqlite,postgres}`.

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
