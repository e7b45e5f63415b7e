-- Adds each (person, day) delta of a batch to the stored day: counts add
-- up, first/last times take the earlier/later. Returns the learning days
-- as merged (the streak goes on from them).
INSERT INTO daily_activity AS d (user_id, local_date, organization_id, first_activity_at,
                                 last_activity_at, first_learning_at, learning_activities,
                                 lessons_completed, logins, session_seconds)
SELECT * FROM unnest($1::uuid[], $2::date[], $3::uuid[], $4::timestamptz[], $5::timestamptz[],
                     $6::timestamptz[], $7::int4[], $8::int4[], $9::int4[], $10::int4[])
ON CONFLICT (user_id, local_date) DO UPDATE SET
    first_activity_at = LEAST(d.first_activity_at, excluded.first_activity_at),
    last_activity_at = GREATEST(d.last_activity_at, excluded.last_activity_at),
    first_learning_at = LEAST(d.first_learning_at, excluded.first_learning_at),
    learning_activities = d.learning_activities + excluded.learning_activities,
    lessons_completed = d.lessons_completed + excluded.lessons_completed,
    logins = d.logins + excluded.logins,
    session_seconds = d.session_seconds + excluded.session_seconds
RETURNING user_id, local_date, first_learning_at
