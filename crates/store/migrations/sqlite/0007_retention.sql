-- Retention (issue 5): screening, observation, check-in, alert and declaration records are
-- anonymised once their purge date has passed. The personal link goes (person_id becomes NULL),
-- dates, measure, node path and counts stay; anonymised_at records when.
--
-- SQLite cannot drop a NOT NULL constraint, so arrival, observation and alert are rebuilt
-- (same columns in the same order, anonymised_at appended). Foreign keys are deferred for the
-- rebuild: dropping a parent table counts its children as orphans until the rows are copied
-- back under the same ids, and the count is checked at commit.
PRAGMA defer_foreign_keys = ON;

CREATE TABLE arrival_old AS SELECT * FROM arrival;
DROP TABLE arrival;
CREATE TABLE arrival (
    id INTEGER PRIMARY KEY,
    person_id INTEGER REFERENCES person (id),
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
    purge_on TEXT,
    anonymised_at INTEGER
);
INSERT INTO arrival (id, person_id, node_id, district_id, node_path, origin_code, arrived_on, purpose,
    symptoms_json, temperature_tenths, source, status, policy_version_id, measure, until_on,
    explanation, created_at, created_by, purge_on)
SELECT id, person_id, node_id, district_id, node_path, origin_code, arrived_on, purpose,
    symptoms_json, temperature_tenths, source, status, policy_version_id, measure, until_on,
    explanation, created_at, created_by, purge_on FROM arrival_old;
DROP TABLE arrival_old;
CREATE INDEX arrival_node_path_idx ON arrival (node_path, arrived_on);
CREATE INDEX arrival_person_idx ON arrival (person_id);

CREATE TABLE observation_old AS SELECT * FROM observation;
DROP TABLE observation;
CREATE TABLE observation (
    id INTEGER PRIMARY KEY,
    person_id INTEGER REFERENCES person (id),
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
    purge_on TEXT,
    anonymised_at INTEGER
);
INSERT INTO observation (id, person_id, arrival_id, district_id, node_path, measure, stages_json, place,
    start_on, until_on, check_ins_per_day, policy_version_id, released_on, released_by, created_at, purge_on)
SELECT id, person_id, arrival_id, district_id, node_path, measure, stages_json, place,
    start_on, until_on, check_ins_per_day, policy_version_id, released_on, released_by, created_at, purge_on
FROM observation_old;
DROP TABLE observation_old;
CREATE INDEX observation_node_path_idx ON observation (node_path, released_on);
CREATE INDEX observation_person_idx ON observation (person_id);

CREATE TABLE alert_old AS SELECT * FROM alert;
DROP TABLE alert;
CREATE TABLE alert (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('fever', 'overdue')),
    person_id INTEGER REFERENCES person (id),
    observation_id INTEGER REFERENCES observation (id),
    arrival_id INTEGER REFERENCES arrival (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    raised_at INTEGER NOT NULL,
    detail TEXT NOT NULL,
    handled_at INTEGER,
    handled_by TEXT,
    outcome TEXT,
    outcome_note TEXT,
    slot_key TEXT,
    anonymised_at INTEGER
);
INSERT INTO alert (id, kind, person_id, observation_id, arrival_id, district_id, node_path, raised_at,
    detail, handled_at, handled_by, outcome, outcome_note, slot_key)
SELECT id, kind, person_id, observation_id, arrival_id, district_id, node_path, raised_at,
    detail, handled_at, handled_by, outcome, outcome_note, slot_key FROM alert_old;
DROP TABLE alert_old;
CREATE INDEX alert_open_idx ON alert (handled_at, node_path);
CREATE UNIQUE INDEX alert_slot_key ON alert (observation_id, slot_key);

-- Check-ins are purged with their observation; the date is copied so the job reads one table.
ALTER TABLE checkin ADD COLUMN purge_on TEXT;
ALTER TABLE checkin ADD COLUMN anonymised_at INTEGER;
ALTER TABLE declaration ADD COLUMN anonymised_at INTEGER;
CREATE INDEX arrival_purge_idx ON arrival (purge_on);
CREATE INDEX observation_purge_idx ON observation (purge_on);
CREATE INDEX checkin_purge_idx ON checkin (purge_on);
CREATE INDEX declaration_purge_idx ON declaration (purge_on);
