-- Levels above the district (province, city) and below the building (unit, 单元). SQLite cannot
-- change a CHECK in place, so the node table is made again: its rows are copied aside, the
-- table dropped and created anew with the wider CHECK, the rows put back unchanged (parents
-- first), the indexes made again. Thirteen tables refer to node by name. The migration runs
-- inside a transaction (sqlx always opens one on SQLite), where foreign keys cannot be switched
-- off; they are deferred instead: the drop leaves the references dangling, putting each row
-- back satisfies them again, and SQLite checks at commit that none is left dangling.
PRAGMA defer_foreign_keys = ON;
CREATE TABLE node_copy AS SELECT * FROM node;
DROP TABLE node;
CREATE TABLE node (
    id INTEGER PRIMARY KEY,
    parent_id INTEGER REFERENCES node (id),
    kind TEXT NOT NULL CHECK (kind IN ('province', 'city', 'district', 'street', 'community',
        'compound', 'grid', 'building', 'unit')),
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
INSERT INTO node (id, parent_id, kind, name, code, path, depth, household_estimate,
    opened_on, closed_on, created_at, updated_at)
SELECT id, parent_id, kind, name, code, path, depth, household_estimate,
    opened_on, closed_on, created_at, updated_at FROM node_copy ORDER BY depth, id;
DROP TABLE node_copy;
CREATE INDEX node_parent_idx ON node (parent_id);
CREATE UNIQUE INDEX node_sibling_name_key ON node (parent_id, name) WHERE closed_on IS NULL;
CREATE UNIQUE INDEX node_sibling_code_key ON node (parent_id, code) WHERE closed_on IS NULL;
CREATE UNIQUE INDEX node_division_code_key ON node (code)
    WHERE closed_on IS NULL AND kind IN ('province', 'city', 'district', 'street', 'community');
