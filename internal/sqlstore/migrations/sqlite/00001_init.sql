-- tamlink schema, SQLite dialect. Keep in step with ../postgres/00001_init.sql.
--
-- Conventions: timestamps are TEXT in UTC, fixed width
-- ('2006-01-02T15:04:05.000000Z'), so they sort and compare as text; NULL
-- means "not set". Booleans are INTEGER 0/1. Optional references are NULL,
-- never 0 or ''. Actors (who wrote a message, requested a ticket, ...) are
-- kind/id/name columns without a foreign key, because the id may name a user,
-- a staff member or nobody (system); the name is the one they had at the time.

-- +goose Up
CREATE TABLE orgs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    CONSTRAINT orgs_name_key UNIQUE (name)
);

CREATE TABLE channels (
    app_id                 TEXT    NOT NULL PRIMARY KEY,
    tenant_id              TEXT    NOT NULL,
    teams_published_app_id TEXT    NOT NULL DEFAULT '',
    published_id_kind      TEXT    NOT NULL DEFAULT 'unknown',
    org_id                 INTEGER NOT NULL REFERENCES orgs (id),
    sealed_secret          BLOB,
    secret_expires_at      TEXT,
    created_at             TEXT    NOT NULL,
    updated_at             TEXT    NOT NULL,
    last_test_at           TEXT,
    last_test_ok           INTEGER NOT NULL DEFAULT 0 CHECK (last_test_ok IN (0, 1)),
    last_test_message      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX channels_org_id ON channels (org_id);
CREATE INDEX channels_tenant_id ON channels (tenant_id);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id         INTEGER NOT NULL REFERENCES orgs (id),
    tenant_id      TEXT    NOT NULL,
    object_id      TEXT    NOT NULL,
    name           TEXT    NOT NULL DEFAULT '',
    email          TEXT    NOT NULL DEFAULT '',
    home_tenant_id TEXT    NOT NULL DEFAULT '',
    created_at     TEXT    NOT NULL,
    last_seen_at   TEXT    NOT NULL,
    CONSTRAINT users_tenant_object_key UNIQUE (tenant_id, object_id)
);
CREATE INDEX users_org_id ON users (org_id);

-- E-mail addresses are stored lower-cased; the unique index on lower(email)
-- also guards against rows written by other tools.
CREATE TABLE staff (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT    NOT NULL,
    name          TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL DEFAULT '',
    admin         INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
    created_at    TEXT    NOT NULL
);
CREATE UNIQUE INDEX staff_email_key ON staff (lower(email));

CREATE TABLE org_staff (
    org_id     INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    staff_id   INTEGER NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (org_id, staff_id)
);
CREATE INDEX org_staff_staff_id ON org_staff (staff_id);

CREATE TABLE messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id      INTEGER NOT NULL REFERENCES orgs (id),
    author_kind TEXT    NOT NULL,
    author_id   INTEGER NOT NULL DEFAULT 0,
    author_name TEXT    NOT NULL DEFAULT '',
    body        TEXT    NOT NULL,
    client_id   TEXT    NOT NULL DEFAULT '',
    created_at  TEXT    NOT NULL
);
CREATE INDEX messages_org_id_id ON messages (org_id, id);
CREATE UNIQUE INDEX messages_client_id_key
    ON messages (org_id, author_kind, author_id, client_id)
    WHERE client_id <> '';

-- message_id is a high-water mark, not a reference: it only ever grows.
CREATE TABLE read_marks (
    org_id      INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    reader_kind TEXT    NOT NULL,
    reader_id   INTEGER NOT NULL,
    message_id  INTEGER NOT NULL,
    updated_at  TEXT    NOT NULL,
    PRIMARY KEY (org_id, reader_kind, reader_id)
);

