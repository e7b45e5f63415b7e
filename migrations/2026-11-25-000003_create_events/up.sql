-- Raw learning events, their idempotency ledger, and what is derived from
-- them per person: assessments, skills, daily activity. Monthly partitions.

-- Creates the missing monthly partitions <parent>_yYYYYmMM of `parent` for
-- every month from `from_month` through `to_month`; returns how many it made.
-- Idempotent: the partition upkeep job calls it ahead of time.
CREATE FUNCTION stride_ensure_monthly_partitions(parent regclass, from_month date, to_month date)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    month   date := date_trunc('month', from_month)::date;
    last    date := date_trunc('month', to_month)::date;
    part    text;
    created integer := 0;
BEGIN
    WHILE month <= last LOOP
        part := format('%s_y%sm%s', parent::text, to_char(month, 'YYYY'), to_char(month, 'MM'));
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                           part, parent, month, (month + interval '1 month')::date);
            created := created + 1;
        END IF;
        month := (month + interval '1 month')::date;
    END LOOP;
    RETURN created;
END $$;
COMMENT ON FUNCTION stride_ensure_monthly_partitions IS 'Creates missing monthly partitions (idempotent); run by partition upkeep.';

-- Drops the monthly partitions of `parent` that end on or before `before`
-- (whole months past retention); returns their names.
CREATE FUNCTION stride_drop_monthly_partitions_before(parent regclass, before date)
RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    part record;
BEGIN
    FOR part IN
        SELECT c.oid::regclass::text AS name
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = parent
           AND c.relname ~ '_y[0-9]{4}m[0-9]{2}$'
           AND to_date(substring(c.relname from '_y([0-9]{4})m[0-9]{2}$')
                       || substring(c.relname from '_y[0-9]{4}m([0-9]{2})$'), 'YYYYMM')
               + interval '1 month' <= before
    LOOP
        EXECUTE format('DROP TABLE %s', part.name);
        RETURN NEXT part.name;
    END LOOP;
END $$;
COMMENT ON FUNCTION stride_drop_monthly_partitions_before IS 'Retention: drops whole monthly partitions older than a date.';

CREATE TABLE event_receipts (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    event_id        text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 128),
    payload_hash    bytea NOT NULL CHECK (length(payload_hash) = 32),
    kind            text NOT NULL,
    user_id         uuid,
    occurred_at     timestamptz NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, event_id)
);
COMMENT ON TABLE event_receipts IS 'Idempotency ledger: one row per accepted producer event id (per tenant), with the SHA-256 of its canonical payload. Same id + same hash = duplicate; same id + other hash = conflict. Not partitioned, so the key is unique across all time.';
-- Retention purges receipts by age.
CREATE INDEX event_receipts_received ON event_receipts (received_at);

CREATE TABLE learning_events (
    id                   uuid NOT NULL DEFAULT gen_random_uuid(),
    organization_id      uuid NOT NULL,
    event_id             text NOT NULL,
    user_id              uuid NOT NULL,
    kind                 text NOT NULL CHECK (kind IN (
                             'enrollment_created', 'progress_updated', 'lesson_completed',
                             'course_completed', 'assessment_graded', 'skill_mastery_updated',
                             'practice_passed', 'learning_session', 'login', 'peer_helped',
                             'learning_path_completed')),
    occurred_at          timestamptz NOT NULL,
    received_at          timestamptz NOT NULL DEFAULT now(),
    local_date           date NOT NULL,
    is_learning_activity boolean NOT NULL,
    course_id            uuid,
    lesson_id            uuid,
    skill_id             uuid,
    payload              jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);
