-- Registry: dwellings, households, persons, key-group tags, and the change history.
-- ID and phone numbers are stored encrypted (AES-256-GCM, *_cipher), with a keyed hash for exact
-- lookup (*_hash) and the last four characters for suffix search (*_last4). Every table that
-- holds people carries district_id and node_path, so scoped queries are one range scan.

CREATE TABLE setting (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE tag (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
INSERT INTO tag (name, created_at) VALUES
    ('独居老人', 0), ('低保', 0), ('残疾', 0), ('党员', 0), ('退役军人', 0), ('社区矫正', 0);

CREATE TABLE dwelling (
    id INTEGER PRIMARY KEY,
    node_id INTEGER NOT NULL REFERENCES node (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    building TEXT NOT NULL,
    unit TEXT NOT NULL,
    room TEXT NOT NULL,
    address_key TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX dwelling_address_key ON dwelling (node_id, address_key);
CREATE INDEX dwelling_node_path_idx ON dwelling (node_path);

CREATE TABLE household (
    id INTEGER PRIMARY KEY,
    dwelling_id INTEGER REFERENCES dwelling (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('family', 'collective')),
    head_person_id INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX household_node_path_idx ON household (node_path);
CREATE INDEX household_dwelling_idx ON household (dwelling_id);

CREATE TABLE person (
    id INTEGER PRIMARY KEY,
    node_id INTEGER NOT NULL REFERENCES node (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    dwelling_id INTEGER REFERENCES dwelling (id),
    household_id INTEGER REFERENCES household (id),
    relation TEXT,
    name TEXT NOT NULL,
    name_pinyin TEXT NOT NULL,
    name_initials TEXT NOT NULL,
    gender TEXT,
    birth_date TEXT,
    ethnic_group TEXT,
    id_kind TEXT,
    id_cipher BLOB,
    id_hash TEXT,
    id_last4 TEXT,
    phone_cipher BLOB,
    phone_hash TEXT,
    phone_last4 TEXT,
    hukou_address TEXT,
    category TEXT NOT NULL CHECK (category IN ('registered', 'resident', 'floating')),
    state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'moved_out', 'deceased')),
    moved_out_on TEXT,
    moved_to TEXT,
    deceased_on TEXT,
    warnings_json TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX person_id_hash_key ON person (id_hash);
CREATE INDEX person_phone_hash_idx ON person (phone_hash);
CREATE INDEX person_id_last4_idx ON person (id_last4, node_path);
CREATE INDEX person_phone_last4_idx ON person (phone_last4, node_path);
CREATE INDEX person_name_idx ON person (name, node_path);
CREATE INDEX person_name_pinyin_idx ON person (name_pinyin, name, node_path);
CREATE INDEX person_name_initials_idx ON person (name_initials, name, node_path);
CREATE INDEX person_node_path_idx ON person (node_path);
CREATE INDEX person_household_idx ON person (household_id);

CREATE TABLE person_tag (
    person_id INTEGER NOT NULL REFERENCES person (id),
    tag_id INTEGER NOT NULL REFERENCES tag (id),
    PRIMARY KEY (person_id, tag_id)
);
CREATE INDEX person_tag_tag_idx ON person_tag (tag_id);

-- Field-level history of persons, households and dwellings (who, when, field, old -> new).
-- ID and phone numbers appear here masked only.
CREATE TABLE change_log (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor_id INTEGER,
    actor TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id INTEGER NOT NULL,
    node_path TEXT,
    field TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT
);
CREATE INDEX change_log_entity_idx ON change_log (entity, entity_id);

CREATE TRIGGER change_log_no_update BEFORE UPDATE ON change_log
BEGIN
    SELECT RAISE(ABORT, 'the change history is append-only');
END;
CREATE TRIGGER change_log_no_delete BEFORE DELETE ON change_log
BEGIN
    SELECT RAISE(ABORT, 'the change history is append-only');
END;
