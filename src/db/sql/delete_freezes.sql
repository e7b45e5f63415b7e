-- Freeze facts a replayed streak no longer has: ($1 person, $2 kind,
-- $3 local day, $4 source key), each matched by the unique key.
DELETE FROM streak_freeze_events f
 USING unnest($1::uuid[], $2::text[], $3::date[], $4::text[]) AS d(user_id, kind, local_date, source_key)
 WHERE f.user_id = d.user_id AND f.kind = d.kind
   AND f.local_date = d.local_date AND f.source_key = d.source_key
