DROP FUNCTION stride_rotate_refresh_token(bytea, bytea, timestamptz);
DROP FUNCTION stride_token_status(uuid, uuid);
DROP FUNCTION stride_auth_user(text);
DROP FUNCTION stride_elevate();
