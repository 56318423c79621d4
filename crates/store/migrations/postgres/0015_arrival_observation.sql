-- The observation a screening put or kept the person under. One person has one observation at
-- a time, so a second arrival joins the open one (observation.arrival_id names only the arrival
-- whose plan the observation follows); retention keeps every joined screening while that
-- observation is open and purges it after.
ALTER TABLE arrival ADD COLUMN observation_id BIGINT REFERENCES observation (id);
UPDATE arrival SET observation_id = (SELECT MAX(o.id) FROM observation o WHERE o.arrival_id = arrival.id);
CREATE INDEX arrival_observation_idx ON arrival (observation_id);
