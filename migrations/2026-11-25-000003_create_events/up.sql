-- Raw learning events, their idempotency ledger, and what is derived from them
-- per person in the same transaction: assessments, skills, daily activity.
-- Also the monthly-partition helpers that this and later migrations use.

-- Creates the missing monthly partitions <parent>_yYYYYmMM of a table that is
-- range-partitioned on one date or timestamptz column, for every month from
-- `from_month` through `to_month`, with bounds [month, next month); a
-- timestamptz key gets UTC month boundaries whatever the session TimeZone,
-- so partitions made by different sessions never overlap or leave gaps.
-- Rows of that month already sitting in the DEFAULT partition are moved into
-- the new one (otherwise PostgreSQL refuses to create it). The partition is
-- built as a plain table and then ATTACHed, which holds only SHARE UPDATE
-- EXCLUSIVE on the parent: reads and writes of other months go on. Returns
-- the names created; idempotent (partition upkeep runs it ahead of time).
CREATE FUNCTION stride_ensure_monthly_partitions(parent regclass, from_month date, to_month date)
RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    key_column   name;
    key_type     regtype;
    schema_name  name;
    schema_oid   oid;
    base_name    name;
    default_part regclass;
    columns      text;
    month        date := date_trunc('month', from_month)::date;
    last_month   date := date_trunc('month', to_month)::date;
    part         text;
    lower_bound  text;
    upper_bound  text;
BEGIN
    SELECT a.attname, a.atttypid::regtype, n.nspname, n.oid, c.relname, nullif(p.partdefid, 0)::regclass
      INTO key_column, key_type, schema_name, schema_oid, base_name, default_part
      FROM pg_partitioned_table p
      JOIN pg_class c ON c.oid = p.partrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
     WHERE p.partrelid = parent AND p.partstrat = 'r' AND p.partnatts = 1;
    IF NOT FOUND OR key_type NOT IN ('date'::regtype, 'timestamptz'::regtype) THEN
        RAISE EXCEPTION '% is not range-partitioned on one date or timestamptz column', parent;
    END IF;
    IF length(base_name) > 55 THEN
        RAISE EXCEPTION 'partition names of % would exceed 63 bytes', parent;
    END IF;
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO columns
      FROM pg_attribute WHERE attrelid = parent AND attnum > 0 AND NOT attisdropped;

    -- Same order as ATTACH takes them; SHARE UPDATE EXCLUSIVE also serializes
    -- two upkeep runs on one table.
    EXECUTE format('LOCK TABLE %s IN SHARE UPDATE EXCLUSIVE MODE', parent);

    WHILE month <= last_month LOOP
        part := format('%s_y%sm%s', base_name, to_char(month, 'YYYY'), to_char(month, 'MM'));
        IF NOT EXISTS (SELECT 1 FROM pg_class WHERE relname = part AND relnamespace = schema_oid) THEN
            lower_bound := to_char(month, 'YYYY-MM-DD');
            upper_bound := to_char((month + interval '1 month')::date, 'YYYY-MM-DD');
            IF key_type = 'timestamptz'::regtype THEN
                lower_bound := lower_bound || ' 00:00:00+00';
                upper_bound := upper_bound || ' 00:00:00+00';
            END IF;
            EXECUTE format('CREATE TABLE %I.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION)',
                           schema_name, part, parent);
            IF default_part IS NOT NULL THEN
                EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', default_part);
                EXECUTE format('WITH moved AS (DELETE FROM %s WHERE %I >= %L AND %I < %L RETURNING %s) INSERT INTO %I.%I (%s) SELECT %s FROM moved',
                               default_part, key_column, lower_bound, key_column, upper_bound, columns,
                               schema_name, part, columns, columns);
            END IF;
            EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)',
                           parent, schema_name, part, lower_bound, upper_bound);
            RETURN NEXT part;
        END IF;
        month := (month + interval '1 month')::date;
    END LOOP;
END $$;
COMMENT ON FUNCTION stride_ensure_monthly_partitions(regclass, date, date) IS 'Partition upkeep: creates the missing monthly partitions <parent>_yYYYYmMM (UTC month bounds), moving matching rows out of the DEFAULT partition; returns their names; idempotent.';

