-- Residence types (issue 19 item 3): 人户分离 (`registered_away`: registered here, living
-- elsewhere) and 境外人员 (`foreign`) beside the three categories; and the state `away`
-- (暂时外出: still in the registry, living elsewhere for a while) with its date and place.
-- SQLite cannot change a CHECK in place, so the person table is made again the way 0029 made
-- node again: rows copied aside, the table dropped and created anew, the rows put back with
-- their ids, the indexes made again. Tables of most areas refer to person; foreign keys are
-- deferred (the migration runs in a transaction), so the drop leaves their references dangling
-- for a moment and SQLite checks at commit that none is left so.
PRAGMA defer_foreign_keys = ON;
CREATE TABLE person_copy AS SELECT * FROM person;
DROP TABLE person;
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
    category TEXT NOT NULL CHECK (category IN ('registered', 'registered_away', 'resident',
        'floating', 'foreign')),
    state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'away', 'moved_out',
        'deceased')),
    moved_out_on TEXT,
    moved_to TEXT,
    deceased_on TEXT,
    warnings_json TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    away_since TEXT,
    away_to TEXT
);
INSERT INTO person (id, node_id, district_id, node_path, dwelling_id, household_id, relation,
    name, name_pinyin, name_initials, gender, birth_date, ethnic_group, id_kind, id_cipher,
    id_hash, id_last4, phone_cipher, phone_hash, phone_last4, hukou_address, category, state,
    moved_out_on, moved_to, deceased_on, warnings_json, created_at, updated_at)
SELECT id, node_id, district_id, node_path, dwelling_id, household_id, relation,
    name, name_pinyin, name_initials, gender, birth_date, ethnic_group, id_kind, id_cipher,
    id_hash, id_last4, phone_cipher, phone_hash, phone_last4, hukou_address, category, state,
    moved_out_on, moved_to, deceased_on, warnings_json, created_at, updated_at
FROM person_copy ORDER BY id;
DROP TABLE person_copy;
CREATE UNIQUE INDEX person_id_hash_key ON person (id_hash);
CREATE INDEX person_phone_hash_idx ON person (phone_hash);
CREATE INDEX person_id_last4_idx ON person (id_last4, node_path);
CREATE INDEX person_phone_last4_idx ON person (phone_last4, node_path);
CREATE INDEX person_name_idx ON person (name, node_path);
CREATE INDEX person_name_pinyin_idx ON person (name_pinyin, name, node_path);
CREATE INDEX person_name_initials_idx ON person (name_initials, name, node_path);
CREATE INDEX person_node_path_idx ON person (node_path);
CREATE INDEX person_household_idx ON person (household_id);
-- A node's numbers read only these columns: counted from the index alone, in path order.
CREATE INDEX person_counts_idx ON person (node_path, state, category, birth_date, dwelling_id);
