-- Centralised quarantine sites (issue 18 item 9): a site (集中隔离点, a hotel usually) kept by a
-- street or district node, its rooms with their beds, and stays — a person under observation in
-- a room from a first night to a last. A stay keeps a copy of the person's node path (scoped
-- reads are one range scan; a site page names only occupants the viewer's jurisdiction holds)
-- and of their household (families share a room). person_id is cleared by retention with the
-- observation's records.
CREATE TABLE quarantine_site (
    id INTEGER PRIMARY KEY,
    node_id INTEGER NOT NULL REFERENCES node (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    name TEXT NOT NULL,
    address TEXT,
    phone TEXT,
    is_open INTEGER NOT NULL DEFAULT 1 CHECK (is_open IN (0, 1)),
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (node_id, name)
);
CREATE INDEX quarantine_site_path_idx ON quarantine_site (node_path);

CREATE TABLE quarantine_room (
    id INTEGER PRIMARY KEY,
    site_id INTEGER NOT NULL REFERENCES quarantine_site (id),
    floor INTEGER NOT NULL,
    number TEXT NOT NULL,
    beds INTEGER NOT NULL CHECK (beds BETWEEN 1 AND 20),
    created_at INTEGER NOT NULL,
    UNIQUE (site_id, number)
);

-- A stay takes its nights from_on … (left_on, else until_on — or today while nobody checked
-- the person out), both included.
CREATE TABLE quarantine_stay (
    id INTEGER PRIMARY KEY,
    site_id INTEGER NOT NULL REFERENCES quarantine_site (id),
    room_id INTEGER NOT NULL REFERENCES quarantine_room (id),
    person_id INTEGER REFERENCES person (id),
    household_id INTEGER,
    observation_id INTEGER NOT NULL REFERENCES observation (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    from_on TEXT NOT NULL,
    until_on TEXT NOT NULL,
    left_on TEXT,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    left_by TEXT,
    anonymised_at INTEGER,
    CHECK (until_on >= from_on)
);
CREATE INDEX quarantine_stay_room_idx ON quarantine_stay (room_id, from_on);
CREATE INDEX quarantine_stay_site_idx ON quarantine_stay (site_id, from_on);
CREATE INDEX quarantine_stay_person_idx ON quarantine_stay (person_id);
CREATE INDEX quarantine_stay_observation_idx ON quarantine_stay (observation_id);
CREATE INDEX quarantine_stay_path_idx ON quarantine_stay (node_path);
