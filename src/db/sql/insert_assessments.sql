-- A batch's graded assessments (one per assessment event).
INSERT INTO assessments (organization_id, user_id, course_id, skill_id, assessment_ref, score,
                         graded_at, source_event_id)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::float8[],
                     $7::timestamptz[], $8::text[])
ON CONFLICT (organization_id, source_event_id) DO NOTHING
