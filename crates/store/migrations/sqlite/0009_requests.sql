-- Residents' requests (群众诉求, 接诉即办): categories with their deadlines (versioned data),
-- departments, requests from every channel with their timeline, whistles (吹哨) summoning
-- departments, Open311 API keys, and the lease table background jobs take so that two app
-- servers never run the same job at once.

-- A category's rule; editing a category adds a version (the highest version of a code is in
-- force). Requests keep the id of the version that set their deadlines.
CREATE TABLE request_category (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    respond_hours INTEGER NOT NULL,
    resolve_days INTEGER NOT NULL,
    escalation TEXT NOT NULL CHECK (escalation IN ('never', 'on_late_response', 'on_late_resolution')),
    active INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
);
CREATE UNIQUE INDEX request_category_code_version_key ON request_category (code, version);

-- A department a request can be dispatched to or a street can summon (data, not accounts).
CREATE TABLE department (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
);
CREATE UNIQUE INDEX department_name_key ON department (name);

-- A request. node_path is the node currently responsible (moved by a dispatch to a node); the
-- reporter's phone is encrypted with a keyed hash and its last four digits, like a person's.
CREATE TABLE request (
    id INTEGER PRIMARY KEY,
    tracking_number TEXT NOT NULL,
    open311_token TEXT NOT NULL,
    node_id INTEGER NOT NULL REFERENCES node (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    intake_node_id INTEGER NOT NULL REFERENCES node (id),
    category_id INTEGER NOT NULL REFERENCES request_category (id),
    channel TEXT NOT NULL CHECK (channel IN ('self_service', 'hotline', 'patrol', 'open311')),
    description TEXT NOT NULL,
    address TEXT,
    lat REAL,
    lng REAL,
    reporter_name TEXT,
    phone_cipher BLOB,
    phone_hash TEXT,
    phone_last4 TEXT,
    status TEXT NOT NULL CHECK (status IN
        ('received', 'dispatched', 'accepted', 'returned', 'in_progress', 'resolved', 'rated', 'closed')),
    department_id INTEGER REFERENCES department (id),
    handler_user_id INTEGER,
    created_by_user_id INTEGER,
    created_by TEXT NOT NULL,
    api_key_id INTEGER,
    received_at INTEGER NOT NULL,
    respond_by INTEGER NOT NULL,
    resolve_by INTEGER NOT NULL,
    responded_at INTEGER,
    resolved_at INTEGER,
    outcome TEXT,
    rating TEXT CHECK (rating IN ('satisfied', 'fairly_satisfied', 'dissatisfied')),
    rated_at INTEGER,
    closed_at INTEGER,
    response_overdue_at INTEGER,
    resolution_overdue_at INTEGER,
    escalated_at INTEGER,
    escalated_node_id INTEGER,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX request_tracking_number_key ON request (tracking_number);
CREATE UNIQUE INDEX request_open311_token_key ON request (open311_token);
CREATE INDEX request_node_path_idx ON request (node_path, received_at);
CREATE INDEX request_status_idx ON request (status, resolve_by);

-- The timeline: every step with its actor and time.
CREATE TABLE request_event (
    id INTEGER PRIMARY KEY,
    request_id INTEGER NOT NULL REFERENCES request (id),
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    note TEXT,
    detail_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX request_event_request_idx ON request_event (request_id, id);

-- A whistle (吹哨): a department summoned to a request must report within 30 minutes.
CREATE TABLE request_whistle (
    id INTEGER PRIMARY KEY,
    request_id INTEGER NOT NULL REFERENCES request (id),
    department_id INTEGER NOT NULL REFERENCES department (id),
    blown_at INTEGER NOT NULL,
    blown_by TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    acknowledged_at INTEGER,
    acknowledged_by TEXT,
    response TEXT
);
CREATE UNIQUE INDEX request_whistle_request_department_key ON request_whistle (request_id, department_id);

-- Open311 API keys: only the SHA-256 of the key is kept; requests posted with a key land in
-- its node's inbox.
CREATE TABLE api_key (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    node_id INTEGER NOT NULL REFERENCES node (id),
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at INTEGER
);
CREATE UNIQUE INDEX api_key_hash_key ON api_key (key_hash);

-- A background job's lease: whoever holds an unexpired row runs the job.
CREATE TABLE job_lease (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);

-- The default categories (Beijing hotline standard draft): emergencies answered within 2 hours;
-- water, power, gas and heating within 24 hours; general requests resolved within 7 days,
-- complex ones within 15. The same values as linli_core::request::DEFAULT_CATEGORIES.
INSERT INTO request_category (code, version, name, description, respond_hours, resolve_days, escalation, active, created_at, created_by) VALUES
    ('emergency', 1, '紧急诉求', '危及人身财产安全、需立即处置的事项', 2, 1, 'on_late_response', 1, 0, 'system'),
    ('utilities', 1, '水电气热', '停水、停电、停气、供暖故障', 24, 1, 'on_late_resolution', 1, 0, 'system'),
    ('general', 1, '一般诉求', '环境卫生、噪声、物业、邻里等一般事项', 24, 7, 'on_late_resolution', 1, 0, 'system'),
    ('complex', 1, '复杂诉求', '涉及多个部门、需协调办理的事项', 24, 15, 'never', 1, 0, 'system');
