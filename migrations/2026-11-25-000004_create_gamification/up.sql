-- Points ledger with versioned rules, per-person totals and counters, streak
-- freezes, and achievements whose criteria are data.

CREATE TABLE point_rules (
    rule_id     text NOT NULL CHECK (rule_id ~ '^[a-z0-9_]{1,64}$'),
    version     integer NOT NULL CHECK (version >= 1),
    calculation text NOT NULL DEFAULT 'fixed' CHECK (calculation IN ('fixed', 'score', 'cap')),
    points      integer CHECK (points >= 0),
    description text NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rule_id, version),
    -- 'score' pays the event's score (0-100), so it has no fixed amount;
    -- 'fixed' pays `points`; 'cap' is a limit (points per local day), not an award.
    CONSTRAINT point_rules_points CHECK ((calculation = 'score') = (points IS NULL))
);
COMMENT ON TABLE point_rules IS 'Versioned point rules. A change is a new version row (the old one inactive), never an update: ledger rows name the version that paid them, so history and recomputation stay explainable.';
COMMENT ON COLUMN point_rules.calculation IS 'fixed: pays points; score: pays the assessment score (points NULL); cap: not an award but the most points per person and local day.';
-- At most one active version per rule: what ingestion pays now.
CREATE UNIQUE INDEX point_rules_one_active ON point_rules (rule_id) WHERE active;

-- Streak milestones pay a one-time bonus; the SPEC names milestones without
-- an amount: 50/200/500/2,000 keep them visible without dwarfing the daily cap.
INSERT INTO point_rules (rule_id, version, calculation, points, description) VALUES
    ('course_completed',     1, 'fixed', 100,  'Course completed'),
    ('skill_acquired',       1, 'fixed', 50,   'Skill acquired'),
    ('assessment_graded',    1, 'score', NULL, 'Assessment graded: the score, 0-100'),
    ('practice_passed',      1, 'fixed', 10,   'Practice exercise passed'),
    ('streak_day',           1, 'fixed', 10,   'Each streak day, paid at the day''s first learning activity'),
    ('streak_milestone_7',   1, 'fixed', 50,   'Streak milestone: 7 days (paid once per person)'),
    ('streak_milestone_30',  1, 'fixed', 200,  'Streak milestone: 30 days (paid once per person)'),
    ('streak_milestone_90',  1, 'fixed', 500,  'Streak milestone: 90 days (paid once per person)'),
    ('streak_milestone_365', 1, 'fixed', 2000, 'Streak milestone: 365 days (paid once per person)'),
    ('daily_cap',            1, 'cap',   1000, 'Most points per person per local day; the excess is recorded as capped');

CREATE TABLE point_transactions (
    id              uuid NOT NULL DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL,
    user_id         uuid NOT NULL,
    rule_id         text NOT NULL,
    rule_version    integer NOT NULL,
    source_key      text NOT NULL CHECK (length(source_key) BETWEEN 1 AND 200),
    course_id       uuid,
    occurred_at     timestamptz NOT NULL,
    local_date      date NOT NULL,
    points_awarded  integer NOT NULL CHECK (points_awarded >= 0),
    points_capped   integer NOT NULL DEFAULT 0 CHECK (points_capped >= 0),
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- A unique key of a partitioned table must contain the partition key.
    PRIMARY KEY (id, occurred_at),
    -- One payment per (source, rule, version): an event can never pay twice.
    -- occurred_at has to be in the key (partition key), which keeps it exact
    -- for event sources: an event id has one fixed occurred_at (event_receipts
    -- rejects a retry with another). A streak day ('streak:<local date>')
    -- pays at that day's first learning activity, which a late, earlier event
    -- can move: the writer then updates the row (under the person's
    -- user_points lock) instead of inserting a second one.
    CONSTRAINT point_transactions_once UNIQUE (organization_id, user_id, source_key, rule_id, rule_version, occurred_at),
    FOREIGN KEY (rule_id, rule_version) REFERENCES point_rules (rule_id, version),
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT point_transactions_local_date CHECK (local_date BETWEEN (occurred_at AT TIME ZONE 'UTC')::date - 1
                                                        AND (occurred_at AT TIME ZONE 'UTC')::date + 1)
) PARTITION BY RANGE (occurred_at);
COMMENT ON TABLE point_transactions IS 'The points ledger: one row per award, tied to its source (event id, or e.g. streak:2026-01-05, streak_milestone:7) and rule version. points_awarded is what counts; points_capped what the daily cap withheld (recorded, not dropped). Partitioned by month of occurred_at.';
COMMENT ON COLUMN point_transactions.course_id IS 'Course the award came from (NULL for streaks and course-less events): course-scope leaderboards.';
COMMENT ON COLUMN point_transactions.local_date IS 'The person''s local day of occurred_at: the day whose cap applies.';
-- Leaderboard refresh and the live delta since the last refresh: an
-- organization's awards in a time range, answered from the index alone.
CREATE INDEX point_transactions_org_time ON point_transactions (organization_id, occurred_at) INCLUDE (user_id, points_awarded);
-- A person's recent ledger (profile), newest first; erasure cascade.
CREATE INDEX point_transactions_user_time ON point_transactions (user_id, occurred_at DESC);
-- Course-scope leaderboards.
CREATE INDEX point_transactions_course_time ON point_transactions (course_id, occurred_at) INCLUDE (user_id, points_awarded) WHERE course_id IS NOT NULL;

