-- Defense in depth: the service connects as `stride_app`, a role that owns
-- nothing and cannot bypass row-level security. Each request sets
-- stride.user_id / stride.org_id / stride.role (set_config(..., true)) in its
-- transaction; policies read them. No identity set: no rows.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'stride_app') THEN
        CREATE ROLE stride_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
END $$;
COMMENT ON ROLE stride_app IS 'Runtime role of the Stride service: no ownership, no BYPASSRLS. Login and password are set by `stride serve` (embedded) or by the operator.';

-- The request identity, NULL when unset.
CREATE FUNCTION stride_user() RETURNS uuid LANGUAGE sql STABLE
AS $$ SELECT nullif(current_setting('stride.user_id', true), '')::uuid $$;
CREATE FUNCTION stride_org() RETURNS uuid LANGUAGE sql STABLE
AS $$ SELECT nullif(current_setting('stride.org_id', true), '')::uuid $$;
CREATE FUNCTION stride_role() RETURNS text LANGUAGE sql STABLE
AS $$ SELECT nullif(current_setting('stride.role', true), '') $$;
COMMENT ON FUNCTION stride_role IS 'Active role of the request: learner, trainer, org_admin, platform_admin, or service (upstream service token).';

-- Whether the request may read a row about `person` of organization `org`.
-- Trainers see the learners enrolled in courses they teach.
CREATE FUNCTION stride_can_see_person(org uuid, person uuid) RETURNS boolean LANGUAGE sql STABLE
AS $$
    SELECT CASE stride_role()
        WHEN 'platform_admin' THEN true
        WHEN 'service' THEN stride_org() IS NULL OR org = stride_org()
        WHEN 'org_admin' THEN org = stride_org()
        WHEN 'trainer' THEN org = stride_org() AND (person = stride_user() OR EXISTS (
            SELECT 1 FROM enrollments e JOIN courses c ON c.id = e.course_id
             WHERE e.user_id = person AND c.trainer_id = stride_user()))
        WHEN 'learner' THEN org = stride_org() AND person = stride_user()
        ELSE false
    END
$$;

-- Whether the request may write a row about `person`: services (ingestion)
-- and admins within their scope; people only their own rows.
CREATE FUNCTION stride_can_write_person(org uuid, person uuid) RETURNS boolean LANGUAGE sql STABLE
AS $$
    SELECT CASE stride_role()
        WHEN 'platform_admin' THEN true
        WHEN 'service' THEN stride_org() IS NULL OR org = stride_org()
        WHEN 'org_admin' THEN org = stride_org()
        WHEN 'trainer' THEN org = stride_org() AND person = stride_user()
        WHEN 'learner' THEN org = stride_org() AND person = stride_user()
        ELSE false
    END
$$;

-- Organization-level rows (catalogue, aggregates): members read, services
-- and admins write. `org` NULL marks platform-wide rows (skills, achievements).
CREATE FUNCTION stride_can_see_org(org uuid) RETURNS boolean LANGUAGE sql STABLE
AS $$
    SELECT CASE stride_role()
        WHEN 'platform_admin' THEN true
        WHEN 'service' THEN stride_org() IS NULL OR org IS NULL OR org = stride_org()
        WHEN 'org_admin' THEN org IS NULL OR org = stride_org()
        WHEN 'trainer' THEN org IS NULL OR org = stride_org()
        WHEN 'learner' THEN org IS NULL OR org = stride_org()
        ELSE false
    END
$$;
CREATE FUNCTION stride_can_write_org(org uuid) RETURNS boolean LANGUAGE sql STABLE
AS $$
    SELECT CASE stride_role()
        WHEN 'platform_admin' THEN true
        WHEN 'service' THEN stride_org() IS NULL OR org = stride_org()
        WHEN 'org_admin' THEN org = stride_org()
        ELSE false
    END
$$;

-- Tables about people: (table, organization column, person column).
CREATE TEMPORARY TABLE stride_person_tables (tbl text, org text, person text) ON COMMIT DROP;
INSERT INTO stride_person_tables VALUES
    ('users', 'organization_id', 'id'),
    ('user_roles', 'organization_id', 'user_id'),
    ('user_preferences', 'organization_id', 'user_id'),
    ('event_receipts', 'organization_id', 'user_id'),
    ('learning_events', 'organization_id', 'user_id'),
    ('assessments', 'organization_id', 'user_id'),
    ('user_skills', 'organization_id', 'user_id'),
    ('daily_activity', 'organization_id', 'user_id'),
    ('point_transactions', 'organization_id', 'user_id'),
    ('user_points', 'organization_id', 'user_id'),
    ('streak_freeze_events', 'organization_id', 'user_id'),
    ('user_achievements', 'organization_id', 'user_id'),
    ('analytics_cache', 'organization_id', 'user_id');

