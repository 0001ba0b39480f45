DROP TABLE saved_personalizations;
DROP TABLE consent_history;
DROP TABLE customer_preferences;
DROP TABLE preference_settings;
