-- Creates or advances a batch's enrollments: enrolled at the earliest
-- event, progress only upwards, completed at the earliest completion.
INSERT INTO enrollments AS e (id, user_id, course_id, organization_id, status, progress_percent,
                              enrolled_at, last_progress_at, completed_at)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::float8[],
                     $7::timestamptz[], $8::timestamptz[], $9::timestamptz[])
ON CONFLICT (user_id, course_id) DO UPDATE SET
    enrolled_at = LEAST(e.enrolled_at, excluded.enrolled_at),
    progress_percent = GREATEST(e.progress_percent, excluded.progress_percent),
    last_progress_at = GREATEST(e.last_progress_at, excluded.last_progress_at),
    completed_at = LEAST(e.completed_at, excluded.completed_at),
    status = CASE WHEN excluded.completed_at IS NOT NULL THEN 'completed' ELSE e.status END
