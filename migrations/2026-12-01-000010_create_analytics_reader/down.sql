DROP POLICY stride_read ON learning_path_courses;
DROP POLICY stride_insert ON learning_path_courses;
DROP POLICY stride_update ON learning_path_courses;
DROP POLICY stride_delete ON learning_path_courses;
CREATE POLICY stride_all ON learning_path_courses USING (EXISTS (SELECT 1 FROM learning_paths p WHERE p.id = path_id));
DROP POLICY stride_read ON course_skills;
DROP POLICY stride_insert ON course_skills;
DROP POLICY stride_update ON course_skills;
DROP POLICY stride_delete ON course_skills;
CREATE POLICY stride_all ON course_skills USING (EXISTS (SELECT 1 FROM courses c WHERE c.id = course_id));

DROP POLICY stride_analytics ON analytics_cache;

DROP POLICY stride_read ON enrollments;
CREATE POLICY stride_read ON enrollments FOR SELECT USING (
    CASE stride_role()
        WHEN 'trainer' THEN organization_id = stride_org() AND (user_id = stride_user() OR EXISTS (
            SELECT 1 FROM courses c WHERE c.id = enrollments.course_id AND c.trainer_id = stride_user()))
        ELSE stride_can_write_person(organization_id, user_id)
             OR (stride_role() = 'org_admin' AND organization_id = stride_org())
    END);

CREATE OR REPLACE FUNCTION stride_can_see_org(org uuid) RETURNS boolean LANGUAGE sql STABLE
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

CREATE OR REPLACE FUNCTION stride_can_see_person(org uuid, person uuid) RETURNS boolean LANGUAGE sql STABLE
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

DROP FUNCTION stride_trainer_teaches(uuid);