-- Retention: drops the partitions of `parent` whose upper bound is on or
-- before `before` (midnight UTC for timestamptz keys), so only whole months
-- entirely older than the cutoff go. Reads the real bounds, not the names.
-- The DEFAULT partition is never dropped: the retention job deletes its old
-- rows. Returns the names dropped.
CREATE FUNCTION stride_drop_monthly_partitions_before(parent regclass, before date)
RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    key_type regtype;
    part     record;
    upper    text;
    is_old   boolean;
BEGIN
    SELECT a.atttypid::regtype INTO key_type
      FROM pg_partitioned_table p
      JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
     WHERE p.partrelid = parent AND p.partstrat = 'r' AND p.partnatts = 1;
    IF NOT FOUND OR key_type NOT IN ('date'::regtype, 'timestamptz'::regtype) THEN
        RAISE EXCEPTION '% is not range-partitioned on one date or timestamptz column', parent;
    END IF;
    FOR part IN
        SELECT c.oid::regclass AS rel, c.relname::text AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = parent
         ORDER BY c.relname
    LOOP
        -- "FOR VALUES FROM ('...') TO ('...')"; DEFAULT and MAXVALUE do not match.
        upper := substring(part.bound FROM 'TO \(''([^'']+)''\)$');
        CONTINUE WHEN upper IS NULL;
        IF key_type = 'date'::regtype THEN
            is_old := upper::date <= before;
        ELSE
            is_old := upper::timestamptz <= (before::timestamp AT TIME ZONE 'UTC');
        END IF;
        IF is_old THEN
            EXECUTE format('DROP TABLE %s', part.rel);
            RETURN NEXT part.name;
        END IF;
    END LOOP;
END $$;
COMMENT ON FUNCTION stride_drop_monthly_partitions_before(regclass, date) IS 'Retention: drops whole partitions entirely older than a date (never the DEFAULT one); returns their names.';

CREATE TABLE event_receipts (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    event_id        text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 128),
    payload_hash    bytea NOT NULL CHECK (length(payload_hash) = 32),
    kind            text NOT NULL CHECK (kind IN (
                        'enrollment_created', 'progress_updated', 'lesson_completed',
                        'course_completed', 'assessment_graded', 'skill_mastery_updated',
                        'practice_passed', 'learning_session', 'login', 'peer_helped',
                        'learning_path_completed')),
    user_id         uuid,
    occurred_at     timestamptz NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, event_id),
    -- Erasing a person keeps the receipt (a replayed event stays a duplicate
    -- and is not applied again) but forgets whose it was.
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id) ON DELETE SET NULL (user_id)
);
COMMENT ON TABLE event_receipts IS 'Idempotency ledger: one row per accepted producer event id (per tenant) with the SHA-256 of its canonical payload. Same id + same hash = duplicate; same id + other hash = conflict, nothing applied. Not partitioned, so the key is unique across all time; kept longer than the raw events (a receipt purged too early lets a late replay apply again).';
COMMENT ON COLUMN event_receipts.payload_hash IS 'SHA-256 (32 bytes) of the canonical JSON payload. A duplicate must also match kind, user_id and occurred_at, which the receipt keeps beside the hash.';
-- The primary key is the duplicate check of every ingested event.
-- Receipt retention purges by age.
CREATE INDEX event_receipts_received ON event_receipts (received_at);
-- Export and erasure of one person; clearing user_id when the person is deleted.
CREATE INDEX event_receipts_user ON event_receipts (user_id) WHERE user_id IS NOT NULL;

