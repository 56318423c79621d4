-- Notices and 居务公开 (issue 20 item 5): notices with their audience and read receipts, the
-- public affairs ledger with its attachments, and the community's public page code.

-- A notice is written at a node (the author's scope) for an audience: that node's subtree or a
-- building below it (audience_path), optionally narrowed to a key group (tag_id). Withdrawing
-- sets withdrawn_at and keeps the row (history). Dates are YYYY-MM-DD days.
CREATE TABLE notice (
    id INTEGER PRIMARY KEY,
    node_id INTEGER NOT NULL REFERENCES node (id),
    node_path TEXT NOT NULL,
    audience_node_id INTEGER NOT NULL REFERENCES node (id),
    audience_path TEXT NOT NULL,
    tag_id INTEGER REFERENCES tag (id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_until TEXT,
    public INTEGER NOT NULL CHECK (public IN (0, 1)),
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_by_id INTEGER REFERENCES app_user (id),
    withdrawn_at INTEGER,
    withdrawn_by TEXT
);
CREATE INDEX notice_path_idx ON notice (node_path);
CREATE INDEX notice_audience_idx ON notice (audience_path);

-- Who of the staff opened a notice, and when (the first time).
CREATE TABLE notice_read (
    notice_id INTEGER NOT NULL REFERENCES notice (id),
    user_id INTEGER NOT NULL REFERENCES app_user (id),
    read_at INTEGER NOT NULL,
    PRIMARY KEY (notice_id, user_id)
);

-- A public affairs entry of a community. status: draft → published, once; a published row is
-- never updated (the store refuses; no route changes it). corrects_id points to the published
-- entry this one corrects.
CREATE TABLE affair_entry (
    id INTEGER PRIMARY KEY,
    node_id INTEGER NOT NULL REFERENCES node (id),
    node_path TEXT NOT NULL,
    category TEXT NOT NULL CHECK (category IN ('finance', 'decision', 'policy', 'service')),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    period_from TEXT NOT NULL,
    period_until TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'published')),
    corrects_id INTEGER REFERENCES affair_entry (id),
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    published_at INTEGER,
    published_by TEXT
);
CREATE INDEX affair_entry_path_idx ON affair_entry (node_path);
CREATE INDEX affair_entry_corrects_idx ON affair_entry (corrects_id);

-- An entry's files, typed by their bytes' signature (PDF, PNG, JPEG), kept apart from the entry
-- so lists stay light, like request_photo.
CREATE TABLE affair_attachment (
    id INTEGER PRIMARY KEY,
    entry_id INTEGER NOT NULL REFERENCES affair_entry (id),
    name TEXT NOT NULL,
    content_type TEXT NOT NULL CHECK (content_type IN ('application/pdf', 'image/png', 'image/jpeg')),
    bytes BLOB NOT NULL,
    size INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX affair_attachment_entry_idx ON affair_attachment (entry_id);

-- The code of a community's public page (/c/{code}). Replacing it sets replaced_at on the old
-- row and inserts a new one: a community has at most one live code.
CREATE TABLE community_page (
    id INTEGER PRIMARY KEY,
    node_id INTEGER NOT NULL REFERENCES node (id),
    node_path TEXT NOT NULL,
    code TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    replaced_at INTEGER
);
CREATE INDEX community_page_node_idx ON community_page (node_id);
