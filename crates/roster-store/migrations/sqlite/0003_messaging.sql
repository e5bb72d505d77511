-- Messaging: per-app settings, the outbox (and inbound messages), the consent history.

-- Double opt-in: when the request was sent; NULL when no opt-in is pending.
ALTER TABLE contacts ADD COLUMN sms_pending_date TEXT;

-- An app's messaging overrides (sender numbers, provider credentials, texts) as JSON;
-- the server's configuration supplies what an app leaves out.
CREATE TABLE app_settings (
    app_id       TEXT PRIMARY KEY REFERENCES apps (app_id),
    messaging    TEXT NOT NULL,
    updated_date TEXT NOT NULL
);

CREATE TABLE messages (
    pk              INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    app_id          TEXT NOT NULL,
    channel         TEXT NOT NULL,
    direction       TEXT NOT NULL,
    -- api, optin_request or keyword_reply: which consent rule applies at each attempt.
    purpose         TEXT NOT NULL,
    contact_pk      INTEGER REFERENCES contacts (pk) ON DELETE CASCADE,
    to_addr         TEXT NOT NULL,
    from_addr       TEXT NOT NULL,
    from_name       TEXT,
    reply_to        TEXT,
    subject         TEXT,
    text_body       TEXT,
    html_body       TEXT,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- When a worker may take it: the next retry, or when the current lease runs out.
    next_attempt_at TEXT,
    -- The current claim; an outcome is recorded only by the holder of this token.
    lease_token     TEXT,
    provider_id     TEXT,
    last_error      TEXT,
    created_date    TEXT NOT NULL,
    updated_date    TEXT NOT NULL,
    sent_date       TEXT
);
-- Workers look for due work here: small, because finished messages leave the index.
CREATE INDEX messages_due ON messages (next_attempt_at) WHERE status IN ('queued', 'sending');
CREATE INDEX messages_in_order ON messages (app_id, pk);
CREATE INDEX messages_by_contact ON messages (contact_pk);
CREATE INDEX messages_by_lease ON messages (lease_token) WHERE lease_token IS NOT NULL;
CREATE INDEX messages_by_provider_id ON messages (app_id, provider_id) WHERE provider_id IS NOT NULL;

-- Every consent change, with its source (api, keyword, provider_error, merge) and time.
CREATE TABLE consent_events (
    pk           INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id       TEXT NOT NULL,
    contact_pk   INTEGER NOT NULL REFERENCES contacts (pk) ON DELETE CASCADE,
    change       TEXT NOT NULL,
    source       TEXT NOT NULL,
    created_date TEXT NOT NULL
);
CREATE INDEX consent_events_by_contact ON consent_events (contact_pk, pk);
