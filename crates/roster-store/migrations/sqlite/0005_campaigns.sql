-- Campaigns: one message to an audience, fanned out into the outbox in batches.

CREATE TABLE campaigns (
    pk             INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id         TEXT NOT NULL,
    public_id      TEXT NOT NULL UNIQUE,
    id             TEXT NOT NULL,
    name           TEXT NOT NULL,
    channel        TEXT NOT NULL,
    subject        TEXT,
    body           TEXT NOT NULL,
    from_addr      TEXT NOT NULL,
    from_name      TEXT,
    -- The audience filters as JSON.
    audience       TEXT NOT NULL,
    status         TEXT NOT NULL,
    scheduled_date TEXT,
    started_date   TEXT,
    sent_date      TEXT,
    -- Fan-out progress: contacts up to this pk have been given a message or skipped.
    cursor_pk      INTEGER NOT NULL DEFAULT 0,
    -- The audience: contacts up to this pk (the newest when the campaign started).
    last_contact_pk INTEGER,
    created_date   TEXT NOT NULL,
    updated_date   TEXT NOT NULL,
    UNIQUE (app_id, id)
);
CREATE INDEX campaigns_due ON campaigns (updated_date) WHERE status IN ('scheduled', 'sending');

-- A campaign's messages carry it; the unique key makes a second message to the same
-- contact impossible, whatever a crash or a second node does.
ALTER TABLE messages ADD COLUMN campaign_pk INTEGER REFERENCES campaigns (pk) ON DELETE CASCADE;
CREATE UNIQUE INDEX messages_once_per_campaign ON messages (campaign_pk, contact_pk)
    WHERE campaign_pk IS NOT NULL;
-- ...and none to the same address twice (two records of one member).
CREATE UNIQUE INDEX messages_once_per_address ON messages (campaign_pk, to_addr)
    WHERE campaign_pk IS NOT NULL;

-- Audience members who got no message, and why.
CREATE TABLE campaign_skips (
    campaign_pk INTEGER NOT NULL REFERENCES campaigns (pk) ON DELETE CASCADE,
    contact_pk  INTEGER NOT NULL REFERENCES contacts (pk) ON DELETE CASCADE,
    reason      TEXT NOT NULL,
    PRIMARY KEY (campaign_pk, contact_pk)
);

-- The next free send slot of an app and channel: campaign messages are spaced by the
-- app's send rate, across campaigns and nodes.
CREATE TABLE send_slots (
    app_id    TEXT NOT NULL,
    channel   TEXT NOT NULL,
    next_slot TEXT NOT NULL,
    PRIMARY KEY (app_id, channel)
);
