-- The breakdown of an approved report, locked with its figures: each child's values and the
-- records placed on the node itself, as JSON ({"children": {"<id>": {...}}, "direct": {...}}).
-- Without it an approved total stayed fixed while the table of children below it was counted
-- live, and the two drifted apart as records changed after approval.
ALTER TABLE report_submission ADD COLUMN lines_json TEXT;
