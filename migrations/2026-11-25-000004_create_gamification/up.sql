-- Points ledger with versioned rules, per-user totals, streak freezes and
-- achievements (criteria as data).

CREATE TABLE point_rules (
    rule_id     text NOT NULL CHECK (rule_id ~ '^[a-z0-9_]{1,64}$'),
    version     integer NOT NULL CHECK (version >= 1),
    points      integer CHECK (points >= 0),
    description text NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rule_id, version)
);
COMMENT ON TABLE point_rules IS 'Versioned point rules. points NULL means "the event''s score" (assessment_graded). A new version is a new row; ledger rows name the version that paid them.';
-- One active version per rule.
CREATE UNIQUE INDEX point_rules_one_active ON point_rules (rule_id) WHERE active;

INSERT INTO point_rules (rule_id, version, points, description) VALUES
    ('course_completed',   1, 100,  'Course completed'),
    ('skill_acquired',     1, 50,   'Skill acquired'),
    ('assessment_graded',  1, NULL, 'Assessment graded: the score, 0-100'),
    ('practice_passed',    1, 10,   'Practice exercise passed'),
    ('streak_day',         1, 10,   'Each streak day, at the day''s first learning activity'),
    ('streak_milestone_7',   1, 50,   'Streak milestone: 7 days'),
    ('streak_milestone_30',  1, 200,  'Streak milestone: 30 days'),
    ('streak_milestone_90',  1, 500,  'Streak milestone: 90 days'),
    ('streak_milestone_365', 1, 2000, 'Streak milestone: 365 days'),
    ('daily_cap',          1, 1000, 'Most points per user per local day; the excess is recorded as capped');

CREATE TABLE point_transactions (
    id              uuid NOT NULL DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL,
    user_id         uuid NOT NULL,
    rule_id         text NOT NULL,
    rule_version    integer NOT NULL,
    source_key      text NOT NULL CHECK (length(source_key) BETWEEN 1 AND 200),
    occurred_at     timestamptz NOT NULL,
    local_date      date NOT NULL,
    points_awarded  integer NOT NULL CHECK (points_awarded >= 0),
    points_capped   integer NOT NULL DEFAULT 0 CHECK (points_capped >= 0),
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, occurred_at),
    FOREIGN KEY (rule_id, rule_version) REFERENCES point_rules (rule_id, version),
    -- One payment per (source, rule, version). occurred_at must be part of any
    -- unique key of a partitioned table; a source (an event, a streak day) has
    -- one fixed occurred_at, so this still forbids paying it twice.
    UNIQUE (organization_id, user_id, source_key, rule_id, rule_version, occurred_at)
) PARTITION BY RANGE (occurred_at);
COMMENT ON TABLE point_transactions IS 'The points ledger: one row per award, tied to its source (event id, or e.g. streak:2026-01-05) and rule version. points_capped is what the daily cap withheld. Partitioned by month.';
-- Period leaderboards sum an organization''s awards over a time range.
CREATE INDEX point_transactions_org_time ON point_transactions (organization_id, occurred_at);
-- A user''s recent ledger (profile), newest first.
CREATE INDEX point_transactions_user_time ON point_transactions (user_id, occurred_at DESC);

CREATE TABLE user_points (
    user_id           uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    organization_id   uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    total_points      bigint NOT NULL DEFAULT 0 CHECK (total_points >= 0),
    capped_points     bigint NOT NULL DEFAULT 0 CHECK (capped_points >= 0),
    level             integer NOT NULL DEFAULT 1 CHECK (level >= 1),
    current_streak    integer NOT NULL DEFAULT 0 CHECK (current_streak >= 0),
    longest_streak    integer NOT NULL DEFAULT 0 CHECK (longest_streak >= current_streak),
    last_active_date  date,
    freezes_held      smallint NOT NULL DEFAULT 0 CHECK (freezes_held BETWEEN 0 AND 3),
    courses_completed integer NOT NULL DEFAULT 0 CHECK (courses_completed >= 0),
    lessons_completed integer NOT NULL DEFAULT 0 CHECK (lessons_completed >= 0),
    skills_acquired   integer NOT NULL DEFAULT 0 CHECK (skills_acquired >= 0),
    paths_completed   integer NOT NULL DEFAULT 0 CHECK (paths_completed >= 0),
    peers_helped      integer NOT NULL DEFAULT 0 CHECK (peers_helped >= 0),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE user_points IS 'Per-user totals derived from the ledger and events (rebuildable by recompute): points, level, streaks, freezes, and the counters achievement criteria read.';
-- All-time org leaderboard straight from the totals.
CREATE INDEX user_points_org_total ON user_points (organization_id, total_points DESC);

CREATE TABLE streak_freeze_events (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('earned', 'spent', 'lost')),
    local_date      date NOT NULL,
    source_key      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, kind, local_date, source_key)
);
COMMENT ON TABLE streak_freeze_events IS 'Freeze history: earned (every 10th completed course), spent (bridged one missed day), lost (earned while 3 were held).';

