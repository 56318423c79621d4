-- Emergency supplies (应急物资): items, sites attached to nodes, the append-only ledger (the
-- truth), a cached balance per site and item kept in the same transaction as each entry,
-- two-step transfers, and low-stock thresholds. Site-bearing tables carry district_id and
-- node_path (the site's node) like the registry's, so a subtree is one range scan.

CREATE TABLE supply_item (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    unit TEXT NOT NULL,
    category TEXT NOT NULL CHECK (category IN ('protective', 'disinfection', 'equipment', 'other')),
    shelf_life_days INTEGER,
    preset INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

-- The seven presets every database starts with (linli_core::supplies::PRESET_ITEMS).
INSERT INTO supply_item (name, unit, category, shelf_life_days, preset, created_at) VALUES
    ('医用外科口罩', '只', 'protective', 730, 1, 0),
    ('N95口罩', '只', 'protective', 1095, 1, 0),
    ('消毒液', '瓶', 'disinfection', 365, 1, 0),
    ('测温枪', '把', 'equipment', NULL, 1, 0),
    ('防护服', '套', 'protective', 1095, 1, 0),
    ('手套', '双', 'protective', 1095, 1, 0),
    ('护目镜', '副', 'protective', NULL, 1, 0);

-- A place stock is kept: a community store or a street/district reserve.
CREATE TABLE supply_site (
    id INTEGER PRIMARY KEY,
    node_id INTEGER NOT NULL REFERENCES node (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('store', 'reserve')),
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (node_id, name)
);
CREATE INDEX supply_site_path_idx ON supply_site (node_path);

-- A transfer between two sites: sent (left the source, in transit), then received or cancelled.
CREATE TABLE supply_transfer (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES supply_item (id),
    from_site_id INTEGER NOT NULL REFERENCES supply_site (id),
    to_site_id INTEGER NOT NULL REFERENCES supply_site (id),
    district_id INTEGER NOT NULL,
    from_path TEXT NOT NULL,
    to_path TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    state TEXT NOT NULL CHECK (state IN ('sent', 'received', 'cancelled')),
    note TEXT,
    sent_at INTEGER NOT NULL,
    sent_by TEXT NOT NULL,
    done_at INTEGER,
    done_by TEXT
);
CREATE INDEX supply_transfer_to_idx ON supply_transfer (to_path, state);
CREATE INDEX supply_transfer_from_idx ON supply_transfer (from_path, state);

-- Every stock movement. The balance of a site and item is the sum of its deltas.
CREATE TABLE supply_ledger (
    id INTEGER PRIMARY KEY,
    site_id INTEGER NOT NULL REFERENCES supply_site (id),
    item_id INTEGER NOT NULL REFERENCES supply_item (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('receipt', 'issue', 'adjustment', 'transfer_out', 'transfer_in', 'transfer_return')),
    delta INTEGER NOT NULL CHECK (delta <> 0),
    reason TEXT CHECK (reason IS NULL OR reason IN ('lost', 'damaged', 'expired', 'count_correction')),
    note TEXT,
    transfer_id INTEGER REFERENCES supply_transfer (id),
    balance_after INTEGER NOT NULL,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL
);
CREATE INDEX supply_ledger_site_idx ON supply_ledger (site_id, item_id, at);
CREATE INDEX supply_ledger_path_idx ON supply_ledger (node_path, at);

-- Only the location copies (node_path, district_id) may change: they follow a move of the
-- site's node (nodes::move_subtree). What happened, how much and when never changes.
CREATE TRIGGER supply_ledger_no_update
BEFORE UPDATE OF id, site_id, item_id, kind, delta, reason, note, transfer_id, balance_after, at, actor
ON supply_ledger
BEGIN
    SELECT RAISE(ABORT, 'the supplies ledger is append-only');
END;
CREATE TRIGGER supply_ledger_no_delete BEFORE DELETE ON supply_ledger
BEGIN
    SELECT RAISE(ABORT, 'the supplies ledger is append-only');
END;

-- The cached balance, changed only together with a ledger entry (same transaction). The check
-- is a last line of defence: the store's conditional update never lets it go negative.
CREATE TABLE supply_balance (
    site_id INTEGER NOT NULL REFERENCES supply_site (id),
    item_id INTEGER NOT NULL REFERENCES supply_item (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity >= 0),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (site_id, item_id)
);
CREATE INDEX supply_balance_path_idx ON supply_balance (node_path);

-- Below this many units a site's stock of an item is low.
CREATE TABLE supply_threshold (
    site_id INTEGER NOT NULL REFERENCES supply_site (id),
    item_id INTEGER NOT NULL REFERENCES supply_item (id),
    minimum INTEGER NOT NULL CHECK (minimum >= 0),
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (site_id, item_id)
);

-- A community's request to its street: draft → submitted → approved (per line) → fulfilled,
-- partly or fully, by transfers from a reserve. Rejected requests stay, as decided.
CREATE TABLE supply_request (
    id INTEGER PRIMARY KEY,
    site_id INTEGER NOT NULL REFERENCES supply_site (id),
    to_node_id INTEGER NOT NULL REFERENCES node (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    to_path TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('draft', 'submitted', 'approved', 'partly_fulfilled', 'fulfilled', 'rejected')),
    note TEXT,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    submitted_at INTEGER,
    decided_at INTEGER,
    decided_by TEXT
);
CREATE INDEX supply_request_path_idx ON supply_request (node_path);
CREATE INDEX supply_request_to_idx ON supply_request (to_path, state);

CREATE TABLE supply_request_line (
    id INTEGER PRIMARY KEY,
    request_id INTEGER NOT NULL REFERENCES supply_request (id),
    item_id INTEGER NOT NULL REFERENCES supply_item (id),
    requested INTEGER NOT NULL CHECK (requested > 0),
    approved INTEGER CHECK (approved IS NULL OR approved >= 0),
    fulfilled INTEGER NOT NULL DEFAULT 0 CHECK (fulfilled >= 0),
    UNIQUE (request_id, item_id)
);
