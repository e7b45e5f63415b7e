-- Back to the policies that call the inlined functions per row.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
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
        ('analytics_cache', 'organization_id', 'user_id')
    ) AS p(tbl, org, person) LOOP
        EXECUTE format('ALTER POLICY stride_read ON %I USING (stride_can_see_person(%I, %I))', t.tbl, t.org, t.person);
        EXECUTE format('ALTER POLICY stride_insert ON %I WITH CHECK (stride_can_write_person(%I, %I))', t.tbl, t.org, t.person);
        EXECUTE format('ALTER POLICY stride_update ON %I USING (stride_can_write_person(%I, %I)) WITH CHECK (stride_can_write_person(%I, %I))', t.tbl, t.org, t.person, t.org, t.person);
        EXECUTE format('ALTER POLICY stride_delete ON %I USING (stride_can_write_person(%I, %I))', t.tbl, t.org, t.person);
    END LOOP;
    FOR t IN SELECT * FROM (VALUES
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
        ('erasure_audit', 'organization_id')
    ) AS o(tbl, org) LOOP
        EXECUTE format('ALTER POLICY stride_read ON %I USING (stride_can_see_org(%I))', t.tbl, t.org);
        EXECUTE format('ALTER POLICY stride_insert ON %I WITH CHECK (stride_can_write_org(%I))', t.tbl, t.org);
        EXECUTE format('ALTER POLICY stride_update ON %I USING (stride_can_write_org(%I)) WITH CHECK (stride_can_write_org(%I))', t.tbl, t.org, t.org);
        EXECUTE format('ALTER POLICY stride_delete ON %I USING (stride_can_write_org(%I))', t.tbl, t.org);
    END LOOP;
END $$;

ALTER POLICY stride_read ON enrollments USING (
    CASE stride_role()
        WHEN 'trainer' THEN organization_id = stride_org() AND (user_id = stride_user() OR EXISTS (
            SELECT 1 FROM courses c WHERE c.id = enrollments.course_id AND c.trainer_id = stride_user()))
        WHEN 'analytics' THEN organization_id = stride_org()
        ELSE stride_can_write_person(organization_id, user_id)
             OR (stride_role() = 'org_admin' AND organization_id = stride_org())
    END);
ALTER POLICY stride_insert ON enrollments WITH CHECK (stride_can_write_org(organization_id));
ALTER POLICY stride_update ON enrollments USING (stride_can_write_org(organization_id)) WITH CHECK (stride_can_write_org(organization_id));
ALTER POLICY stride_delete ON enrollments USING (stride_can_write_org(organization_id));
