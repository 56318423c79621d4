-- Whether keyless Open311 clients read a node's requests (a redacted view) and whether that
-- view carries the descriptions. A setting covers its node's subtree; with none, reading is
-- on and descriptions are off; where a street and its community both have one, the stricter
-- wins (see store::requests::open311_settings).
CREATE TABLE open311_setting (
    node_id INTEGER PRIMARY KEY REFERENCES node (id),
    public_read INTEGER NOT NULL CHECK (public_read IN (0, 1)),
    publish_descriptions INTEGER NOT NULL CHECK (publish_descriptions IN (0, 1)),
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL
);
