-- An approver may return (退回) a submitted report with a reason; the node corrects it and
-- submits again.
ALTER TABLE report_submission DROP CONSTRAINT report_submission_status_check;
ALTER TABLE report_submission ADD CONSTRAINT report_submission_status_check
    CHECK (status IN ('submitted', 'approved', 'returned'));
ALTER TABLE report_submission ADD COLUMN returned_by TEXT;
ALTER TABLE report_submission ADD COLUMN returned_at BIGINT;
ALTER TABLE report_submission ADD COLUMN return_reason TEXT;
