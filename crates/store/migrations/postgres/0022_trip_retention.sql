-- Trips are anonymised like the other epidemic records: the person link and free text go
-- `retention_days` after the trip is over, the kind, dates and node stay for the counts.
ALTER TABLE trip ALTER COLUMN person_id DROP NOT NULL;
ALTER TABLE trip ADD COLUMN anonymised_at BIGINT;
ALTER TABLE trip_group ADD COLUMN anonymised_at BIGINT;