COMMENT ON TABLE learning_events IS 'Raw events as received, partitioned by month of occurred_at (retention drops whole months). local_date is the user''s calendar day of occurred_at. No FKs: a partitioned log must stay cheap to write and to drop; event_receipts guards uniqueness.';
-- A user''s history in time order: streaks, velocity, engagement, export.
CREATE INDEX learning_events_user_time ON learning_events (user_id, occurred_at);
-- Course-level analytics over time.
CREATE INDEX learning_events_course_time ON learning_events (course_id, occurred_at) WHERE course_id IS NOT NULL;
-- Organization-wide aggregates over time.
CREATE INDEX learning_events_org_time ON learning_events (organization_id, occurred_at);
-- Finding the stored event of a receipt.
CREATE INDEX learning_events_event_id ON learning_events (organization_id, event_id);

CREATE TABLE assessments (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    course_id       uuid REFERENCES courses (id) ON DELETE SET NULL,
    skill_id        uuid REFERENCES skills (id) ON DELETE SET NULL,
    assessment_ref  text NOT NULL DEFAULT '',
    score           double precision NOT NULL CHECK (score BETWEEN 0 AND 100),
    passed          boolean GENERATED ALWAYS AS (score >= 70) STORED,
    graded_at       timestamptz NOT NULL,
    source_event_id text NOT NULL,
    UNIQUE (organization_id, source_event_id)
);
COMMENT ON TABLE assessments IS 'Graded assessments (pass mark 70, as a generated column so no client computes it differently).';
-- Last scores of a learner (performance trend), of a course (distribution).
CREATE INDEX assessments_user_time ON assessments (user_id, graded_at);
CREATE INDEX assessments_course_time ON assessments (course_id, graded_at);

CREATE TABLE user_skills (
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    skill_id         uuid NOT NULL REFERENCES skills (id) ON DELETE CASCADE,
    organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    mastery_level    double precision NOT NULL DEFAULT 0 CHECK (mastery_level BETWEEN 0 AND 100),
    acquired_at      timestamptz NOT NULL,
    mastered_at      timestamptz,
    last_assessed_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, skill_id)
);
COMMENT ON TABLE user_skills IS 'Current mastery per user and skill; mastered_at set when mastery first reaches 80.';
-- Learners of a skill (skill demand, peer comparison).
CREATE INDEX user_skills_skill ON user_skills (skill_id);
CREATE INDEX user_skills_org ON user_skills (organization_id);

CREATE TABLE daily_activity (
    user_id             uuid NOT NULL,
    local_date          date NOT NULL,
    organization_id     uuid NOT NULL,
    first_activity_at   timestamptz NOT NULL,
    last_activity_at    timestamptz NOT NULL,
    learning_activities integer NOT NULL DEFAULT 0 CHECK (learning_activities >= 0),
    lessons_completed   integer NOT NULL DEFAULT 0 CHECK (lessons_completed >= 0),
    logins              integer NOT NULL DEFAULT 0 CHECK (logins >= 0),
    session_seconds     integer NOT NULL DEFAULT 0 CHECK (session_seconds >= 0),
    points_awarded      integer NOT NULL DEFAULT 0 CHECK (points_awarded BETWEEN 0 AND 1000),
    PRIMARY KEY (user_id, local_date)
) PARTITION BY RANGE (local_date);
COMMENT ON TABLE daily_activity IS 'One row per user and local day: the inputs of streaks, engagement and velocity, and the points paid that day (cap 1,000). Partitioned by month of local_date.';
-- Organization activity per day (org velocity, learning culture).
CREATE INDEX daily_activity_org_date ON daily_activity (organization_id, local_date);

-- Partitions: 13 months back (history, late events) to 3 ahead; upkeep adds more.
SELECT stride_ensure_monthly_partitions('learning_events', (now() - interval '13 months')::date, (now() + interval '3 months')::date);
SELECT stride_ensure_monthly_partitions('daily_activity', (now() - interval '13 months')::date, (now() + interval '3 months')::date);
-- Safety net for rows outside the prepared months (a very late or far-future
-- event): they land here instead of failing. Upkeep keeps it empty, since a
-- populated default partition blocks creating the month it overlaps.
CREATE TABLE learning_events_default PARTITION OF learning_events DEFAULT;
CREATE TABLE daily_activity_default PARTITION OF daily_activity DEFAULT;
