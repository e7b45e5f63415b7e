-- A batch's receipts, one row per array element (the arrays come sorted
-- by key, so concurrent batches lock keys in the same order); returns the
-- keys inserted. A key stored before, or held by a concurrent batch that
-- then commits, is not. Fixed text over arrays: prepared once per
-- connection whatever the batch size (a multi-row VALUES is not).
INSERT INTO event_receipts (organization_id, event_id, payload_hash, kind, user_id, occurred_at)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::text[], $5::uuid[], $6::timestamptz[])
ON CONFLICT DO NOTHING
RETURNING organization_id, event_id
