-- An approver may return (退回) a submitted report with a reason; the node corrects it and
-- submits again. The status CHECK grows, so SQLite rebuilds the table (nothing references it).
CREATE TABLE report_submission_new (
    id INTEGER PRIMARY KEY,
    template_key TEXT NOT NULL,
    template_id INTEGER NOT NULL REFERENCES report_template (id),
    node_id INTEGER NOT NULL REFERENCES node (id),
    report_on TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('submitted', 'approved', 'returned')),
    zero INTEGER NOT NULL,
    manual_json TEXT NOT NULL,
    values_json TEXT NOT NULL,
    submitted_by TEXT NOT NULL,
    submitted_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    approved_by TEXT,
    approved_at INTEGER,
    returned_by TEXT,
    returned_at INTEGER,
    return_reason TEXT,
    UNIQUE (template_key, node_id, report_on)
);
INSERT INTO report_submission_new (id, template_key, template_id, node_id, report_on, status, zero,
    manual_json, values_json, submitted_by, submitted_at, updated_at, approved_by, approved_at)
    SELECT id, template_key, template_id, node_id, report_on, status, zero, manual_json,
    values_json, submitted_by, submitted_at, updated_at, approved_by, approved_at
    FROM report_submission;
DROP TABLE report_submission;
ALTER TABLE report_submission_new RENAME TO report_submission;
CREATE INDEX report_submission_day_idx ON report_submission (template_key, report_on, node_id);
