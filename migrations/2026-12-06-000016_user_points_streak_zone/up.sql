-- The time zone a person's stored streak was computed in. Ingestion goes on
-- from the stored streak only in that zone: completions are dated in the
-- person's zone, so after a zone change the next batch replays the history
-- once. NULL (rows from before this column) also replays once.
ALTER TABLE user_points ADD COLUMN streak_zone text;
COMMENT ON COLUMN user_points.streak_zone IS 'Time zone the stored streak (current/longest, last active day, freezes held) was computed in; a batch resumes it only in the same zone, else replays the history.';