-- Organization-level tables: (table, organization column).
CREATE TEMPORARY TABLE stride_org_tables (tbl text, org text) ON COMMIT DROP;
INSERT INTO stride_org_tables VALUES
    ('organizations', 'id'),
    ('departments', 'organization_id'),
    ('courses', 'organization_id'),
    ('lessons', 'organization_id'),
    ('learning_paths', 'organization_id'),
    ('skills', 'organization_id'),
    ('org_priority_skills', 'organization_id'),
    ('job_role_skills', 'organization_id'),
    ('achievements', 'organization_id'),
    ('analytics_history', 'organization_id'),
    ('erasure_audit', 'organization_id');

DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM stride_person_tables LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t.tbl);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t.tbl);
        EXECUTE format('CREATE POLICY stride_read ON %I FOR SELECT USING (stride_can_see_person(%I, %I))', t.tbl, t.org, t.person);
        EXECUTE format('CREATE POLICY stride_insert ON %I FOR INSERT WITH CHECK (stride_can_write_person(%I, %I))', t.tbl, t.org, t.person);
        EXECUTE format('CREATE POLICY stride_update ON %I FOR UPDATE USING (stride_can_write_person(%I, %I)) WITH CHECK (stride_can_write_person(%I, %I))', t.tbl, t.org, t.person, t.org, t.person);
        EXECUTE format('CREATE POLICY stride_delete ON %I FOR DELETE USING (stride_can_write_person(%I, %I))', t.tbl, t.org, t.person);
    END LOOP;
    FOR t IN SELECT * FROM stride_org_tables LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t.tbl);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t.tbl);
        EXECUTE format('CREATE POLICY stride_read ON %I FOR SELECT USING (stride_can_see_org(%I))', t.tbl, t.org);
        EXECUTE format('CREATE POLICY stride_insert ON %I FOR INSERT WITH CHECK (stride_can_write_org(%I))', t.tbl, t.org);
        EXECUTE format('CREATE POLICY stride_update ON %I FOR UPDATE USING (stride_can_write_org(%I)) WITH CHECK (stride_can_write_org(%I))', t.tbl, t.org, t.org);
        EXECUTE format('CREATE POLICY stride_delete ON %I FOR DELETE USING (stride_can_write_org(%I))', t.tbl, t.org);
    END LOOP;
END $$;

-- Enrollments decide what trainers see, so their own policy must not ask
-- stride_can_see_person (which reads enrollments): trainers see the
-- enrollments of the courses they teach, through courses.
ALTER TABLE enrollments ENABLE ROW LEVEL SECURITY;
ALTER TABLE enrollments FORCE ROW LEVEL SECURITY;
CREATE POLICY stride_read ON enrollments FOR SELECT USING (
    CASE stride_role()
        WHEN 'trainer' THEN organization_id = stride_org() AND (user_id = stride_user() OR EXISTS (
            SELECT 1 FROM courses c WHERE c.id = enrollments.course_id AND c.trainer_id = stride_user()))
        ELSE stride_can_write_person(organization_id, user_id)
             OR (stride_role() = 'org_admin' AND organization_id = stride_org())
    END);
CREATE POLICY stride_insert ON enrollments FOR INSERT WITH CHECK (stride_can_write_org(organization_id));
CREATE POLICY stride_update ON enrollments FOR UPDATE USING (stride_can_write_org(organization_id)) WITH CHECK (stride_can_write_org(organization_id));
CREATE POLICY stride_delete ON enrollments FOR DELETE USING (stride_can_write_org(organization_id));

-- Link tables without their own tenant column follow their course/path.
ALTER TABLE course_skills ENABLE ROW LEVEL SECURITY;
ALTER TABLE course_skills FORCE ROW LEVEL SECURITY;
CREATE POLICY stride_all ON course_skills USING (EXISTS (SELECT 1 FROM courses c WHERE c.id = course_id));
ALTER TABLE learning_path_courses ENABLE ROW LEVEL SECURITY;
ALTER TABLE learning_path_courses FORCE ROW LEVEL SECURITY;
CREATE POLICY stride_all ON learning_path_courses USING (EXISTS (SELECT 1 FROM learning_paths p WHERE p.id = path_id));
-- Refresh tokens belong to one user and carry no organization.
ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY stride_all ON refresh_tokens USING (user_id = stride_user() OR stride_role() = 'platform_admin');

-- Privileges: the runtime role gets data access to tables and views, never
-- to partitions directly (their parent's policies would not apply), never to
-- the materialized views (RLS does not apply to them: it reads the
-- tenant_* views instead), and no DDL or partition functions.
GRANT USAGE ON SCHEMA public TO stride_app;
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT c.relname, c.relkind
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public'
           AND c.relkind IN ('r', 'p', 'v')
           AND NOT c.relispartition
           AND c.relname NOT LIKE '\_\_diesel%'
    LOOP
        -- Views and reference data are read-only for the service.
        IF r.relkind = 'v' OR r.relname IN ('time_zones', 'point_rules') THEN
            EXECUTE format('GRANT SELECT ON %I TO stride_app', r.relname);
        ELSE
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO stride_app', r.relname);
        END IF;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION stride_ensure_monthly_partitions(regclass, date, date) FROM PUBLIC;
REVOKE ALL ON FUNCTION stride_drop_monthly_partitions_before(regclass, date) FROM PUBLIC;
