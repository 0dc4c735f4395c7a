-- The first schema of PostgresStore (bot/storage/postgres.py).
--
-- Every document is kept as `json`, exactly as the bot wrote it (key order, "\u0000" escapes):
-- the document is the truth. Typed columns beside it are derived from it by the store in the
-- same statement, for what is queried across people or by time (the scheduler's fields, local
-- dates, instants); they are NULL when the document has no usable value.

-- One row per person with any data.
CREATE TABLE people (
    user_id           bigint PRIMARY KEY,
    profile           json,         -- NULL until onboarding creates it; open shape
    state             json,         -- flow state (drafts, "awaiting" markers); NULL when empty
    -- the scheduler's index fields, from the profile
    tz                text,
    tip_time          time,
    accepted          boolean,
    active            boolean,
    tips_enabled      boolean,
    tips_paused_until timestamptz,
    relief_timer_due  timestamptz,
    last_tip_date     date,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX people_relief_timer_due ON people (relief_timer_due)
    WHERE relief_timer_due IS NOT NULL;

-- Feature tables the code knows. `id` counts per person and table, as in the file store.
CREATE TABLE episodes (
    user_id    bigint NOT NULL REFERENCES people ON DELETE CASCADE,
    id         integer NOT NULL,
    doc        json NOT NULL,
    started_at timestamptz,
    local_date date,              -- the day in the person's zone when it started
    intensity  smallint,
    PRIMARY KEY (user_id, id)
);
CREATE INDEX episodes_local_date ON episodes (user_id, local_date);

CREATE TABLE relief_runs (
    user_id         bigint NOT NULL REFERENCES people ON DELETE CASCADE,
    id              integer NOT NULL,
    doc             json NOT NULL,
    started_at      timestamptz,
    followup_due_at timestamptz,
    PRIMARY KEY (user_id, id)
);
CREATE INDEX relief_runs_followup_due ON relief_runs (followup_due_at)
    WHERE followup_due_at IS NOT NULL;

CREATE TABLE tips (
    user_id    bigint NOT NULL REFERENCES people ON DELETE CASCADE,
    id         integer NOT NULL,
    doc        json NOT NULL,
    sent_at    timestamptz,
    local_date date,
    PRIMARY KEY (user_id, id)
);

CREATE TABLE red_flags (
    user_id  bigint NOT NULL REFERENCES people ON DELETE CASCADE,
    id       integer NOT NULL,
    doc      json NOT NULL,
    asked_at timestamptz,
    PRIMARY KEY (user_id, id)
);

-- Any other table (a feature added on another branch, e.g. diary days): the same documents,
-- no schema change needed. A later numbered migration can move one into a typed table.
CREATE TABLE documents (
    user_id    bigint NOT NULL REFERENCES people ON DELETE CASCADE,
    table_name text NOT NULL,
    id         integer NOT NULL,
    doc        json NOT NULL,
    PRIMARY KEY (user_id, table_name, id)
);