CREATE TABLE learning_events (
    id                   uuid NOT NULL DEFAULT gen_random_uuid(),
    organization_id      uuid NOT NULL,
    event_id             text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 128),
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
    payload              jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(payload) = 'object'),
    -- A unique key of a partitioned table must contain the partition key.
    PRIMARY KEY (id, occurred_at),
    -- One stored event per producer id: event_receipts enforces it across all
    -- time; here occurred_at must join the key, which is still exact because
    -- an event id has exactly one occurred_at (the receipt records it, and a
    -- retry with another one is a conflict, never applied). Also finds the
    -- stored event of a receipt.
    CONSTRAINT learning_events_event UNIQUE (organization_id, event_id, occurred_at),
    -- SPEC "learning activity", fixed here so no writer classifies differently.
    -- learning_path_completed counts (it is completed learning, and always
    -- comes with a course completion); peer_helped does not.
    CONSTRAINT learning_events_learning_activity CHECK (is_learning_activity = (kind IN (
        'progress_updated', 'lesson_completed', 'course_completed', 'assessment_graded',
        'skill_mastery_updated', 'practice_passed', 'learning_path_completed'))),
    -- Every zone is within UTC-12..UTC+14, so the local day is the UTC day +/- 1:
    -- catches a writer that stored a date from the wrong clock.
    CONSTRAINT learning_events_local_date CHECK (local_date BETWEEN (occurred_at AT TIME ZONE 'UTC')::date - 1
                                                     AND (occurred_at AT TIME ZONE 'UTC')::date + 1),
    -- Erasing a person deletes their events (partition by partition, via the
    -- user index below).
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id) ON DELETE CASCADE
) PARTITION BY RANGE (occurred_at);
COMMENT ON TABLE learning_events IS 'Raw events as received, partitioned by month of occurred_at (retention drops whole months, 90 days by default). local_date is the person''s calendar day of occurred_at. course_id, lesson_id and skill_id are copied out of the payload for indexing and are not foreign keys: the log records what producers said, and catalogue deletions must not rewrite it.';
COMMENT ON COLUMN learning_events.local_date IS 'Calendar day of occurred_at in the person''s time zone at ingestion (computed by the service).';
-- A person's history in time order: streaks, velocity, engagement, export, erasure cascade.
CREATE INDEX learning_events_user_time ON learning_events (user_id, occurred_at);
-- Organization-wide aggregates over a time range.
CREATE INDEX learning_events_org_time ON learning_events (organization_id, occurred_at);
-- Course-level analytics over time (content effectiveness, course health).
CREATE INDEX learning_events_course_time ON learning_events (course_id, occurred_at) WHERE course_id IS NOT NULL;

CREATE TABLE assessments (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL,
    user_id         uuid NOT NULL,
    course_id       uuid,
    skill_id        uuid REFERENCES skills (id) ON DELETE SET NULL,
    assessment_ref  text NOT NULL DEFAULT '' CHECK (length(assessment_ref) <= 200),
    score           double precision NOT NULL CHECK (score BETWEEN 0 AND 100),
    passed          boolean GENERATED ALWAYS AS (score >= 70) STORED,
    graded_at       timestamptz NOT NULL,
    source_event_id text NOT NULL CHECK (length(source_event_id) BETWEEN 1 AND 128),
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- One assessment row per assessment_graded event.
    UNIQUE (organization_id, source_event_id),
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, course_id) REFERENCES courses (organization_id, id) ON DELETE SET NULL (course_id)
);
COMMENT ON TABLE assessments IS 'Graded assessments. passed is generated (score >= 70, the pass mark) so no client applies another one. Kept after the raw event is purged: performance analytics need the history.';
COMMENT ON COLUMN assessments.assessment_ref IS 'The producer''s id of the assessment (several attempts share it).';
-- A learner's last scores (performance trend over the last 10); erasure cascade.
CREATE INDEX assessments_user_time ON assessments (user_id, graded_at DESC);
-- A course's scores (distribution, course performance); clearing course_id.
CREATE INDEX assessments_course_time ON assessments (course_id, graded_at) WHERE course_id IS NOT NULL;
-- Organization performance over time.
CREATE INDEX assessments_org_time ON assessments (organization_id, graded_at);
-- Clearing skill_id when a skill is deleted; scores per skill.
CREATE INDEX assessments_skill ON assessments (skill_id) WHERE skill_id IS NOT NULL;

