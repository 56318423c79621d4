-- The observations list's 今日未报齐 filter (issue 18) counted each person's check-ins of the
-- day: 100,000 correlated lookups for a street. Each observation now keeps the China day of its
-- latest check-in (`last_checkin_day`, that day's midnight in Unix ms, as
-- `kernel::clock::day_bounds` gives it: UTC+8, every day 24 h) and how many check-ins that day
-- holds; a trigger keeps them on every insert, whichever path writes it. An earlier day's
-- count is not kept: the list reads those from the check-ins themselves.
ALTER TABLE observation ADD COLUMN last_checkin_day BIGINT;
ALTER TABLE observation ADD COLUMN last_day_checkins BIGINT NOT NULL DEFAULT 0;

UPDATE observation o SET last_checkin_day = d.day, last_day_checkins = d.n
FROM (
    SELECT c.observation_id, day, COUNT(*) AS n
    FROM (SELECT observation_id, at - ((at + 28800000) % 86400000) AS day FROM checkin) c
    JOIN (SELECT observation_id, MAX(at - ((at + 28800000) % 86400000)) AS last_day
          FROM checkin GROUP BY observation_id) m
      ON m.observation_id = c.observation_id AND m.last_day = c.day
    GROUP BY c.observation_id, day
) d
WHERE d.observation_id = o.id;

CREATE FUNCTION checkin_day_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d BIGINT := NEW.at - ((NEW.at + 28800000) % 86400000);
BEGIN
    UPDATE observation SET
        last_day_checkins = CASE
            WHEN last_checkin_day = d THEN last_day_checkins + 1
            WHEN last_checkin_day IS NULL OR last_checkin_day < d THEN 1
            ELSE last_day_checkins END,
        last_checkin_day = CASE
            WHEN last_checkin_day IS NULL OR last_checkin_day < d THEN d
            ELSE last_checkin_day END
    WHERE id = NEW.observation_id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER checkin_day_count AFTER INSERT ON checkin
    FOR EACH ROW EXECUTE FUNCTION checkin_day_count();

-- The filter reads the open observations of a subtree from this index alone, in the list's
-- order (place, then who came first), so a page stops after its rows. Not a partial index:
-- SQLite's planner preferred observation_report_idx (released_on, node_path, …) to a partial
-- one and read every row from the table (100 ms for a street of 100,000); this one has that
-- index's prefix and covers the filter (18 ms).
CREATE INDEX observation_open_pending_idx ON observation
    (released_on, node_path, id, start_on, until_on, check_ins_per_day, last_checkin_day,
     last_day_checkins);
