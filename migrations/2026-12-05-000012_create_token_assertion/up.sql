-- The token check of stride_token_status as an assertion that can share
-- the simple query that opens a request's transaction (BEGIN; assert;
-- identity): one round trip instead of two, on the same connection. It
-- raises instead of returning rows because a simple query's rows are not
-- read back; the message names the reason for the service to map.
CREATE FUNCTION stride_assert_token(p_user uuid, p_jti uuid, p_org uuid, p_role text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    previous text := stride_elevate();
    user_org uuid;
    active boolean;
    revoked boolean;
    held boolean;
BEGIN
    SELECT u.organization_id, u.is_active,
           EXISTS (SELECT 1 FROM revoked_tokens t WHERE t.jti = p_jti),
           EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role = p_role)
      INTO user_org, active, revoked, held
      FROM users u
     WHERE u.id = p_user;
    PERFORM set_config('stride.role', previous, true);
    -- The order matches the service's own check (src/auth/token_check.rs).
    IF user_org IS NULL THEN
        RAISE EXCEPTION 'stride_token:unknown_user' USING ERRCODE = '28000';
    ELSIF NOT active THEN
        RAISE EXCEPTION 'stride_token:deactivated' USING ERRCODE = '28000';
    ELSIF revoked THEN
        RAISE EXCEPTION 'stride_token:revoked' USING ERRCODE = '28000';
    ELSIF user_org <> p_org THEN
        RAISE EXCEPTION 'stride_token:other_organization' USING ERRCODE = '28000';
    ELSIF NOT held THEN
        RAISE EXCEPTION 'stride_token:role_not_held' USING ERRCODE = '28000';
    END IF;
END $$;
COMMENT ON FUNCTION stride_assert_token IS 'The per-request token check folded into the BEGIN of the request''s transaction; raises stride_token:<reason> (SQLSTATE 28000) when the token no longer works.';

REVOKE ALL ON FUNCTION stride_assert_token(uuid, uuid, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stride_assert_token(uuid, uuid, uuid, text) TO stride_app;
