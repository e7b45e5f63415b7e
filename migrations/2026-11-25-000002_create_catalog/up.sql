-- Catalogue data upserted by the upstream services (idempotent by id):
-- skills and what needs them, courses, lessons, learning paths, enrollments.

CREATE TABLE skills (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid REFERENCES organizations (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    domain          text NOT NULL DEFAULT 'general' CHECK (length(domain) BETWEEN 1 AND 100),
    level           text NOT NULL DEFAULT 'beginner' CHECK (level IN ('beginner', 'intermediate', 'advanced')),
    market_demand   double precision CHECK (market_demand BETWEEN 0 AND 1),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE skills IS 'Skills; organization_id NULL means a platform-wide skill. domain groups skills (mastery per domain, the Master achievement).';
COMMENT ON COLUMN skills.market_demand IS 'Optional catalogue override (0..1) of the market-demand factor of skill gaps; NULL: derived from skill_demand_aggregates.';
-- An organization's own skills (catalogue listing; organization deletion).
CREATE INDEX skills_org ON skills (organization_id) WHERE organization_id IS NOT NULL;
-- Skills of a domain: the Master achievement, mastery progress per domain.
CREATE INDEX skills_domain ON skills (domain, organization_id);
CREATE TRIGGER skills_touch BEFORE UPDATE ON skills
    FOR EACH ROW EXECUTE FUNCTION stride_touch_updated_at();

CREATE TABLE skill_prerequisites (
    skill_id              uuid NOT NULL REFERENCES skills (id) ON DELETE CASCADE,
    prerequisite_skill_id uuid NOT NULL REFERENCES skills (id) ON DELETE CASCADE,
    PRIMARY KEY (skill_id, prerequisite_skill_id),
    CONSTRAINT skill_prerequisites_not_self CHECK (skill_id <> prerequisite_skill_id)
);
COMMENT ON TABLE skill_prerequisites IS 'Skill A needs skill B first; feeds the prerequisite-blocking factor of skill gaps. Longer cycles are not prevented here (the catalogue owns the graph); readers must stop at visited skills.';
-- "Which skills does this one unblock" (prerequisite blocking); cascades.
CREATE INDEX skill_prerequisites_reverse ON skill_prerequisites (prerequisite_skill_id);

CREATE TABLE courses (
    id                        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id           uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    trainer_id                uuid,
    name                      text NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
    description               text,
    expected_lessons          integer CHECK (expected_lessons >= 0),
    expected_duration_minutes integer CHECK (expected_duration_minutes >= 0),
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    -- Target of composite (organization_id, course) references; also an
    -- organization's courses in id order.
    CONSTRAINT courses_org_id UNIQUE (organization_id, id),
    -- The trainer belongs to the course's organization; deleting the person
    -- leaves the course without trainer.
    FOREIGN KEY (organization_id, trainer_id) REFERENCES users (organization_id, id) ON DELETE SET NULL (trainer_id)
);
COMMENT ON TABLE courses IS 'Courses; trainer_id decides which learners a trainer may see (those enrolled in the trainer''s courses).';
COMMENT ON COLUMN courses.expected_lessons IS 'Lessons to complete the course: velocity target and estimated completion date.';
-- A trainer's courses: trainer visibility policy, trainer analytics; clearing trainer_id.
CREATE INDEX courses_trainer ON courses (trainer_id) WHERE trainer_id IS NOT NULL;
CREATE TRIGGER courses_touch BEFORE UPDATE ON courses
    FOR EACH ROW EXECUTE FUNCTION stride_touch_updated_at();

CREATE TABLE lessons (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    course_id       uuid NOT NULL,
    organization_id uuid NOT NULL,
    title           text NOT NULL DEFAULT '' CHECK (length(title) <= 300),
    position        integer NOT NULL DEFAULT 0 CHECK (position >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (organization_id, course_id) REFERENCES courses (organization_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE lessons IS 'Lessons ("topics") of a course; learning velocity counts completed lessons.';
-- A course's lessons in order; cascades from courses.
CREATE INDEX lessons_course ON lessons (course_id, position);
CREATE TRIGGER lessons_touch BEFORE UPDATE ON lessons
    FOR EACH ROW EXECUTE FUNCTION stride_touch_updated_at();

CREATE TABLE learning_paths (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
    description     text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE learning_paths IS 'Ordered sets of courses; completing one counts toward the Visionary achievement.';
-- An organization's paths (catalogue listing; organization deletion).
CREATE INDEX learning_paths_org ON learning_paths (organization_id);
CREATE TRIGGER learning_paths_touch BEFORE UPDATE ON learning_paths
    FOR EACH ROW EXECUTE FUNCTION stride_touch_updated_at();

CREATE TABLE learning_path_courses (
    path_id   uuid NOT NULL REFERENCES learning_paths (id) ON DELETE CASCADE,
    course_id uuid NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    position  integer NOT NULL DEFAULT 0 CHECK (position >= 0),
    PRIMARY KEY (path_id, course_id)
);
COMMENT ON TABLE learning_path_courses IS 'Courses of a learning path, in order.';
-- Paths a just-completed course belongs to (path completion); cascades from courses.
CREATE INDEX learning_path_courses_course ON learning_path_courses (course_id);

CREATE TABLE course_skills (
    course_id        uuid NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    skill_id         uuid NOT NULL REFERENCES skills (id) ON DELETE CASCADE,
    required_mastery smallint NOT NULL DEFAULT 80 CHECK (required_mastery BETWEEN 0 AND 100),
    PRIMARY KEY (course_id, skill_id)
);
COMMENT ON TABLE course_skills IS 'Skills a course teaches and the mastery it requires (SPEC default 80).';
-- Courses teaching a skill: recommendations from skill gaps; cascades from skills.
CREATE INDEX course_skills_skill ON course_skills (skill_id);

CREATE TABLE org_priority_skills (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    skill_id        uuid NOT NULL REFERENCES skills (id) ON DELETE CASCADE,
    weight          double precision NOT NULL DEFAULT 1 CHECK (weight BETWEEN 0 AND 1),
    PRIMARY KEY (organization_id, skill_id)
);
COMMENT ON TABLE org_priority_skills IS 'Skills an organization marks as priority: the business-priority factor of skill gaps and strategic alignment. No row = weight 0.';
-- Cascades from skills.
CREATE INDEX org_priority_skills_skill ON org_priority_skills (skill_id);

CREATE TABLE job_role_skills (
    organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    job_role         text NOT NULL CHECK (length(job_role) BETWEEN 1 AND 100),
    skill_id         uuid NOT NULL REFERENCES skills (id) ON DELETE CASCADE,
    required_mastery smallint NOT NULL DEFAULT 80 CHECK (required_mastery BETWEEN 0 AND 100),
    career_impact    double precision NOT NULL DEFAULT 0.5 CHECK (career_impact BETWEEN 0 AND 1),
    PRIMARY KEY (organization_id, job_role, skill_id)
);
COMMENT ON TABLE job_role_skills IS 'What a target job role needs (users.job_role): required mastery and career impact (0..1, default 0.5 = neutral) for skill gaps.';
-- Cascades from skills.
CREATE INDEX job_role_skills_skill ON job_role_skills (skill_id);

CREATE TABLE enrollments (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id          uuid NOT NULL,
    course_id        uuid NOT NULL,
    organization_id  uuid NOT NULL,
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'dropped')),
    progress_percent double precision NOT NULL DEFAULT 0 CHECK (progress_percent BETWEEN 0 AND 100),
    enrolled_at      timestamptz NOT NULL DEFAULT now(),
    last_progress_at timestamptz,
    completed_at     timestamptz,
    dropped_at       timestamptz,
    -- One enrollment per person and course; also "a person's courses".
    UNIQUE (user_id, course_id),
    CONSTRAINT enrollments_completed_at CHECK (status <> 'completed' OR completed_at IS NOT NULL),
    CONSTRAINT enrollments_dropped_at CHECK (status <> 'dropped' OR dropped_at IS NOT NULL),
    -- Person and course both belong to the enrollment's organization.
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, course_id) REFERENCES courses (organization_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE enrollments IS 'Who takes which course, with status and progress; derived from enrollment and progress events, or upserted by the catalogue.';
COMMENT ON COLUMN enrollments.last_progress_at IS 'occurred_at of the latest progress on this course ("no progress in 7 days", course health).';
-- A course's students by status: trainer analytics, trainer visibility; cascades from courses.
CREATE INDEX enrollments_course ON enrollments (course_id, status);
-- Organization participation and completion rates.
CREATE INDEX enrollments_org ON enrollments (organization_id, status);
