-- A batch's accepted events, one row per array element.
INSERT INTO learning_events (organization_id, event_id, user_id, kind, occurred_at, local_date,
                             is_learning_activity, course_id, lesson_id, skill_id, payload)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::timestamptz[], $6::date[],
                     $7::bool[], $8::uuid[], $9::uuid[], $10::uuid[], $11::jsonb[])
