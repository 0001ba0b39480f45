DROP TABLE app_keys;
DROP INDEX rec_events_created;
