-- The observations list's 今日未报齐 filter (issue 18) counted each person's check-ins of the
-- day: 100,000 correlated lookups for a street. Each observation now keeps the China day of its
-- latest check-in (`last_checkin_day`, that day's midnight in Unix ms, as
-- `kernel::clock::day_bounds` gives it: UTC+8, every day 24 h) and how many check-ins that day
-- holds; a trigger keeps them on every insert, whichever path writes it. An earlier day's
-- count is not kept: the list reads those from the check-ins themselves.
ALTER TABLE observation ADD COLUMN last_checkin_day INTEGER;
ALTER TABLE observation ADD COLUMN last_day_checkins INTEGER NOT NULL DEFAULT 0;

UPDATE observation SET last_checkin_day = (
    SELECT MAX(c.at - ((c.at + 28800000) % 86400000)) FROM checkin c WHERE c.observation_id = observation.id
);
UPDATE observation SET last_day_checkins = (
    SELECT COUNT(*) FROM checkin c WHERE c.observation_id = observation.id
      AND c.at >= observation.last_checkin_day AND c.at < observation.last_checkin_day + 86400000
) WHERE last_checkin_day IS NOT NULL;

CREATE TRIGGER checkin_day_count AFTER INSERT ON checkin BEGIN
    UPDATE observation SET
        last_day_checkins = CASE
            WHEN last_checkin_day = NEW.at - ((NEW.at + 28800000) % 86400000) THEN last_day_checkins + 1
            WHEN last_checkin_day IS NULL OR last_checkin_day < NEW.at - ((NEW.at + 28800000) % 86400000) THEN 1
            ELSE last_day_checkins END,
        last_checkin_day = CASE
            WHEN last_checkin_day IS NULL OR last_checkin_day < NEW.at - ((NEW.at + 28800000) % 86400000)
            THEN NEW.at - ((NEW.at + 28800000) % 86400000)
            ELSE last_checkin_day END
    WHERE id = NEW.observation_id;
END;

-- The filter reads the open observations of a subtree from this index alone, in the list's
-- order (place, then who came first), so a page stops after its rows. Not a partial index:
-- SQLite's planner preferred observation_report_idx (released_on, node_path, …) to a partial
-- one and read every row from the table (100 ms for a street of 100,000); this one has that
-- index's prefix and covers the filter (18 ms).
CREATE INDEX observation_open_pending_idx ON observation
    (released_on, node_path, id, start_on, until_on, check_ins_per_day, last_checkin_day,
     last_day_checkins);
