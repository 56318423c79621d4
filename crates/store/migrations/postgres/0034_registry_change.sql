-- The registry's change marks (issue 19, counts for every node at once): one row per exact
-- path records were written on, its version raised by every write there, in the writing
-- transaction. The counts keep per-process tallies by path and re-count only the paths whose
-- version moved since they last looked, so the numbers stay live without a batch table. The
-- path '' is the epoch: raising it (a subtree moved, rooms re-attached) re-counts everything.
-- Versions only grow, so their sum tells a reader in one read whether anything changed.
CREATE TABLE registry_change (
    path TEXT PRIMARY KEY,
    version BIGINT NOT NULL
);
