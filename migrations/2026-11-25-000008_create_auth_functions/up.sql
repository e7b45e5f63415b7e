-- The few lookups that must work before a request has an identity (login,
-- refresh) or about the caller's own token (every request). They run as the
-- owner (SECURITY DEFINER) and raise the request's role only for their own
-- statements, then restore it; stride_app may execute them and nothing else
-- of the kind.

-- Runs in every function below: remembers the request role, raises it.
CREATE FUNCTION stride_elevate() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    previous text := coalesce(current_setting('stride.role', true), '');
BEGIN
    PERFORM set_config('stride.role', 'platform_admin', true);
    RETURN previous;
END $$;

-- Credentials and roles of the account with this email (case-insensitive).
CREATE FUNCTION stride_auth_user(p_email text)
RETURNS TABLE (id uuid, organization_id uuid, password_hash text, is_active boolean, roles text[])
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    previous text := stride_elevate();
BEGIN
    RETURN QUERY
        SELECT u.id, u.organization_id, u.password_hash, u.is_active,
               coalesce(array_agg(r.role ORDER BY r.role) FILTER (WHERE r.role IS NOT NULL), '{}')
          FROM users u LEFT JOIN user_roles r ON r.user_id = u.id
         WHERE lower(u.email) = lower(p_email)
         GROUP BY u.id;
    PERFORM set_config('stride.role', previous, true);
END $$;
COMMENT ON FUNCTION stride_auth_user IS 'Login lookup by email; runs before the request has an identity.';

-- State of a user and of one token: active, revoked, roles held now.
CREATE FUNCTION stride_token_status(p_user uuid, p_jti uuid)
RETURNS TABLE (organization_id uuid, is_active boolean, revoked boolean, roles text[])
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    previous text := stride_elevate();
BEGIN
    RETURN QUERY
        SELECT u.organization_id, u.is_active,
               EXISTS (SELECT 1 FROM revoked_tokens t WHERE t.jti = p_jti),
               coalesce(array_agg(r.role ORDER BY r.role) FILTER (WHERE r.role IS NOT NULL), '{}')
          FROM users u LEFT JOIN user_roles r ON r.user_id = u.id
         WHERE u.id = p_user
         GROUP BY u.id;
    PERFORM set_config('stride.role', previous, true);
END $$;
COMMENT ON FUNCTION stride_token_status IS 'Checked on every user request: a deactivated user, a revoked token or a revoked role stops working at once.';

-- Rotates a refresh token: returns the user id, or NULL when the token is
-- unknown, expired or revoked. Presenting an already rotated token revokes
-- its whole family (it was stolen, or replayed).
CREATE FUNCTION stride_rotate_refresh_token(p_hash bytea, p_new_hash bytea, p_expires_at timestamptz)
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    previous text := stride_elevate();
    old refresh_tokens%ROWTYPE;
    fresh uuid;
BEGIN
    SELECT * INTO old FROM refresh_tokens WHERE token_hash = p_hash FOR UPDATE;
    IF NOT FOUND OR old.expires_at <= now() THEN
        PERFORM set_config('stride.role', previous, true);
        RETURN NULL;
    END IF;
    IF old.revoked_at IS NOT NULL OR old.replaced_by IS NOT NULL THEN
        UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE family_id = old.family_id;
        PERFORM set_config('stride.role', previous, true);
        RETURN NULL;
    END IF;
    INSERT INTO refresh_tokens (user_id, token_hash, family_id, expires_at)
    VALUES (old.user_id, p_new_hash, old.family_id, p_expires_at)
    RETURNING id INTO fresh;
    UPDATE refresh_tokens SET replaced_by = fresh WHERE id = old.id;
    PERFORM set_config('stride.role', previous, true);
    RETURN old.user_id;
END $$;
COMMENT ON FUNCTION stride_rotate_refresh_token IS 'Refresh token rotation with reuse detection (family revocation).';

REVOKE ALL ON FUNCTION stride_elevate() FROM PUBLIC;
REVOKE ALL ON FUNCTION stride_auth_user(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION stride_token_status(uuid, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION stride_rotate_refresh_token(bytea, bytea, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stride_auth_user(text) TO stride_app;
GRANT EXECUTE ON FUNCTION stride_token_status(uuid, uuid) TO stride_app;
GRANT EXECUTE ON FUNCTION stride_rotate_refresh_token(bytea, bytea, timestamptz) TO stride_app;
