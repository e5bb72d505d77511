-- A contact's last visit and last location are read from its visit events
-- (events_by_contact, newest first) instead of being copied onto the contact row.
-- A visit no longer rewrites the contact, its row and its contacts_by_updated entry: with
-- SQLite's single writer those random page writes bounded newEvent's throughput. Merges,
-- re-sent events that change contact and deleted events need no bookkeeping either.
ALTER TABLE contacts DROP COLUMN last_visit_date;
ALTER TABLE contacts DROP COLUMN last_location;
