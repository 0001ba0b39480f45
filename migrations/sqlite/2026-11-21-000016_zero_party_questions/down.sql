ALTER TABLE followup_settings DROP COLUMN klaviyo_key_hint;
ALTER TABLE followup_settings DROP COLUMN klaviyo_key;
DROP TABLE quiz_answers;
DROP TABLE quiz_questions;