CREATE TABLE achievements (
    id              text PRIMARY KEY CHECK (id ~ '^[a-z0-9_]{1,64}$'),
    organization_id uuid REFERENCES organizations (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description     text NOT NULL DEFAULT '',
    icon            text,
    tier            text NOT NULL CHECK (tier IN ('beginner', 'intermediate', 'advanced', 'elite')),
    criteria        jsonb NOT NULL CHECK (jsonb_typeof(criteria) = 'object'),
    created_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE achievements IS 'Achievement definitions; organization_id NULL = platform-wide. criteria is data: {"metric": <counter>, "gte": <target>}.';
CREATE INDEX achievements_org ON achievements (organization_id);

INSERT INTO achievements (id, name, description, icon, tier, criteria) VALUES
    ('first_steps', 'First Steps', 'Complete your first course', '👣', 'beginner', '{"metric": "courses_completed", "gte": 1}'),
    ('bookworm', 'Bookworm', 'Complete 5 lessons', '📚', 'beginner', '{"metric": "lessons_completed", "gte": 5}'),
    ('on_fire', 'On Fire', 'Reach a 3-day streak', '🔥', 'beginner', '{"metric": "longest_streak", "gte": 3}'),
    ('accelerator', 'Accelerator', 'Complete 10 courses', '🚀', 'intermediate', '{"metric": "courses_completed", "gte": 10}'),
    ('skill_collector', 'Skill Collector', 'Acquire 5 skills', '🧩', 'intermediate', '{"metric": "skills_acquired", "gte": 5}'),
    ('consistent_learner', 'Consistent Learner', 'Reach a 30-day streak', '📅', 'intermediate', '{"metric": "longest_streak", "gte": 30}'),
    ('expert', 'Expert', 'Acquire 20 skills', '🎓', 'advanced', '{"metric": "skills_acquired", "gte": 20}'),
    ('visionary', 'Visionary', 'Complete a learning path', '🔭', 'advanced', '{"metric": "paths_completed", "gte": 1}'),
    ('lightning', 'Lightning', 'Reach a 100-day streak', '⚡', 'advanced', '{"metric": "longest_streak", "gte": 100}'),
    ('master', 'Master', 'Master every skill of a domain', '🏆', 'elite', '{"metric": "domains_mastered", "gte": 1}'),
    ('legend', 'Legend', 'Reach a 365-day streak', '👑', 'elite', '{"metric": "longest_streak", "gte": 365}'),
    ('mentor', 'Mentor', 'Help 50 peers', '🤝', 'elite', '{"metric": "peers_helped", "gte": 50}');

CREATE TABLE user_achievements (
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    achievement_id  text NOT NULL REFERENCES achievements (id) ON DELETE CASCADE,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    earned_at       timestamptz NOT NULL,
    source_key      text NOT NULL,
    PRIMARY KEY (user_id, achievement_id)
);
COMMENT ON TABLE user_achievements IS 'Achievements earned, each at most once per user (primary key).';
-- "Who earned this", for org views.
CREATE INDEX user_achievements_org ON user_achievements (organization_id, achievement_id);

SELECT stride_ensure_monthly_partitions('point_transactions', (now() - interval '13 months')::date, (now() + interval '3 months')::date);
CREATE TABLE point_transactions_default PARTITION OF point_transactions DEFAULT;
