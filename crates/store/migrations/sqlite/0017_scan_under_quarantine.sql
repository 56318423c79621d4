-- A gate now refuses a person under quarantine on the way out (issue 18): the scan's outcome
-- gains 'under_quarantine'. SQLite cannot change a CHECK in place, so the table is rebuilt
-- (nothing references gate_scan).
CREATE TABLE gate_scan_new (
    id INTEGER PRIMARY KEY,
    checkpoint_id INTEGER NOT NULL REFERENCES checkpoint (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    at INTEGER NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    person_id INTEGER REFERENCES person (id),
    plate TEXT,
    pass_id INTEGER REFERENCES gate_pass (id),
    temperature_tenths INTEGER,
    outcome TEXT NOT NULL CHECK (outcome IN ('allowed', 'no_pass', 'fever', 'under_quarantine')),
    recorded_by TEXT NOT NULL,
    purge_on TEXT NOT NULL,
    anonymised_at INTEGER
);
INSERT INTO gate_scan_new SELECT id, checkpoint_id, district_id, node_path, at, direction, person_id,
    plate, pass_id, temperature_tenths, outcome, recorded_by, purge_on, anonymised_at FROM gate_scan;
DROP TABLE gate_scan;
ALTER TABLE gate_scan_new RENAME TO gate_scan;
CREATE INDEX gate_scan_checkpoint_idx ON gate_scan (checkpoint_id, at);
CREATE INDEX gate_scan_path_idx ON gate_scan (node_path, at);
CREATE INDEX gate_scan_purge_idx ON gate_scan (purge_on);