CREATE TABLE user_skills (
    user_id          uuid NOT NULL,
    skill_id         uuid NOT NULL REFERENCES skills (id) ON DELETE CASCADE,
    organization_id  uuid NOT NULL,
    mastery_level    double precision NOT NULL DEFAULT 0 CHECK (mastery_level BETWEEN 0 AND 100),
    acquired_at      timestamptz NOT NULL,
    mastered_at      timestamptz,
    last_assessed_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, skill_id),
    CONSTRAINT user_skills_mastered_after_acquired CHECK (mastered_at >= acquired_at),
    CONSTRAINT user_skills_assessed_after_acquired CHECK (last_assessed_at >= acquired_at),
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE user_skills IS 'Current mastery per person and skill. acquired_at: first event about the skill; mastered_at: first time mastery reached 80 (kept if it later drops); last_assessed_at: latest mastery update.';
-- Learners of a skill (skill demand refresh, peer comparison); cascades from skills.
CREATE INDEX user_skills_skill ON user_skills (skill_id);
-- An organization's learning per skill (strategic alignment, culture).
CREATE INDEX user_skills_org_skill ON user_skills (organization_id, skill_id);

CREATE TABLE daily_activity (
    user_id             uuid NOT NULL,
    local_date          date NOT NULL,
    organization_id     uuid NOT NULL,
    first_activity_at   timestamptz NOT NULL,
    last_activity_at    timestamptz NOT NULL,
    first_learning_at   timestamptz,
    learning_activities integer NOT NULL DEFAULT 0 CHECK (learning_activities >= 0),
    lessons_completed   integer NOT NULL DEFAULT 0 CHECK (lessons_completed >= 0),
    logins              integer NOT NULL DEFAULT 0 CHECK (logins >= 0),
    session_seconds     integer NOT NULL DEFAULT 0 CHECK (session_seconds >= 0),
    points_awarded      integer NOT NULL DEFAULT 0 CHECK (points_awarded >= 0),
    points_capped       integer NOT NULL DEFAULT 0 CHECK (points_capped >= 0),
    -- One row per person and local day (local_date is the partition key).
    PRIMARY KEY (user_id, local_date),
    CONSTRAINT daily_activity_first_last CHECK (first_activity_at <= last_activity_at),
    CONSTRAINT daily_activity_first_learning CHECK (first_learning_at IS NULL OR learning_activities > 0),
    CONSTRAINT daily_activity_local_date CHECK (local_date BETWEEN (first_activity_at AT TIME ZONE 'UTC')::date - 1
                                                    AND (first_activity_at AT TIME ZONE 'UTC')::date + 1),
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id) ON DELETE CASCADE
) PARTITION BY RANGE (local_date);
COMMENT ON TABLE daily_activity IS 'One row per person and local day: the inputs of streaks, engagement and velocity, and the points paid and capped that day. Partitioned by month of local_date; kept as long as streaks must be recomputable (longer than the raw events).';
COMMENT ON COLUMN daily_activity.first_learning_at IS 'occurred_at of the day''s first learning activity: when the streak day pays (NULL: no learning that day, or not recorded).';
COMMENT ON COLUMN daily_activity.points_awarded IS 'Points paid for this local day, for the daily cap (point_rules daily_cap); points_capped: what the cap withheld.';
-- Organization activity per day: organization velocity, learning culture, participation.
CREATE INDEX daily_activity_org_date ON daily_activity (organization_id, local_date);

-- Partitions: 13 months back (history, late events) to 3 ahead; upkeep adds
-- more. The DEFAULT partitions are a safety net for rows outside the prepared
-- months (a very late or far-future event lands there instead of failing the
-- ingestion transaction). The price: while a DEFAULT partition holds rows,
-- creating their month must move them (stride_ensure_monthly_partitions
-- does), and every new partition scans the DEFAULT one; upkeep keeps it
-- empty, so both stay cheap.
SELECT stride_ensure_monthly_partitions('learning_events', (now() - interval '13 months')::date, (now() + interval '3 months')::date);
SELECT stride_ensure_monthly_partitions('daily_activity', (now() - interval '13 months')::date, (now() + interval '3 months')::date);
CREATE TABLE learning_events_default PARTITION OF learning_events DEFAULT;
CREATE TABLE daily_activity_default PARTITION OF daily_activity DEFAULT;
