-- The whole classification of a screening as JSON (measure, days, stages, dates, check-ins,
-- explanation, policy): the result page is read back from it after the form's redirect, so a
-- reload shows the stored result instead of posting the screening again. Emptied by retention
-- with the explanation.
ALTER TABLE arrival ADD COLUMN classification_json TEXT;
