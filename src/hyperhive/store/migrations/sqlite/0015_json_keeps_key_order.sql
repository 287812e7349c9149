-- Nothing to do on SQLite: it stores JSON payloads as the text they were written as (on PostgreSQL this
-- migration turns JSONB payloads into JSON, which keeps their keys' order).
SELECT 1;
