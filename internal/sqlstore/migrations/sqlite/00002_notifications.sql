-- Notifications, SQLite dialect. Keep in step with ../postgres/00002_notifications.sql.
--
-- A notification row is both the entry in a user's notification centre and
-- the record of its Teams delivery (delivery, reason, attempts). The queue
-- that drives delivery is River's river_job table (created by River's own
-- migrations, run by sqlstore after these): a 'pending' row always has a
-- job, inserted in the transaction that inserted the row.

-- +goose Up
CREATE TABLE notifications (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id       INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    ticket_id    INTEGER REFERENCES tickets (id) ON DELETE CASCADE,
    actor_name   TEXT    NOT NULL DEFAULT '',
    title        TEXT    NOT NULL DEFAULT '',
    text         TEXT    NOT NULL DEFAULT '',
    params       TEXT    NOT NULL DEFAULT '[]', -- JSON: [{"name": ..., "value": ...}]
    created_at   TEXT    NOT NULL,
    read_at      TEXT,
    delivery     TEXT    NOT NULL CHECK (delivery IN ('pending', 'delivered', 'muted', 'skipped', 'dead')),
    reason       TEXT    NOT NULL DEFAULT '',
    attempts     INTEGER NOT NULL DEFAULT 0,
    queued_at    TEXT    NOT NULL, -- when it last became pending: the start of its delivery window
    delivered_at TEXT,
    updated_at   TEXT    NOT NULL
);
CREATE INDEX notifications_user_id_id ON notifications (user_id, id);
CREATE INDEX notifications_unread ON notifications (user_id) WHERE read_at IS NULL;
CREATE INDEX notifications_delivery_id ON notifications (delivery, id);
CREATE INDEX notifications_ticket_id ON notifications (ticket_id);

-- Kinds a user muted: still in the workbench, not sent to Teams.
CREATE TABLE notify_muted (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind    TEXT    NOT NULL,
    PRIMARY KEY (user_id, kind)
);

-- Kinds every member of an organisation's group hears of (comma separated);
-- no row means the defaults.
CREATE TABLE org_notify_settings (
    org_id      INTEGER NOT NULL PRIMARY KEY REFERENCES orgs (id) ON DELETE CASCADE,
    group_kinds TEXT    NOT NULL DEFAULT '',
    updated_at  TEXT    NOT NULL
);

CREATE TABLE ticket_watchers (
    ticket_id  INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (ticket_id, user_id)
);
CREATE INDEX ticket_watchers_user_id ON ticket_watchers (user_id);

-- One SLA warning per ticket.
CREATE TABLE sla_warnings (
    ticket_id INTEGER NOT NULL PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    warned_at TEXT    NOT NULL
);

-- What the notifier learned about reaching a user in Teams through a channel.
CREATE TABLE teams_recipients (
    app_id     TEXT    NOT NULL REFERENCES channels (app_id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    state      TEXT    NOT NULL CHECK (state IN ('installed', 'removed', 'blocked')),
    reason     TEXT    NOT NULL DEFAULT '',
    checked_at TEXT    NOT NULL,
    PRIMARY KEY (app_id, user_id)
);
CREATE INDEX teams_recipients_user_id ON teams_recipients (user_id);

-- Whether a channel sends to Teams at all (off: its registration lacks the
-- Graph permissions).
CREATE TABLE channel_delivery (
    app_id     TEXT    NOT NULL PRIMARY KEY REFERENCES channels (app_id) ON DELETE CASCADE,
    off        INTEGER NOT NULL DEFAULT 0 CHECK (off IN (0, 1)),
    reason     TEXT    NOT NULL DEFAULT '',
    checked_at TEXT    NOT NULL
);

-- +goose Down
DROP TABLE channel_delivery;
DROP TABLE teams_recipients;
DROP TABLE sla_warnings;
DROP TABLE ticket_watchers;
DROP TABLE org_notify_settings;
DROP TABLE notify_muted;
DROP TABLE notifications;