CREATE TABLE tickets (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id            INTEGER NOT NULL REFERENCES orgs (id),
    title             TEXT    NOT NULL,
    description       TEXT    NOT NULL DEFAULT '',
    severity          TEXT    NOT NULL,
    status            TEXT    NOT NULL,
    requester_kind    TEXT    NOT NULL,
    requester_id      INTEGER NOT NULL DEFAULT 0,
    requester_name    TEXT    NOT NULL DEFAULT '',
    assignee_id       INTEGER REFERENCES staff (id) ON DELETE SET NULL,
    assignee_name     TEXT    NOT NULL DEFAULT '',
    external_id       TEXT    NOT NULL DEFAULT '',
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL,
    first_response_at TEXT
);
CREATE INDEX tickets_org_id_status ON tickets (org_id, status);
CREATE INDEX tickets_assignee_id ON tickets (assignee_id);
CREATE INDEX tickets_updated_at ON tickets (updated_at);

CREATE TABLE ticket_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id  INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    org_id     INTEGER NOT NULL REFERENCES orgs (id),
    kind       TEXT    NOT NULL,
    actor_kind TEXT    NOT NULL,
    actor_id   INTEGER NOT NULL DEFAULT 0,
    actor_name TEXT    NOT NULL DEFAULT '',
    body       TEXT    NOT NULL DEFAULT '',
    from_value TEXT    NOT NULL DEFAULT '',
    to_value   TEXT    NOT NULL DEFAULT '',
    created_at TEXT    NOT NULL
);
CREATE INDEX ticket_events_ticket_id_id ON ticket_events (ticket_id, id);

-- Removing a channel removes what only makes sense through it: its invites,
-- its tab sessions and its pending sign-ins.
CREATE TABLE invites (
    id         TEXT    NOT NULL PRIMARY KEY,
    org_id     INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    app_id     TEXT    REFERENCES channels (app_id) ON DELETE CASCADE,
    created_by INTEGER REFERENCES staff (id) ON DELETE SET NULL,
    note       TEXT    NOT NULL DEFAULT '',
    expires_at TEXT,
    created_at TEXT    NOT NULL,
    used_at    TEXT,
    used_by    INTEGER REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX invites_org_id ON invites (org_id);
CREATE INDEX invites_app_id ON invites (app_id);

CREATE TABLE sessions (
    token_hash BLOB    NOT NULL PRIMARY KEY,
    kind       TEXT    NOT NULL,
    user_id    INTEGER REFERENCES users (id) ON DELETE CASCADE,
    staff_id   INTEGER REFERENCES staff (id) ON DELETE CASCADE,
    app_id     TEXT    REFERENCES channels (app_id) ON DELETE CASCADE,
    csrf       TEXT    NOT NULL DEFAULT '',
    created_at TEXT    NOT NULL,
    expires_at TEXT    NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_staff_id ON sessions (staff_id);
CREATE INDEX sessions_app_id ON sessions (app_id);

CREATE TABLE login_states (
    state         TEXT    NOT NULL PRIMARY KEY,
    app_id        TEXT    REFERENCES channels (app_id) ON DELETE CASCADE,
    nonce         TEXT    NOT NULL DEFAULT '',
    code_verifier TEXT    NOT NULL DEFAULT '',
    return_to     TEXT    NOT NULL DEFAULT '',
    invite_id     TEXT    NOT NULL DEFAULT '',
    popup         INTEGER NOT NULL DEFAULT 0 CHECK (popup IN (0, 1)),
    created_at    TEXT    NOT NULL,
    expires_at    TEXT    NOT NULL
);
CREATE INDEX login_states_expires_at ON login_states (expires_at);
CREATE INDEX login_states_app_id ON login_states (app_id);

-- +goose Down
DROP TABLE login_states;
DROP TABLE sessions;
DROP TABLE invites;
DROP TABLE ticket_events;
DROP TABLE tickets;
DROP TABLE read_marks;
DROP TABLE messages;
DROP TABLE org_staff;
DROP TABLE staff;
DROP TABLE users;
DROP TABLE channels;
DROP TABLE orgs;
