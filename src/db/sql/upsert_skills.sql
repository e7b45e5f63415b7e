-- Merges a batch's skill observations: the latest sets the mastery (ties:
-- the higher), acquired and mastered keep their earliest time.
INSERT INTO user_skills AS s (user_id, skill_id, organization_id, mastery_level, acquired_at,
                              mastered_at, last_assessed_at)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::float8[], $5::timestamptz[],
                     $6::timestamptz[], $7::timestamptz[])
ON CONFLICT (user_id, skill_id) DO UPDATE SET
    mastery_level = CASE
        WHEN excluded.last_assessed_at > s.last_assessed_at
          OR (excluded.last_assessed_at = s.last_assessed_at AND excluded.mastery_level > s.mastery_level)
        THEN excluded.mastery_level ELSE s.mastery_level END,
    last_assessed_at = GREATEST(s.last_assessed_at, excluded.last_assessed_at),
    acquired_at = LEAST(s.acquired_at, excluded.acquired_at),
    mastered_at = LEAST(s.mastered_at, excluded.mastered_at)
