-- Enterprises and individual businesses (企业、个体工商户) and their reopening (复工复产):
-- the registry of businesses, reopening applications with the checklist of the source reports,
-- the community's decision, inspections after approval, and why a business has not reopened.
-- Like the registry, each row carries district_id and node_path for scoped range scans; the
-- contact phone is stored encrypted (AES-256-GCM) with a keyed hash and its last four digits.

CREATE TABLE enterprise (
    id INTEGER PRIMARY KEY,
    node_id INTEGER NOT NULL REFERENCES node (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('enterprise', 'individual')),
    credit_code TEXT,
    address TEXT,
    employees INTEGER,
    contact_name TEXT,
    phone_cipher BLOB,
    phone_hash TEXT,
    phone_last4 TEXT,
    -- Why it has not reopened (NULL: not said, or reopened).
    not_reopened_reason TEXT CHECK (not_reopened_reason IN
        ('workers_short', 'no_protective_supplies', 'no_materials', 'no_demand', 'other')),
    not_reopened_note TEXT,
    -- SHA-256 of the public application link's token (the token itself is never stored).
    link_token_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX enterprise_credit_code_key ON enterprise (credit_code);
CREATE UNIQUE INDEX enterprise_link_token_key ON enterprise (link_token_hash);
CREATE INDEX enterprise_node_path_idx ON enterprise (node_path, name);

-- A reopening application; the checklist answers are 0/1 columns (one per standard item).
CREATE TABLE reopening (
    id INTEGER PRIMARY KEY,
    enterprise_id INTEGER NOT NULL REFERENCES enterprise (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('submitted', 'approved', 'rejected')),
    thermometers INTEGER NOT NULL,
    disinfection INTEGER NOT NULL,
    masks INTEGER NOT NULL,
    staff_registration INTEGER NOT NULL,
    extra_items_json TEXT NOT NULL DEFAULT '[]',
    employees_back INTEGER,
    planned_on TEXT,
    note TEXT,
    channel TEXT NOT NULL CHECK (channel IN ('staff', 'link')),
    submitted_at INTEGER NOT NULL,
    submitted_by TEXT NOT NULL,
    decided_at INTEGER,
    decided_by TEXT,
    decision_reason TEXT
);
CREATE INDEX reopening_enterprise_idx ON reopening (enterprise_id, id);
CREATE INDEX reopening_node_path_idx ON reopening (node_path, status);

-- Inspections after an approved reopening.
CREATE TABLE inspection (
    id INTEGER PRIMARY KEY,
    enterprise_id INTEGER NOT NULL REFERENCES enterprise (id),
    reopening_id INTEGER NOT NULL REFERENCES reopening (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    inspected_on TEXT NOT NULL,
    inspector TEXT NOT NULL,
    findings TEXT,
    passed INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX inspection_enterprise_idx ON inspection (enterprise_id, inspected_on);
