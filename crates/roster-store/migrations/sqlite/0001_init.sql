-- Roster's first schema: apps (tenants) and contacts.
-- Timestamps are RFC 3339 UTC text with milliseconds (fixed width, so text order is time order).

CREATE TABLE apps (
    pk           INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id       TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    api_key      TEXT NOT NULL UNIQUE,
    -- SHA-256 of the secret key, hex; the secret itself is never stored.
    secret_hash  TEXT NOT NULL,
    created_date TEXT NOT NULL
);

CREATE TABLE contacts (
    -- Internal id: the stable list order of the contract ("oldest first by internal id").
    -- AUTOINCREMENT so that a deleted contact's number is never handed out again.
    pk                INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id            TEXT NOT NULL REFERENCES apps (app_id),
    id                TEXT NOT NULL UNIQUE,
    user_id           TEXT,
    first_name        TEXT NOT NULL,
    last_name         TEXT NOT NULL,
    email             TEXT,
    email_lc          TEXT,
    phone             TEXT,
    address           TEXT,
    city              TEXT,
    state             TEXT,
    zip               TEXT,
    source            TEXT,
    dob               TEXT,
    gender            TEXT,
    type              TEXT,
    status            TEXT,
    location          TEXT,
    last_location     TEXT,
    custom            TEXT NOT NULL DEFAULT '{}',
    tags              TEXT NOT NULL DEFAULT '[]',
    sms_optin         INTEGER NOT NULL DEFAULT 0,
    sms_optin_date    TEXT,
    sms_optout        INTEGER NOT NULL DEFAULT 0,
    sms_optout_date   TEXT,
    email_optout      INTEGER NOT NULL DEFAULT 0,
    email_optout_date TEXT,
    created_date      TEXT NOT NULL,
    updated_date      TEXT NOT NULL
);

-- Identity lookups (contract: "Contact identity") and list orders, all per app.
CREATE UNIQUE INDEX contacts_by_user_id ON contacts (app_id, user_id) WHERE user_id IS NOT NULL;
CREATE INDEX contacts_by_email ON contacts (app_id, email_lc) WHERE email_lc IS NOT NULL;
CREATE INDEX contacts_by_phone ON contacts (app_id, phone) WHERE phone IS NOT NULL;
CREATE INDEX contacts_in_order ON contacts (app_id, pk);
CREATE INDEX contacts_by_updated ON contacts (app_id, updated_date);
CREATE INDEX contacts_sms_optin ON contacts (app_id, pk) WHERE sms_optin = 1;
CREATE INDEX contacts_optout ON contacts (app_id, pk) WHERE sms_optout = 1 OR email_optout = 1;

-- Ids retired by mergeContacts keep resolving to the survivor.
CREATE TABLE contact_aliases (
    retired_id  TEXT PRIMARY KEY,
    app_id      TEXT NOT NULL,
    survivor_pk INTEGER NOT NULL REFERENCES contacts (pk) ON DELETE CASCADE
);
CREATE INDEX contact_aliases_by_survivor ON contact_aliases (survivor_pk);

-- The custom attribute catalogue of getAttributes.
CREATE TABLE custom_attributes (
    app_id     TEXT NOT NULL,
    name       TEXT NOT NULL,
    type       TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    PRIMARY KEY (app_id, name)
);
