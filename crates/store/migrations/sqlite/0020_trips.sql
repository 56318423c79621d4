-- Trips by kind (issue 18 item 7): local and field work kept with a daily log, visits to
-- relatives, medical visits, and organised transport as a group of trips. The kind's CHECK
-- grows, so SQLite rebuilds the table (nothing references trip yet); a trip may belong to a
-- group.
CREATE TABLE trip_group (
    id INTEGER PRIMARY KEY,
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    kind TEXT NOT NULL,
    destination TEXT NOT NULL,
    leave_on TEXT NOT NULL,
    return_on TEXT,
    organiser TEXT NOT NULL,
    vehicle_plate TEXT,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX trip_group_path_idx ON trip_group (node_path, leave_on);

CREATE TABLE trip_new (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES person (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('local_work', 'field_work', 'work', 'relatives', 'medical', 'other')),
    destination TEXT NOT NULL,
    leave_on TEXT NOT NULL,
    return_on TEXT,
    health_certificate INTEGER NOT NULL,
    returned_on TEXT,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    group_id INTEGER REFERENCES trip_group (id)
);
INSERT INTO trip_new SELECT id, person_id, district_id, node_path, kind, destination, leave_on,
    return_on, health_certificate, returned_on, created_at, created_by, NULL FROM trip;
DROP TABLE trip;
ALTER TABLE trip_new RENAME TO trip;
CREATE INDEX trip_path_idx ON trip (node_path, leave_on);
CREATE INDEX trip_group_idx ON trip (group_id);

-- One entry a day of a daily-log trip: the temperature taken on coming back.
CREATE TABLE trip_log (
    id INTEGER PRIMARY KEY,
    trip_id INTEGER NOT NULL REFERENCES trip (id),
    log_on TEXT NOT NULL,
    temperature_tenths INTEGER NOT NULL,
    note TEXT,
    alert_id INTEGER REFERENCES alert (id),
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (trip_id, log_on)
);
