-- Epidemic prevention: risk areas, quarantine policy versions (rules as JSON data), arrival
-- screenings, observations (quarantine records), check-ins and alerts. People-bearing tables
-- carry district_id and node_path like the registry's.

-- Risk areas keep their history: a correction supersedes a row (superseded_at), never edits it.
CREATE TABLE risk_area (
    id INTEGER PRIMARY KEY,
    division_code TEXT NOT NULL,
    name TEXT,
    level TEXT NOT NULL CHECK (level IN ('high', 'medium', 'low')),
    from_on TEXT NOT NULL,
    to_on TEXT,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    superseded_at INTEGER
);
CREATE INDEX risk_area_code_idx ON risk_area (division_code);

-- Policy versions: the rules are data (JSON of linli_core::policy::PolicyVersion). A published
-- version is never changed; an edit is a new version.
CREATE TABLE policy_version (
    id INTEGER PRIMARY KEY,
    policy_key TEXT NOT NULL,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    effective_from TEXT NOT NULL,
    rules_json TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('draft', 'published')),
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    published_at INTEGER,
    UNIQUE (policy_key, version)
);
CREATE INDEX policy_version_effective_idx ON policy_version (state, effective_from);

-- One arrival screening (三问一测). self-declared ones wait for a worker's review.
CREATE TABLE arrival (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES person (id),
    node_id INTEGER NOT NULL REFERENCES node (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    origin_code TEXT NOT NULL,
    arrived_on TEXT NOT NULL,
    purpose TEXT,
    symptoms_json TEXT NOT NULL DEFAULT '[]',
    temperature_tenths INTEGER,
    source TEXT NOT NULL CHECK (source IN ('worker', 'self', 'proxy')),
    status TEXT NOT NULL CHECK (status IN ('pending_review', 'confirmed')),
    policy_version_id INTEGER REFERENCES policy_version (id),
    measure TEXT NOT NULL,
    until_on TEXT,
    explanation TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    purge_on TEXT
);
CREATE INDEX arrival_node_path_idx ON arrival (node_path, arrived_on);
CREATE INDEX arrival_person_idx ON arrival (person_id);

-- A quarantine record: measure, place, period, release.
CREATE TABLE observation (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES person (id),
    arrival_id INTEGER REFERENCES arrival (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    measure TEXT NOT NULL CHECK (measure IN ('centralized_quarantine', 'home_quarantine', 'health_monitoring')),
    stages_json TEXT NOT NULL,
    place TEXT,
    start_on TEXT NOT NULL,
    until_on TEXT NOT NULL,
    check_ins_per_day INTEGER NOT NULL,
    policy_version_id INTEGER REFERENCES policy_version (id),
    released_on TEXT,
    released_by TEXT,
    created_at INTEGER NOT NULL,
    purge_on TEXT
);
CREATE INDEX observation_node_path_idx ON observation (node_path, released_on);
CREATE INDEX observation_person_idx ON observation (person_id);

CREATE TABLE checkin (
    id INTEGER PRIMARY KEY,
    observation_id INTEGER NOT NULL REFERENCES observation (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    at INTEGER NOT NULL,
    temperature_tenths INTEGER,
    symptoms_json TEXT NOT NULL DEFAULT '[]',
    recorded_by TEXT NOT NULL,
    recorded_at INTEGER NOT NULL
);
CREATE INDEX checkin_observation_idx ON checkin (observation_id, at);

-- Alerts a worker must handle: fever (from a screening or a check-in) or an overdue check-in.
CREATE TABLE alert (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('fever', 'overdue')),
    person_id INTEGER NOT NULL REFERENCES person (id),
    observation_id INTEGER REFERENCES observation (id),
    arrival_id INTEGER REFERENCES arrival (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    raised_at INTEGER NOT NULL,
    detail TEXT NOT NULL,
    handled_at INTEGER,
    handled_by TEXT,
    outcome TEXT
);
CREATE INDEX alert_open_idx ON alert (handled_at, node_path);
