-- The page-cache experiment of BENCHMARKS.md (issue 4): 1,000,000 person-shaped rows with the
-- nine person indexes in one transaction. Run: rm -f x.db && time sqlite3 x.db < this file;
-- vary cache_size (KiB, negative) and randomblob(32) → randomblob(16) for the shorter hashes.
PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;
CREATE TABLE person (id INTEGER PRIMARY KEY, node_path TEXT, name TEXT, name_pinyin TEXT, name_initials TEXT, id_hash TEXT, id_last4 TEXT, phone_hash TEXT, phone_last4 TEXT, household_id INTEGER, id_cipher BLOB, phone_cipher BLOB);
CREATE UNIQUE INDEX person_id_hash_key ON person (id_hash);
CREATE INDEX person_phone_hash_idx ON person (phone_hash);
CREATE INDEX person_id_last4_idx ON person (id_last4, node_path);
CREATE INDEX person_phone_last4_idx ON person (phone_last4, node_path);
CREATE INDEX person_name_idx ON person (name, node_path);
CREATE INDEX person_name_pinyin_idx ON person (name_pinyin, name, node_path);
CREATE INDEX person_name_initials_idx ON person (name_initials, name, node_path);
CREATE INDEX person_node_path_idx ON person (node_path);
CREATE INDEX person_household_idx ON person (household_id);
.timer on
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 1000000)
INSERT INTO person (node_path, name, name_pinyin, name_initials, id_hash, id_last4, phone_hash, phone_last4, household_id, id_cipher, phone_cipher)
SELECT '/1/2/3/' || (i % 250) || '/', 'name' || (abs(random()) % 50000), 'pinyin' || (abs(random()) % 50000), 'py' || (abs(random()) % 5000), hex(randomblob(32)), substr(abs(random()),1,4), hex(randomblob(32)), substr(abs(random()),1,4), i / 4, randomblob(46), randomblob(39) FROM n;
COMMIT;
