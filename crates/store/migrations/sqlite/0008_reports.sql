-- Daily reports (日报告, issue 6): templates as versioned data, one submission per template,
-- node and date, and reminders to nodes that have not reported. Computed values are never
-- stored as a batch table: they are counted live from the records (store::reports); a
-- submission keeps only a snapshot of them, taken when it is submitted and again when it is
-- approved, because approved data is locked.
--
-- Submissions and reminders name their node by id and reach its path through a join with
-- node, so a node move needs no rewrite here (no path copy, nothing for nodes::PATH_COPIES).

-- A template version: the definition is JSON of linli_core::report::Template. A published
-- version is never changed; an edit is a new version with its own effective date.
CREATE TABLE report_template (
    id INTEGER PRIMARY KEY,
    template_key TEXT NOT NULL,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    level TEXT NOT NULL,
    effective_from TEXT NOT NULL,
    definition_json TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (template_key, version)
);

-- The preset (linli_core::report::Template::epidemic_daily), as data from the first migration
-- on, so both backends hold the same version 1 and a later change of the preset is a new
-- version row rather than a silent change of past reports. A store test checks that this row
-- equals the preset in core.
INSERT INTO report_template (template_key, version, name, level, effective_from, definition_json, created_at, created_by)
VALUES ('epidemic-daily', 1, '疫情防控日报表', 'community', '2020-01-20',
'{"key":"epidemic-daily","name":"疫情防控日报表","level":"community","period":"daily","deadline":"16:00","version":1,"indicators":[{"key":"arrivals_new","label":"当日新增来返人员","unit":"人","kind":"computed","aggregate":"arrivals_new"},{"key":"under_centralized_quarantine","label":"集中隔离人数","unit":"人","kind":"computed","aggregate":"under_centralized_quarantine"},{"key":"under_home_quarantine","label":"居家隔离人数","unit":"人","kind":"computed","aggregate":"under_home_quarantine"},{"key":"health_monitoring","label":"健康监测人数","unit":"人","kind":"computed","aggregate":"health_monitoring"},{"key":"fevers_open","label":"发热未处置","unit":"人","kind":"computed","aggregate":"fevers_open"},{"key":"releases","label":"当日解除隔离","unit":"人","kind":"computed","aggregate":"releases"},{"key":"checkins_missed","label":"当日漏报打卡","unit":"次","kind":"computed","aggregate":"checkins_missed"},{"key":"enterprises_reopened","label":"当日批准复工企业","unit":"家","kind":"computed","aggregate":"enterprises_reopened"},{"key":"disinfection_rounds","label":"公共区域消杀","unit":"次","kind":"manual","value":"number"},{"key":"notes","label":"其他需报告事项","unit":"","kind":"manual","value":"text"}]}',
0, 'migration');

-- One report of a node for a date. No row = draft (nothing submitted). status: submitted →
-- approved (locked). zero = an explicit zero report. manual_json: the typed values;
-- values_json: the computed values when submitted (and again when approved).
CREATE TABLE report_submission (
    id INTEGER PRIMARY KEY,
    template_key TEXT NOT NULL,
    template_id INTEGER NOT NULL REFERENCES report_template (id),
    node_id INTEGER NOT NULL REFERENCES node (id),
    report_on TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('submitted', 'approved')),
    zero INTEGER NOT NULL,
    manual_json TEXT NOT NULL,
    values_json TEXT NOT NULL,
    submitted_by TEXT NOT NULL,
    submitted_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    approved_by TEXT,
    approved_at INTEGER,
    UNIQUE (template_key, node_id, report_on)
);
CREATE INDEX report_submission_day_idx ON report_submission (template_key, report_on, node_id);

-- A reminder sent to a node that had not reported; its staff see it on the report page.
CREATE TABLE report_reminder (
    id INTEGER PRIMARY KEY,
    template_key TEXT NOT NULL,
    node_id INTEGER NOT NULL REFERENCES node (id),
    report_on TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX report_reminder_node_idx ON report_reminder (node_id, report_on);
