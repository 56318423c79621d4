-- Retention (issue 5): screening, observation, check-in, alert and declaration records are
-- anonymised once their purge date has passed. The personal link goes (person_id becomes NULL),
-- dates, measure, node path and counts stay; anonymised_at records when.
ALTER TABLE arrival ALTER COLUMN person_id DROP NOT NULL;
ALTER TABLE observation ALTER COLUMN person_id DROP NOT NULL;
ALTER TABLE alert ALTER COLUMN person_id DROP NOT NULL;
ALTER TABLE arrival ADD COLUMN anonymised_at BIGINT;
ALTER TABLE observation ADD COLUMN anonymised_at BIGINT;
ALTER TABLE alert ADD COLUMN anonymised_at BIGINT;
-- Check-ins are purged with their observation; the date is copied so the job reads one table.
ALTER TABLE checkin ADD COLUMN purge_on TEXT;
ALTER TABLE checkin ADD COLUMN anonymised_at BIGINT;
ALTER TABLE declaration ADD COLUMN anonymised_at BIGINT;
CREATE INDEX arrival_purge_idx ON arrival (purge_on);
CREATE INDEX observation_purge_idx ON observation (purge_on);
CREATE INDEX checkin_purge_idx ON checkin (purge_on);
CREATE INDEX declaration_purge_idx ON declaration (purge_on);