CREATE TABLE user_points (
    user_id           uuid PRIMARY KEY,
    organization_id   uuid NOT NULL,
    total_points      bigint NOT NULL DEFAULT 0 CHECK (total_points >= 0),
    capped_points     bigint NOT NULL DEFAULT 0 CHECK (capped_points >= 0),
    total_reached_at  timestamptz,
    level             integer NOT NULL DEFAULT 1 CHECK (level >= 1),
    current_streak    integer NOT NULL DEFAULT 0 CHECK (current_streak >= 0),
    longest_streak    integer NOT NULL DEFAULT 0 CHECK (longest_streak >= current_streak),
    last_active_date  date,
    freezes_held      smallint NOT NULL DEFAULT 0 CHECK (freezes_held BETWEEN 0 AND 3),
    courses_completed integer NOT NULL DEFAULT 0 CHECK (courses_completed >= 0),
    lessons_completed integer NOT NULL DEFAULT 0 CHECK (lessons_completed >= 0),
    skills_acquired   integer NOT NULL DEFAULT 0 CHECK (skills_acquired >= 0),
    paths_completed   integer NOT NULL DEFAULT 0 CHECK (paths_completed >= 0),
    domains_mastered  integer NOT NULL DEFAULT 0 CHECK (domains_mastered >= 0),
    peers_helped      integer NOT NULL DEFAULT 0 CHECK (peers_helped >= 0),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    -- A person with points has a time they reached them.
    CONSTRAINT user_points_reached_at CHECK (total_points = 0 OR total_reached_at IS NOT NULL),
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE user_points IS 'Per-person state derived from the ledger and events (rebuildable by recompute): points, level, streaks, freezes held, and the counters achievement criteria read (criteria metrics are these column names). Ingestion locks this row to serialize one person''s awards (daily cap, streaks).';
COMMENT ON COLUMN user_points.total_reached_at IS 'occurred_at of the latest award that changed total_points: the all-time tie-break (earlier first).';
COMMENT ON COLUMN user_points.last_active_date IS 'Latest local day with learning activity; the streak is current when it is today or yesterday.';
COMMENT ON COLUMN user_points.domains_mastered IS 'Domains whose every skill the person has mastered (>= 80): the Master achievement.';
-- Live all-time organization leaderboard straight from the totals, in board
-- order (points desc, earlier reach, user id).
CREATE INDEX user_points_org_board ON user_points (organization_id, total_points DESC, total_reached_at, user_id);
CREATE TRIGGER user_points_touch BEFORE UPDATE ON user_points
    FOR EACH ROW EXECUTE FUNCTION stride_touch_updated_at();

CREATE TABLE streak_freeze_events (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL,
    organization_id uuid NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('earned', 'spent', 'lost')),
    local_date      date NOT NULL,
    source_key      text NOT NULL CHECK (length(source_key) BETWEEN 1 AND 200),
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- Each freeze fact is recorded once (earned by the 10th course: source is
    -- that completion event; spent: the bridged day).
    UNIQUE (user_id, kind, local_date, source_key),
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE streak_freeze_events IS 'Freeze history: earned (every 10th completed course), spent (bridged exactly one missed day between two active days), lost (earned while 3 were held). user_points.freezes_held is the running balance.';
-- The unique key (user_id first) serves a person's freeze history and the erasure cascade.

CREATE TABLE achievements (
    id              text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_.:-]{0,63}$'),
    organization_id uuid REFERENCES organizations (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description     text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    icon            text CHECK (length(icon) <= 32),
    tier            text NOT NULL CHECK (tier IN ('beginner', 'intermediate', 'advanced', 'elite')),
    criteria        jsonb NOT NULL CHECK (jsonb_typeof(criteria) = 'object'),
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE achievements IS 'Achievement definitions; organization_id NULL = platform-wide, else added by that organization''s admins (ids namespaced by the service, e.g. <org>:<slug>). criteria is data: {"metric": <user_points counter>, "gte": <target>}, validated by the service.';
COMMENT ON COLUMN achievements.active IS 'Inactive achievements are no longer awarded; those already earned stay.';
-- Achievements visible to an organization (its own plus platform ones).
CREATE INDEX achievements_org ON achievements (organization_id);
CREATE TRIGGER achievements_touch BEFORE UPDATE ON achievements
    FOR EACH ROW EXECUTE FUNCTION stride_touch_updated_at();

INSERT INTO achievements (id, name, description, icon, tier, criteria) VALUES
    ('first_steps',        'First Steps',        'Complete your first course',      '👣', 'beginner',     '{"metric": "courses_completed", "gte": 1}'),
    ('bookworm',           'Bookworm',           'Complete 5 lessons',              '📚', 'beginner',     '{"metric": "lessons_completed", "gte": 5}'),
    ('on_fire',            'On Fire',            'Reach a 3-day streak',            '🔥', 'beginner',     '{"metric": "longest_streak", "gte": 3}'),
    ('accelerator',        'Accelerator',        'Complete 10 courses',             '🚀', 'intermediate', '{"metric": "courses_completed", "gte": 10}'),
    ('skill_collector',    'Skill Collector',    'Acquire 5 skills',                '🧩', 'intermediate', '{"metric": "skills_acquired", "gte": 5}'),
    ('consistent_learner', 'Consistent Learner', 'Reach a 30-day streak',           '📅', 'intermediate', '{"metric": "longest_streak", "gte": 30}'),
    ('expert',             'Expert',             'Acquire 20 skills',               '🎓', 'advanced',     '{"metric": "skills_acquired", "gte": 20}'),
    ('visionary',          'Visionary',          'Complete a learning path',        '🔭', 'advanced',     '{"metric": "paths_completed", "gte": 1}'),
    ('lightning',          'Lightning',          'Reach a 100-day streak',          '⚡', 'advanced',     '{"metric": "longest_streak", "gte": 100}'),
    ('master',             'Master',             'Master every skill of a domain',  '🏆', 'elite',        '{"metric": "domains_mastered", "gte": 1}'),
    ('legend',             'Legend',             'Reach a 365-day streak',          '👑', 'elite',        '{"metric": "longest_streak", "gte": 365}'),
    ('mentor',             'Mentor',             'Help 50 peers',                   '🤝', 'elite',        '{"metric": "peers_helped", "gte": 50}');

CREATE TABLE user_achievements (
    user_id         uuid NOT NULL,
    achievement_id  text NOT NULL REFERENCES achievements (id) ON DELETE CASCADE,
    organization_id uuid NOT NULL,
    earned_at       timestamptz NOT NULL,
    source_key      text NOT NULL CHECK (length(source_key) BETWEEN 1 AND 200),
    -- Each achievement is earned at most once per person.
    PRIMARY KEY (user_id, achievement_id),
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE user_achievements IS 'Achievements earned, at most once per person; source_key names what triggered it (an event id or a recompute).';
-- "Who earned this" within an organization; cascades from achievements.
CREATE INDEX user_achievements_achievement ON user_achievements (achievement_id, organization_id);

SELECT stride_ensure_monthly_partitions('point_transactions', (now() - interval '13 months')::date, (now() + interval '3 months')::date);
-- Safety net for awards outside the prepared months (see create_events).
CREATE TABLE point_transactions_default PARTITION OF point_transactions DEFAULT;
