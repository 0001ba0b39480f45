DROP INDEX rec_events_experiment;
ALTER TABLE rec_events DROP COLUMN experiment_arm;
ALTER TABLE rec_events DROP COLUMN experiment_id;
DROP TABLE rec_experiment_exposures;
DROP TABLE rec_experiments;
