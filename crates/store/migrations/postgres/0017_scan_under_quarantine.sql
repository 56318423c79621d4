-- A gate now refuses a person under quarantine on the way out (issue 18): the scan's outcome
-- gains 'under_quarantine'.
ALTER TABLE gate_scan DROP CONSTRAINT gate_scan_outcome_check;
ALTER TABLE gate_scan ADD CONSTRAINT gate_scan_outcome_check
    CHECK (outcome IN ('allowed', 'no_pass', 'fever', 'under_quarantine'));
