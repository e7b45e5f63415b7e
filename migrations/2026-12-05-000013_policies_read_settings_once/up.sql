-- The tenant policies with the request's identity read once per statement.
--
-- The policies of create_row_level_security call stride_can_see_person and
-- friends, SQL functions PostgreSQL inlines; inlined, their
-- current_setting() calls (and the text-to-uuid casts) run for every row a
-- statement checks: half the time of a batch's read of its people's active
-- days (10,000 rows). Written into the policy as scalar subqueries, the
-- settings become init plans, evaluated once per statement. (The same
-- subqueries inside the functions would stop their inlining, which is far
-- worse.) The rules are the functions' own, unchanged; the functions stay
-- for the policies not rewritten here.

CREATE FUNCTION stride_person_read_policy(org text, person text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT format($p$CASE (SELECT stride_role())
        WHEN 'platform_admin' THEN true
        WHEN 'service' THEN (SELECT stride_org()) IS NULL OR %1$I = (SELECT stride_org())
        WHEN 'analytics' THEN %1$I = (SELECT stride_org())
        WHEN 'org_admin' THEN %1$I = (SELECT stride_org())
        WHEN 'trainer' THEN %1$I = (SELECT stride_org()) AND (%2$I = (SELECT stride_user()) OR stride_trainer_teaches(%2$I))
        WHEN 'learner' THEN %1$I = (SELECT stride_org()) AND %2$I = (SELECT stride_user())
        ELSE false
    END$p$, org, person)
$$;

CREATE FUNCTION stride_person_write_policy(org text, person text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT format($p$CASE (SELECT stride_role())
        WHEN 'platform_admin' THEN true
        WHEN 'service' THEN (SELECT stride_org()) IS NULL OR %1$I = (SELECT stride_org())
        WHEN 'org_admin' THEN %1$I = (SELECT stride_org())
        WHEN 'trainer' THEN %1$I = (SELECT stride_org()) AND %2$I = (SELECT stride_user())
        WHEN 'learner' THEN %1$I = (SELECT stride_org()) AND %2$I = (SELECT stride_user())
        ELSE false
    END$p$, org, person)
$$;

CREATE FUNCTION stride_org_read_policy(org text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT format($p$CASE (SELECT stride_role())
        WHEN 'platform_admin' THEN true
        WHEN 'service' THEN (SELECT stride_org()) IS NULL OR %1$I IS NULL OR %1$I = (SELECT stride_org())
        WHEN 'analytics' THEN %1$I IS NULL OR %1$I = (SELECT stride_org())
        WHEN 'org_admin' THEN %1$I IS NULL OR %1$I = (SELECT stride_org())
        WHEN 'trainer' THEN %1$I IS NULL OR %1$I = (SELECT stride_org())
        WHEN 'learner' THEN %1$I IS NULL OR %1$I = (SELECT stride_org())
        ELSE false
    END$p$, org)
$$;

CREATE FUNCTION stride_org_write_policy(org text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT format($p$CASE (SELECT stride_role())
        WHEN 'platform_admin' THEN true
        WHEN 'service' THEN (SELECT stride_org()) IS NULL OR %1$I = (SELECT stride_org())
        WHEN 'org_admin' THEN %1$I = (SELECT stride_org())
        ELSE false
    END$p$, org)
$$;

DO $$
DECLARE
    t record;
    see text;
    write text;
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
        see := stride_person_read_policy(t.org, t.person);
        write := stride_person_write_policy(t.org, t.person);
        EXECUTE format('ALTER POLICY stride_read ON %I USING (%s)', t.tbl, see);
        EXECUTE format('ALTER POLICY stride_insert ON %I WITH CHECK (%s)', t.tbl, write);
        EXECUTE format('ALTER POLICY stride_update ON %I USING (%s) WITH CHECK (%s)', t.tbl, write, write);
        EXECUTE format('ALTER POLICY stride_delete ON %I USING (%s)', t.tbl, write);
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
        see := stride_org_read_policy(t.org);
        write := stride_org_write_policy(t.org);
        EXECUTE format('ALTER POLICY stride_read ON %I USING (%s)', t.tbl, see);
        EXECUTE format('ALTER POLICY stride_insert ON %I WITH CHECK (%s)', t.tbl, write);
        EXECUTE format('ALTER POLICY stride_update ON %I USING (%s) WITH CHECK (%s)', t.tbl, write, write);
        EXECUTE format('ALTER POLICY stride_delete ON %I USING (%s)', t.tbl, write);
    END LOOP;
END $$;

-- Enrollments decide what trainers see and have policies of their own
-- (create_analytics_reader's read policy); the same rules, settings once.
DO $$
DECLARE
    write text := stride_person_write_policy('organization_id', 'user_id');
    org_write text := stride_org_write_policy('organization_id');
BEGIN
    EXECUTE format($p$ALTER POLICY stride_read ON enrollments USING (
        CASE (SELECT stride_role())
            WHEN 'trainer' THEN organization_id = (SELECT stride_org()) AND (user_id = (SELECT stride_user()) OR EXISTS (
                SELECT 1 FROM courses c WHERE c.id = enrollments.course_id AND c.trainer_id = (SELECT stride_user())))
            WHEN 'analytics' THEN organization_id = (SELECT stride_org())
            ELSE (%s) OR ((SELECT stride_role()) = 'org_admin' AND organization_id = (SELECT stride_org()))
        END)$p$, write);
    EXECUTE format('ALTER POLICY stride_insert ON enrollments WITH CHECK (%s)', org_write);
    EXECUTE format('ALTER POLICY stride_update ON enrollments USING (%s) WITH CHECK (%s)', org_write, org_write);
    EXECUTE format('ALTER POLICY stride_delete ON enrollments USING (%s)', org_write);
END $$;

-- Only this migration builds policies from them.
DROP FUNCTION stride_person_read_policy(text, text);
DROP FUNCTION stride_person_write_policy(text, text);
DROP FUNCTION stride_org_read_policy(text);
DROP FUNCTION stride_org_write_policy(text);
