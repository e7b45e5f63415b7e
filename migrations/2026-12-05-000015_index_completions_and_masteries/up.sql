-- Each batch reads its people's completed courses (freezes, achievements)
-- and mastered skills (skill awards, domains): covering partial indexes
-- hold exactly those rows with what the reads need (the organization for
-- the tenant policy), so both are index-only scans. completed_at and
-- mastered_at are set once, so progress and score updates stay HOT.
CREATE INDEX enrollments_completed ON enrollments (user_id)
    INCLUDE (course_id, completed_at, organization_id)
    WHERE completed_at IS NOT NULL;
CREATE INDEX user_skills_mastered ON user_skills (user_id)
    INCLUDE (skill_id, mastered_at, organization_id)
    WHERE mastered_at IS NOT NULL;
