-- Catalogue data upserted by the upstream services: courses, lessons,
-- learning paths, skills and what needs them, enrollments.

CREATE TABLE skills (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid REFERENCES organizations (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    domain          text NOT NULL DEFAULT 'general',
    level           text NOT NULL DEFAULT 'beginner' CHECK (level IN ('beginner', 'intermediate', 'advanced')),
    market_demand   double precision CHECK (market_demand BETWEEN 0 AND 1),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE skills IS 'Skills; organization_id NULL means a platform-wide skill. market_demand is an optional catalogue override of the demand factor of skill gaps.';
-- Skills of one domain (the Master achievement, mastery per domain).
CREATE INDEX skills_domain ON skills (domain);
CREATE INDEX skills_org ON skills (organization_id);

CREATE TABLE skill_prerequisites (
    skill_id              uuid NOT NULL REFERENCES skills (id) ON DELETE CASCADE,
    prerequisite_skill_id uuid NOT NULL REFERENCES skills (id) ON DELETE CASCADE,
    PRIMARY KEY (skill_id, prerequisite_skill_id),
    CHECK (skill_id <> prerequisite_skill_id)
);
COMMENT ON TABLE skill_prerequisites IS 'Skill A needs skill B first; feeds the prerequisite-blocking factor of skill gaps.';
-- "Which skills does this one unblock".
CREATE INDEX skill_prerequisites_reverse ON skill_prerequisites (prerequisite_skill_id);

CREATE TABLE courses (
    id                        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id           uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    trainer_id                uuid REFERENCES users (id) ON DELETE SET NULL,
    name                      text NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
    description               text,
    expected_lessons          integer CHECK (expected_lessons >= 0),
    expected_duration_minutes integer CHECK (expected_duration_minutes >= 0),
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE courses IS 'Courses; trainer_id decides which learners a trainer may see (those enrolled in the trainer''s courses).';
-- A trainer''s courses (trainer visibility, trainer analytics).
CREATE INDEX courses_trainer ON courses (trainer_id);
CREATE INDEX courses_org ON courses (organization_id);

CREATE TABLE lessons (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    course_id       uuid NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    title           text NOT NULL DEFAULT '',
    position        integer NOT NULL DEFAULT 0 CHECK (position >= 0),
    created_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE lessons IS 'Lessons ("topics") of a course; velocity counts completed lessons.';
-- A course''s lessons in order.
CREATE INDEX lessons_course ON lessons (course_id, position);

CREATE TABLE learning_paths (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
    description     text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE learning_paths IS 'Ordered sets of courses; completing one earns the Visionary achievement.';
CREATE INDEX learning_paths_org ON learning_paths (organization_id);

CREATE TABLE learning_path_courses (
    path_id   uuid NOT NULL REFERENCES learning_paths (id) ON DELETE CASCADE,
    course_id uuid NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    position  integer NOT NULL DEFAULT 0 CHECK (position >= 0),
    PRIMARY KEY (path_id, course_id)
);
COMMENT ON TABLE learning_path_courses IS 'Courses of a learning path, in order.';
-- Paths a completed course belongs to.
CREATE INDEX learning_path_courses_course ON learning_path_courses (course_id);

CREATE TABLE course_skills (
    course_id        uuid NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    skill_id         uuid NOT NULL REFERENCES skills (id) ON DELETE CASCADE,
    required_mastery smallint NOT NULL DEFAULT 80 CHECK (required_mastery BETWEEN 0 AND 100),
    PRIMARY KEY (course_id, skill_id)
);
COMMENT ON TABLE course_skills IS 'Skills a course teaches and the mastery it requires (SPEC default 80).';
-- Courses teaching a skill (recommendations from skill gaps).
CREATE INDEX course_skills_skill ON course_skills (skill_id);

CREATE TABLE org_priority_skills (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    skill_id        uuid NOT NULL REFERENCES skills (id) ON DELETE CASCADE,
    weight          double precision NOT NULL DEFAULT 1 CHECK (weight BETWEEN 0 AND 1),
    PRIMARY KEY (organization_id, skill_id)
);
COMMENT ON TABLE org_priority_skills IS 'Skills an organization marks as priority: business priority of skill gaps, strategic alignment.';

CREATE TABLE job_role_skills (
    organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    job_role         text NOT NULL CHECK (length(job_role) BETWEEN 1 AND 100),
    skill_id         uuid NOT NULL REFERENCES skills (id) ON DELETE CASCADE,
    required_mastery smallint NOT NULL DEFAULT 80 CHECK (required_mastery BETWEEN 0 AND 100),
    career_impact    double precision NOT NULL DEFAULT 0.5 CHECK (career_impact BETWEEN 0 AND 1),
    PRIMARY KEY (organization_id, job_role, skill_id)
);
COMMENT ON TABLE job_role_skills IS 'What a target job role needs (users.job_role): required mastery and career impact for skill gaps.';

CREATE TABLE enrollments (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    course_id        uuid NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'dropped')),
    progress_percent double precision NOT NULL DEFAULT 0 CHECK (progress_percent BETWEEN 0 AND 100),
    enrolled_at      timestamptz NOT NULL DEFAULT now(),
    last_progress_at timestamptz,
    completed_at     timestamptz,
    dropped_at       timestamptz,
    UNIQUE (user_id, course_id),
    CHECK (status <> 'completed' OR completed_at IS NOT NULL)
);
COMMENT ON TABLE enrollments IS 'Who takes which course, with progress. Derived from enrollment and progress events, or upserted by the catalogue.';
-- A course''s students (trainer analytics, trainer visibility).
CREATE INDEX enrollments_course ON enrollments (course_id, status);
CREATE INDEX enrollments_org ON enrollments (organization_id);
