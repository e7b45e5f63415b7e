-- The per-request token check as one scalar function: NULL when the token
-- still works, else why not. One rule for both ways a request runs it: as
-- a prepared statement of its own (the service's check outside a
-- transaction), and raised by stride_assert_token in the simple query that
-- opens a request's transaction (BEGIN; assert; identity), so that the
-- check costs no round trip of its own.
CREATE FUNCTION stride_token_refusal(p_user uuid, p_jti uuid, p_org uuid, p_role text)
RETURNS text
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
    -- The reasons are the service's (src/auth/token_check.rs), in this order.
    RETURN CASE
        WHEN user_org IS NULL THEN 'unknown_user'
        WHEN NOT active THEN 'deactivated'
        WHEN revoked THEN 'revoked'
        WHEN user_org <> p_org THEN 'other_organization'
        WHEN NOT held THEN 'role_not_held'
    END;
END $$;
COMMENT ON FUNCTION stride_token_refusal IS 'Checked on every user request: NULL, or why the token no longer works (deactivated user, revoked token, role no longer held, ...).';

-- Raises stride_token:<reason> (SQLSTATE 28000): a simple query's rows are
-- not read back, its errors are.
CREATE FUNCTION stride_assert_token(p_user uuid, p_jti uuid, p_org uuid, p_role text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    refusal text := stride_token_refusal(p_user, p_jti, p_org, p_role);
BEGIN
    IF refusal IS NOT NULL THEN
        RAISE EXCEPTION 'stride_token:%', refusal USING ERRCODE = '28000';
    END IF;
END $$;
COMMENT ON FUNCTION stride_assert_token IS 'The token check folded into the BEGIN of a request''s transaction.';

REVOKE ALL ON FUNCTION stride_token_refusal(uuid, uuid, uuid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION stride_assert_token(uuid, uuid, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stride_token_refusal(uuid, uuid, uuid, text) TO stride_app;
GRANT EXECUTE ON FUNCTION stride_assert_token(uuid, uuid, uuid, text) TO stride_app;
