-- Workrooms and forms.

CREATE TABLE workrooms (
    pk           INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id       TEXT NOT NULL,
    public_id    TEXT NOT NULL UNIQUE,
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    created_date TEXT NOT NULL,
    updated_date TEXT NOT NULL,
    UNIQUE (app_id, id)
);

-- The caller's location ids (locations.id) a workroom covers; a contact whose location is
-- one of them belongs to the workroom.
CREATE TABLE workroom_locations (
    workroom_pk INTEGER NOT NULL REFERENCES workrooms (pk) ON DELETE CASCADE,
    location_id TEXT NOT NULL,
    PRIMARY KEY (workroom_pk, location_id)
);
CREATE INDEX contacts_by_location ON contacts (app_id, location);

CREATE TABLE forms (
    pk            INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id        TEXT NOT NULL,
    public_id     TEXT NOT NULL UNIQUE,
    id            TEXT NOT NULL,
    name          TEXT NOT NULL,
    -- The field definitions as JSON (name, label, type, required, options).
    fields        TEXT NOT NULL,
    consent_field TEXT,
    created_date  TEXT NOT NULL,
    updated_date  TEXT NOT NULL,
    UNIQUE (app_id, id)
);

CREATE TABLE form_submissions (
    pk             INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id         TEXT NOT NULL,
    public_id      TEXT NOT NULL UNIQUE,
    form_pk        INTEGER NOT NULL REFERENCES forms (pk) ON DELETE CASCADE,
    contact_pk     INTEGER REFERENCES contacts (pk) ON DELETE CASCADE,
    data           TEXT NOT NULL,
    submitted_date TEXT NOT NULL
);
CREATE INDEX form_submissions_by_form ON form_submissions (form_pk, pk);
CREATE INDEX form_submissions_by_contact ON form_submissions (contact_pk);
