-- A studio's activity and schedule: events, memberships, locations and classes.

-- The latest visit, kept on the contact for getCustomers (RFC 3339 UTC).
ALTER TABLE contacts ADD COLUMN last_visit_date TEXT;

CREATE TABLE events (
    pk           INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id       TEXT NOT NULL,
    public_id    TEXT NOT NULL UNIQUE,
    -- The caller's event id: re-sending it updates the event (contract, newEvent).
    id           TEXT NOT NULL,
    contact_pk   INTEGER NOT NULL REFERENCES contacts (pk) ON DELETE CASCADE,
    event_type   TEXT NOT NULL,
    event_name   TEXT,
    event_date   TEXT NOT NULL,
    -- event_time as sent; event_clock its HH:MM:SS form ('00:00:00' without a time).
    event_time   TEXT,
    event_clock  TEXT NOT NULL,
    is_visit     INTEGER NOT NULL DEFAULT 0,
    is_purchase  INTEGER NOT NULL DEFAULT 0,
    location     TEXT,
    event_data   TEXT,
    created_date TEXT NOT NULL,
    updated_date TEXT NOT NULL,
    UNIQUE (app_id, id)
);
CREATE INDEX events_by_contact ON events (contact_pk, event_date, event_clock);
CREATE INDEX events_by_type ON events (app_id, event_type, event_date);

-- event_data keys seen per event type (getAttributeEvents).
CREATE TABLE event_fields (
    app_id     TEXT NOT NULL,
    event_type TEXT NOT NULL,
    field      TEXT NOT NULL,
    PRIMARY KEY (app_id, event_type, field)
);

CREATE TABLE memberships (
    pk           INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id       TEXT NOT NULL,
    contact_pk   INTEGER NOT NULL REFERENCES contacts (pk) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    name         TEXT,
    status       TEXT,
    start_date   TEXT,
    end_date     TEXT,
    -- The JSON number as sent: no rounding through floating point.
    price        TEXT,
    location_id  TEXT,
    created_date TEXT NOT NULL,
    updated_date TEXT NOT NULL,
    UNIQUE (contact_pk, id)
);

CREATE TABLE locations (
    pk           INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id       TEXT NOT NULL,
    public_id    TEXT NOT NULL UNIQUE,
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    address      TEXT,
    city         TEXT,
    state        TEXT,
    zip          TEXT,
    country      TEXT,
    phone        TEXT,
    email        TEXT,
    timezone     TEXT,
    created_date TEXT NOT NULL,
    updated_date TEXT NOT NULL,
    UNIQUE (app_id, id)
);

CREATE TABLE classes (
    pk           INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id       TEXT NOT NULL,
    public_id    TEXT NOT NULL UNIQUE,
    id           TEXT NOT NULL,
    class_name   TEXT NOT NULL,
    description  TEXT,
    location_id  TEXT,
    staff        TEXT,
    start_date   TEXT NOT NULL,
    start_time   TEXT NOT NULL,
    start_clock  TEXT NOT NULL,
    end_time     TEXT,
    end_clock    TEXT,
    capacity     INTEGER,
    created_date TEXT NOT NULL,
    updated_date TEXT NOT NULL,
    UNIQUE (app_id, id),
    FOREIGN KEY (app_id, location_id) REFERENCES locations (app_id, id)
);
CREATE INDEX classes_by_start ON classes (app_id, start_date, start_clock);
CREATE INDEX classes_by_location ON classes (app_id, location_id, start_date);
