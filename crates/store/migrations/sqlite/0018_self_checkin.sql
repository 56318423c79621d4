-- Self check-in (issue 18): an observation may get a short code for the resident's own link
-- (`/o/{code}`), kept in clear like a declaration link's token so the worker can print it
-- again; it is no login and dies with the release. Each check-in records who entered it.
ALTER TABLE observation ADD COLUMN self_token TEXT;
CREATE UNIQUE INDEX observation_self_token_key ON observation (self_token);
ALTER TABLE checkin ADD COLUMN channel TEXT NOT NULL DEFAULT 'api'
    CHECK (channel IN ('api', 'round', 'self_report'));
-- A person's epidemic timeline reads their alerts, scans and trips by person.
CREATE INDEX alert_person_idx ON alert (person_id, raised_at);
CREATE INDEX gate_scan_person_idx ON gate_scan (person_id, at);
CREATE INDEX trip_person_idx ON trip (person_id, leave_on);
-- The observations list walks the open observations of a subtree in (place, id) order and
-- stops after a page; counts read the same index.
CREATE INDEX observation_open_path_idx ON observation (node_path, id) WHERE released_on IS NULL;
