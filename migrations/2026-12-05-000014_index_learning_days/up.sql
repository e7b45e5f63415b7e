-- Each batch replays its people's streaks from all their learning days.
-- This index holds exactly those rows with what the read needs (the
-- organization for the tenant policy), so the read is an index-only scan
-- instead of a heap fetch per day. first_learning_at is set once per day,
-- so the day's row stays open to HOT updates for every later event.
CREATE INDEX daily_activity_learning_days ON daily_activity (user_id, local_date)
    INCLUDE (first_learning_at, organization_id)
    WHERE first_learning_at IS NOT NULL;
