-- Checkpoints (卡点) at compound gates, passes for people and vehicles, the scans logged at the
-- gate, and outgoing trips (issue 5). Every row that names a person or a plate keeps a copy of
-- its node's path (scoped lists are one range scan) and scans carry a purge date for retention.

CREATE TABLE checkpoint (
    id INTEGER PRIMARY KEY,
    node_id INTEGER NOT NULL REFERENCES node (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    closed_at INTEGER,
    UNIQUE (node_id, name)
);
CREATE INDEX checkpoint_path_idx ON checkpoint (node_path);

-- A pass lets a person (person_id) or a vehicle (plate) in at every checkpoint within its
-- node's subtree, from valid_from to valid_to (both inclusive). The code is printed on the
-- card and typed (or scanned) at the gate: no login, stored in clear.
CREATE TABLE gate_pass (
    id INTEGER PRIMARY KEY,
    node_id INTEGER NOT NULL REFERENCES node (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    code TEXT NOT NULL UNIQUE,
    person_id INTEGER REFERENCES person (id),
    plate TEXT,
    purpose TEXT,
    valid_from TEXT NOT NULL,
    valid_to TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at INTEGER,
    revoked_by TEXT,
    CHECK ((person_id IS NULL) <> (plate IS NULL))
);
CREATE INDEX gate_pass_path_idx ON gate_pass (node_path);
CREATE INDEX gate_pass_person_idx ON gate_pass (person_id);
CREATE INDEX gate_pass_plate_idx ON gate_pass (plate);

-- One passage through a gate with the guard's verdict. person_id/plate are cleared by the
-- retention job after purge_on (anonymised_at set); the row and its counts stay.
CREATE TABLE gate_scan (
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
    outcome TEXT NOT NULL CHECK (outcome IN ('allowed', 'no_pass', 'fever')),
    recorded_by TEXT NOT NULL,
    purge_on TEXT NOT NULL,
    anonymised_at INTEGER
);
CREATE INDEX gate_scan_checkpoint_idx ON gate_scan (checkpoint_id, at);
CREATE INDEX gate_scan_path_idx ON gate_scan (node_path, at);
CREATE INDEX gate_scan_purge_idx ON gate_scan (purge_on);

-- An outgoing trip (外出登记): work travel needs a health certificate.
CREATE TABLE trip (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES person (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('work', 'medical', 'other')),
    destination TEXT NOT NULL,
    leave_on TEXT NOT NULL,
    return_on TEXT,
    health_certificate INTEGER NOT NULL,
    returned_on TEXT,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX trip_path_idx ON trip (node_path, leave_on);
