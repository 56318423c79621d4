-- Cases and close contacts (issue 5, item 6). A case is a person marked 确诊 or 无症状 with a
-- date; a contact link says "person was in contact with source" (密接 → a case, 次密接 → a
-- 密接), with the last contact date that the quarantine counts from. Each link keeps the
-- classification of the policy in force on its last-contact date; the person's observation
-- (shared with arrivals' observations table) is referenced from every link of that person.
-- Both tables carry district_id and node_path of the person, like the registry's.

CREATE TABLE epi_case (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL UNIQUE REFERENCES person (id),
    kind TEXT NOT NULL CHECK (kind IN ('confirmed', 'asymptomatic')),
    diagnosed_on TEXT NOT NULL,
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX epi_case_node_path_idx ON epi_case (node_path);

CREATE TABLE contact_link (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES person (id),
    source_person_id INTEGER NOT NULL REFERENCES person (id),
    kind TEXT NOT NULL CHECK (kind IN ('close_contact', 'secondary_contact')),
    last_contact_on TEXT NOT NULL,
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    policy_version_id INTEGER REFERENCES policy_version (id),
    measure TEXT NOT NULL,
    until_on TEXT,
    explanation TEXT NOT NULL,
    observation_id INTEGER REFERENCES observation (id),
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (person_id, source_person_id),
    CHECK (person_id <> source_person_id)
);
CREATE INDEX contact_link_source_idx ON contact_link (source_person_id);
CREATE INDEX contact_link_node_path_idx ON contact_link (node_path);
