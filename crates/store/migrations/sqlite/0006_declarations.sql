-- Self-declaration by QR code (issue 5): a public link per node at or below a community, the
-- declarations residents send through it (pending a worker's review), and what alert handling
-- and overdue check-in alerts need on the alert table.

-- A link's token is stored in clear (not hashed like session tokens): it is no login, only the
-- address of a public form, and the worker must be able to print it again. Revoking sets
-- revoked_at; rotating revokes the old row and inserts a new one (history kept).
CREATE TABLE declaration_link (
    id INTEGER PRIMARY KEY,
    node_id INTEGER NOT NULL REFERENCES node (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    token TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at INTEGER,
    revoked_by TEXT
);
CREATE INDEX declaration_link_path_idx ON declaration_link (node_path);

-- What a resident typed, pending review: ID and phone numbers encrypted exactly as in person
-- (*_cipher, *_hash, *_last4). status: pending → confirming (claimed by one reviewer) →
-- confirmed (person_id, arrival_id set) | rejected (reject_reason).
CREATE TABLE declaration (
    id INTEGER PRIMARY KEY,
    link_id INTEGER NOT NULL REFERENCES declaration_link (id),
    node_id INTEGER NOT NULL REFERENCES node (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    reference TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    id_kind TEXT NOT NULL,
    id_cipher BLOB NOT NULL,
    id_hash TEXT NOT NULL,
    id_last4 TEXT NOT NULL,
    phone_cipher BLOB,
    phone_last4 TEXT,
    address TEXT NOT NULL,
    origin_code TEXT NOT NULL,
    arrived_on TEXT NOT NULL,
    purpose TEXT,
    symptoms_json TEXT NOT NULL DEFAULT '[]',
    temperature_tenths INTEGER,
    preliminary TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'confirming', 'confirmed', 'rejected')),
    submitted_at INTEGER NOT NULL,
    reviewed_at INTEGER,
    reviewed_by TEXT,
    reject_reason TEXT,
    person_id INTEGER REFERENCES person (id),
    arrival_id INTEGER REFERENCES arrival (id),
    purge_on TEXT
);
CREATE INDEX declaration_queue_idx ON declaration (status, node_path);

-- Alert handling: the note beside the outcome. Overdue alerts: the missed slot
-- (`YYYY-MM-DD#n`, n counted from 1), unique per observation so the job raises each once.
ALTER TABLE alert ADD COLUMN outcome_note TEXT;
ALTER TABLE alert ADD COLUMN slot_key TEXT;
CREATE UNIQUE INDEX alert_slot_key ON alert (observation_id, slot_key);
