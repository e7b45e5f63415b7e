-- The analytics reader: analytics are aggregates over an organization
-- (course averages, peer percentiles, org comparisons), which no caller's
-- own visibility covers (a learner may not read a peer's rows). The service
-- first checks, under the caller's identity, that the caller may see the
-- subject; then it computes as stride.role = 'analytics' with stride.org_id
-- = the subject's organization: read-only on every tenant table of that one
-- organization (row-level security still keeps other tenants out), and the
-- only role besides the people's own that writes analytics_cache. The
-- answers never carry another person's rows, only aggregates over groups of
-- at least 10.

-- Whether the trainer of the request teaches `person` (enrolled in one of
-- the trainer's courses). Its own function so that stride_can_see_person
-- holds no subquery: PostgreSQL inlines a SQL function only without one,
-- and a policy calling a function that is not inlined runs it as a
-- separate query for every row it checks (the analytics reader reads
-- thousands); now only a trainer's rows pay for the lookup.
CREATE FUNCTION stride_trainer_teaches(person uuid) RETURNS boolean LANGUAGE sql STABLE
AS $$
    SELECT EXISTS (SELECT 1 FROM enrollments e JOIN courses c ON c.id = e.course_id
                    WHERE e.user_id = person AND c.trainer_id = stride_user())
$$;

CREATE OR REPLACE FUNCTION stride_can_see_person(org uuid, person uuid) RETURNS boolean LANGUAGE sql STABLE
AS $$
    SELECT CASE stride_role()
        WHEN 'platform_admin' THEN true
        WHEN 'service' THEN stride_org() IS NULL OR org = stride_org()
        WHEN 'analytics' THEN org = stride_org()
        WHEN 'org_admin' THEN org = stride_org()
        WHEN 'trainer' THEN org = stride_org() AND (person = stride_user() OR stride_trainer_teaches(person))
        WHEN 'learner' THEN org = stride_org() AND person = stride_user()
        ELSE false
    END
$$;

CREATE OR REPLACE FUNCTION stride_can_see_org(org uuid) RETURNS boolean LANGUAGE sql STABLE
AS $$
    SELECT CASE stride_role()
        WHEN 'platform_admin' THEN true
        WHEN 'service' THEN stride_org() IS NULL OR org IS NULL OR org = stride_org()
        WHEN 'analytics' THEN org IS NULL OR org = stride_org()
        WHEN 'org_admin' THEN org IS NULL OR org = stride_org()
        WHEN 'trainer' THEN org IS NULL OR org = stride_org()
        WHEN 'learner' THEN org IS NULL OR org = stride_org()
        ELSE false
    END
$$;

DROP POLICY stride_read ON enrollments;
CREATE POLICY stride_read ON enrollments FOR SELECT USING (
    CASE stride_role()
        WHEN 'trainer' THEN organization_id = stride_org() AND (user_id = stride_user() OR EXISTS (
            SELECT 1 FROM courses c WHERE c.id = enrollments.course_id AND c.trainer_id = stride_user()))
        WHEN 'analytics' THEN organization_id = stride_org()
        ELSE stride_can_write_person(organization_id, user_id)
             OR (stride_role() = 'org_admin' AND organization_id = stride_org())
    END);

-- The reader keeps the cache of its organization (stride.org_id unset:
-- the platform-wide rows, which have no organization).
CREATE POLICY stride_analytics ON analytics_cache FOR ALL
    USING (stride_role() = 'analytics' AND organization_id IS NOT DISTINCT FROM stride_org())
    WITH CHECK (stride_role() = 'analytics' AND organization_id IS NOT DISTINCT FROM stride_org());
COMMENT ON POLICY stride_analytics ON analytics_cache IS 'The analytics reader (stride.role = analytics) reads and writes the cached answers of the one organization it computes for.';

-- The link tables of the catalogue were readable and writable by whoever
-- could see the course or path (one FOR ALL policy); reading stays so,
-- writing now needs the right to write the owning organization's catalogue
-- (services and admins), so neither people nor the analytics reader can
-- change them.
DROP POLICY stride_all ON course_skills;
CREATE POLICY stride_read ON course_skills FOR SELECT
    USING (EXISTS (SELECT 1 FROM courses c WHERE c.id = course_id));
CREATE POLICY stride_insert ON course_skills FOR INSERT
    WITH CHECK (EXISTS (SELECT 1 FROM courses c WHERE c.id = course_id AND stride_can_write_org(c.organization_id)));
CREATE POLICY stride_update ON course_skills FOR UPDATE
    USING (EXISTS (SELECT 1 FROM courses c WHERE c.id = course_id AND stride_can_write_org(c.organization_id)))
    WITH CHECK (EXISTS (SELECT 1 FROM courses c WHERE c.id = course_id AND stride_can_write_org(c.organization_id)));
CREATE POLICY stride_delete ON course_skills FOR DELETE
    USING (EXISTS (SELECT 1 FROM courses c WHERE c.id = course_id AND stride_can_write_org(c.organization_id)));

DROP POLICY stride_all ON learning_path_courses;
CREATE POLICY stride_read ON learning_path_courses FOR SELECT
    USING (EXISTS (SELECT 1 FROM learning_paths p WHERE p.id = path_id));
CREATE POLICY stride_insert ON learning_path_courses FOR INSERT
    WITH CHECK (EXISTS (SELECT 1 FROM learning_paths p WHERE p.id = path_id AND stride_can_write_org(p.organization_id)));
CREATE POLICY stride_update ON learning_path_courses FOR UPDATE
    USING (EXISTS (SELECT 1 FROM learning_paths p WHERE p.id = path_id AND stride_can_write_org(p.organization_id)))
    WITH CHECK (EXISTS (SELECT 1 FROM learning_paths p WHERE p.id = path_id AND stride_can_write_org(p.organization_id)));
CREATE POLICY stride_delete ON learning_path_courses FOR DELETE
    USING (EXISTS (SELECT 1 FROM learning_paths p WHERE p.id = path_id AND stride_can_write_org(p.organization_id)));
