-- Undo the grants and policies in this database. The role itself is
-- cluster-wide: it is dropped only when no other database still uses it.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT c.relname
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relrowsecurity
    LOOP
        EXECUTE format('ALTER TABLE %I NO FORCE ROW LEVEL SECURITY', r.relname);
        EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', r.relname);
    END LOOP;
    FOR r IN SELECT policyname, tablename FROM pg_policies WHERE schemaname = 'public' LOOP
        EXECUTE format('DROP POLICY %I ON %I', r.policyname, r.tablename);
    END LOOP;
END $$;
GRANT ALL ON FUNCTION stride_ensure_monthly_partitions(regclass, date, date) TO PUBLIC;
GRANT ALL ON FUNCTION stride_drop_monthly_partitions_before(regclass, date) TO PUBLIC;
DROP OWNED BY stride_app;
DROP FUNCTION stride_can_write_org(uuid);
DROP FUNCTION stride_can_see_org(uuid);
DROP FUNCTION stride_can_write_person(uuid, uuid);
DROP FUNCTION stride_can_see_person(uuid, uuid);
DROP FUNCTION stride_role();
DROP FUNCTION stride_org();
DROP FUNCTION stride_user();
DO $$
BEGIN
    DROP ROLE stride_app;
EXCEPTION WHEN dependent_objects_still_exist THEN
    RAISE NOTICE 'role stride_app is still used by another database; kept';
END $$;
