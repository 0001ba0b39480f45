-- Zero-party questions: what the merchant asks shoppers directly (a short quiz), and what
-- each shopper answered. Answers are preferences: every change is also written to the consent
-- history, and an option mapped onto an interest or a size sets it in the shopper's
-- preferences.

-- One question of a shop. `question_key` is the merchant's stable key (answers name it, so an
-- edited prompt or label keeps every earlier answer); `definition` is the JSON
-- {prompt, kind, options}; `version` counts the edits.
CREATE TABLE quiz_questions (
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    question_key TEXT NOT NULL,
    position BIGINT NOT NULL,
    active BOOLEAN NOT NULL,
    version BIGINT NOT NULL,
    definition TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (shop_id, question_key)
);

-- One chosen option of a shopper's answer (a multiple-choice answer is several rows), so the
-- merchant's answer distribution is a plain count on both backends.
CREATE TABLE quiz_answers (
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    customer_id BIGINT NOT NULL,
    question_key TEXT NOT NULL,
    option_key TEXT NOT NULL,
    answered_at TIMESTAMP NOT NULL,
    PRIMARY KEY (shop_id, customer_id, question_key, option_key)
);
CREATE INDEX quiz_answers_question ON quiz_answers (shop_id, question_key, option_key);

-- Klaviyo's private API key for the Klaviyo-compatible follow-up format, encrypted like the
-- signing secret, and its last characters for the admin.
ALTER TABLE followup_settings ADD COLUMN klaviyo_key TEXT;
ALTER TABLE followup_settings ADD COLUMN klaviyo_key_hint TEXT;
