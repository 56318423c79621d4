-- Residence types (issue 19 item 3): 人户分离 (`registered_away`: registered here, living
-- elsewhere) and 境外人员 (`foreign`) beside the three categories; and the state `away`
-- (暂时外出: still in the registry, living elsewhere for a while) with its date and place.
ALTER TABLE person DROP CONSTRAINT person_category_check;
ALTER TABLE person ADD CONSTRAINT person_category_check CHECK (category IN ('registered',
    'registered_away', 'resident', 'floating', 'foreign'));
ALTER TABLE person DROP CONSTRAINT person_state_check;
ALTER TABLE person ADD CONSTRAINT person_state_check CHECK (state IN ('active', 'away',
    'moved_out', 'deceased'));
ALTER TABLE person ADD COLUMN away_since TEXT;
ALTER TABLE person ADD COLUMN away_to TEXT;
-- A node's numbers read only these columns: counted from the index alone, in path order.
CREATE INDEX person_counts_idx ON person (node_path, state, category, birth_date, dwelling_id);
