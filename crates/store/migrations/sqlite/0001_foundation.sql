-- Foundation: jurisdiction tree, accounts, sessions, tokens, login throttling, audit log.
-- Column types are limited to what sqlx's Any driver decodes on both backends:
-- INTEGER, REAL, TEXT, BLOB. Instants are Unix milliseconds, dates 'YYYY-MM-DD'.

CREATE TABLE node (
    id INTEGER PRIMARY KEY,
    parent_id INTEGER REFERENCES node (id),
    kind TEXT NOT NULL CHECK (kind IN ('district', 'street', 'community', 'compound', 'grid', 'building')),
    name TEXT NOT NULL,
    code TEXT,
    path TEXT NOT NULL UNIQUE,
    depth INTEGER NOT NULL,
    household_estimate INTEGER,
    opened_on TEXT NOT NULL,
    closed_on TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX node_parent_idx ON node (parent_id);
CREATE UNIQUE INDEX node_sibling_name_key ON node (parent_id, name) WHERE closed_on IS NULL;
CREATE UNIQUE INDEX node_sibling_code_key ON node (parent_id, code) WHERE closed_on IS NULL;
CREATE UNIQUE INDEX node_division_code_key ON node (code)
    WHERE closed_on IS NULL AND kind IN ('district', 'street', 'community');

CREATE TABLE app_user (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'official', 'staff', 'grid_worker')),
    password_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE user_node (
    user_id INTEGER NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    node_id INTEGER NOT NULL REFERENCES node (id),
    PRIMARY KEY (user_id, node_id)
);

CREATE TABLE session (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ip TEXT,
    user_agent TEXT
);
CREATE INDEX session_user_idx ON session (user_id);

CREATE TABLE api_token (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
);

CREATE TABLE login_failure (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL,
    ip TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX login_failure_username_idx ON login_failure (username, at);
CREATE INDEX login_failure_ip_idx ON login_failure (ip, at);

CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor_id INTEGER,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id INTEGER,
    node_path TEXT,
    ip TEXT,
    detail_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_at_idx ON audit (at);
CREATE INDEX audit_node_path_idx ON audit (node_path);

-- The audit log is append-only, whatever the caller.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
