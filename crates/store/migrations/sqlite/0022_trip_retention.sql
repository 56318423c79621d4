-- Trips are anonymised like the other epidemic records: the person link and free text go
-- `retention_days` after the trip is over, the kind, dates and node stay for the counts.
-- SQLite cannot drop a NOT NULL in place, so trip is rebuilt; trip_log, which references it,
-- is set aside first and rebuilt after. 0020's rebuild of trip lost 0018's trip_person_idx
-- (the timeline and the clash check read trips by person); it comes back here.
CREATE TABLE trip_log_keep AS SELECT * FROM trip_log;
DROP TABLE trip_log;

CREATE TABLE trip_new (
    id INTEGER PRIMARY KEY,
    person_id INTEGER REFERENCES person (id),
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
    group_id INTEGER REFERENCES trip_group (id),
    anonymised_at INTEGER
);
INSERT INTO trip_new SELECT id, person_id, district_id, node_path, kind, destination, leave_on,
    return_on, health_certificate, returned_on, created_at, created_by, group_id, NULL FROM trip;
DROP TABLE trip;
ALTER TABLE trip_new RENAME TO trip;
CREATE INDEX trip_path_idx ON trip (node_path, leave_on);
CREATE INDEX trip_group_idx ON trip (group_id);
CREATE INDEX trip_person_idx ON trip (person_id, leave_on);

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
INSERT INTO trip_log (id, trip_id, log_on, temperature_tenths, note, alert_id, created_at, created_by)
    SELECT id, trip_id, log_on, temperature_tenths, note, alert_id, created_at, created_by
    FROM trip_log_keep;
DROP TABLE trip_log_keep;

ALTER TABLE trip_group ADD COLUMN anonymised_at INTEGER;
