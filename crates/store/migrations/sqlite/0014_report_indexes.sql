-- Covering indexes for the daily report's live counts (issue 6, `reports::count_by_path`):
-- each holds every column its report query reads, so a report scans index entries only (no
-- table row is read), and leads with the column the report date bounds, so the scan covers
-- the day's records (or the open ones) rather than the whole subtree's history.

-- Arrivals of the day: `arrived_on = d`, then the subtree's range.
CREATE INDEX arrival_report_idx ON arrival (arrived_on, node_path);

-- Observations open on the day (`released_on IS NULL`, in path order) or released on or after
-- it; measure and start_on are what the counts test.
CREATE INDEX observation_report_idx ON observation (released_on, node_path, measure, start_on);

-- Alerts open or handled since the day's start; kind and raised_at are what the counts test.
-- It extends alert_open_idx (handled_at, node_path), which it replaces.
CREATE INDEX alert_report_idx ON alert (handled_at, node_path, kind, raised_at);
DROP INDEX IF EXISTS alert_open_idx;

-- Reopenings approved on the day.
CREATE INDEX reopening_report_idx ON reopening (status, decided_at, node_path);
