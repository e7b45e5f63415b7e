-- Ingestion looks up a person's once-per-thing awards (courses, skills,
-- streak milestones) on every batch; their rows may lie in any month. This
-- partial index holds only those few rows per person, so the lookup no
-- longer reads every award the person ever had. (Streak-day and per-event
-- awards are found among the rows of the batch's days instead.)
CREATE INDEX point_transactions_user_thing ON point_transactions (user_id)
    WHERE source_key LIKE 'course:%' OR source_key LIKE 'skill:%' OR source_key LIKE 'streak_milestone:%';
