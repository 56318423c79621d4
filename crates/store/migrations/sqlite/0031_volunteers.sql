-- Volunteers (志愿者), teams (志愿服务队), service activities (服务活动), sign-ups and hours
-- (issue 20 item 1). Volunteers, teams and activities carry district_id and node_path (their
-- home node) for scoped range scans; sign-ups and hours are reached through their activity.
-- A volunteer is a registry person (person_id) or an outside person; either way the phone is
-- stored like a person's (encrypted, keyed hash in the "phone" domain, last four digits), so a
-- phone typed on an activity's public link finds the volunteer.

CREATE TABLE volunteer (
    id INTEGER PRIMARY KEY,
    node_id INTEGER NOT NULL REFERENCES node (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    person_id INTEGER REFERENCES person (id),
    name TEXT NOT NULL,
    phone_cipher BLOB,
    phone_hash TEXT,
    phone_last4 TEXT,
    -- JSON array of normalised skill words.
    skills TEXT NOT NULL DEFAULT '[]',
    availability TEXT,
    -- ISO weekdays as digits, e.g. '135'.
    weekdays TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL CHECK (state IN ('pending', 'active', 'left')),
    left_on TEXT,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX volunteer_person_key ON volunteer (person_id) WHERE person_id IS NOT NULL;
CREATE INDEX volunteer_path_idx ON volunteer (node_path);
CREATE INDEX volunteer_phone_idx ON volunteer (phone_hash);

CREATE TABLE volunteer_team (
    id INTEGER PRIMARY KEY,
    node_id INTEGER NOT NULL REFERENCES node (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    name TEXT NOT NULL,
    leader_id INTEGER REFERENCES volunteer (id),
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
);
CREATE UNIQUE INDEX volunteer_team_name_key ON volunteer_team (node_id, name);
CREATE INDEX volunteer_team_path_idx ON volunteer_team (node_path);

CREATE TABLE volunteer_team_member (
    team_id INTEGER NOT NULL REFERENCES volunteer_team (id),
    volunteer_id INTEGER NOT NULL REFERENCES volunteer (id),
    PRIMARY KEY (team_id, volunteer_id)
);
CREATE INDEX volunteer_team_member_volunteer_idx ON volunteer_team_member (volunteer_id);

CREATE TABLE volunteer_activity (
    id INTEGER PRIMARY KEY,
    node_id INTEGER NOT NULL REFERENCES node (id),
    district_id INTEGER NOT NULL,
    node_path TEXT NOT NULL,
    title TEXT NOT NULL,
    place TEXT,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    description TEXT,
    -- JSON array of {"skill": text|null, "count": n}.
    needs TEXT NOT NULL,
    -- The public sign-up link's short code (kernel::token::ACTIVITY), in clear like a
    -- declaration link's: it grants no login, and the poster must print it again.
    code TEXT NOT NULL,
    organiser_id INTEGER,
    organiser TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX volunteer_activity_code_key ON volunteer_activity (code);
CREATE INDEX volunteer_activity_path_idx ON volunteer_activity (node_path, starts_at);

CREATE TABLE volunteer_signup (
    id INTEGER PRIMARY KEY,
    activity_id INTEGER NOT NULL REFERENCES volunteer_activity (id),
    volunteer_id INTEGER NOT NULL REFERENCES volunteer (id),
    -- The need this sign-up fills (NULL: none in particular).
    skill TEXT,
    source TEXT NOT NULL CHECK (source IN ('staff', 'link')),
    -- Attendance: NULL not yet marked, 1 present, 0 absent.
    attended INTEGER,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
);
CREATE UNIQUE INDEX volunteer_signup_key ON volunteer_signup (activity_id, volunteer_id);
CREATE INDEX volunteer_signup_volunteer_idx ON volunteer_signup (volunteer_id);

-- One record of hours per sign-up; the row's id is what a points ledger entry will name.
CREATE TABLE volunteer_hours (
    id INTEGER PRIMARY KEY,
    signup_id INTEGER NOT NULL REFERENCES volunteer_signup (id),
    activity_id INTEGER NOT NULL REFERENCES volunteer_activity (id),
    volunteer_id INTEGER NOT NULL REFERENCES volunteer (id),
    -- Half hours.
    halves INTEGER NOT NULL CHECK (halves > 0),
    status TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'rejected')),
    source TEXT NOT NULL CHECK (source IN ('staff', 'link')),
    reason TEXT,
    -- When the service was done (the activity's start), for hours per month.
    served_at INTEGER NOT NULL,
    reported_at INTEGER NOT NULL,
    decided_at INTEGER,
    decided_by TEXT
);
CREATE UNIQUE INDEX volunteer_hours_signup_key ON volunteer_hours (signup_id);
CREATE INDEX volunteer_hours_volunteer_idx ON volunteer_hours (volunteer_id, status, served_at);
