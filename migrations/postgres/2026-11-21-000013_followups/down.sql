ALTER TABLE customer_preferences DROP COLUMN pause_until;
DROP TABLE followup_outbox;
DROP TABLE followup_personalizations;
DROP TABLE followup_settings;
